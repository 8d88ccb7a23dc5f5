"""Recommendation requests: whom to recommend for (known, folded-in or unknown users) and which items each may get.

:func:`build_request` turns validated ids into a :class:`Request`:

* users seen in ``fit`` are scored with their fitted vectors (``seen`` items excluded);
* users given a ``history`` are folded in (:mod:`skrec._fold_in`), their history excluded;
  new users described by a ``users`` frame start the fold-in from their features' vector
  (:mod:`skrec._new_ids`), which is their whole vector when they have no history;
* new items described by an ``items`` frame join the catalogue for this request, scored from
  their features;
* users with none of these get the most popular items (number of users who interacted with each
  item in ``fit``), unless the caller asked for an error;
* ``candidates`` restricts every user to some items, ``exclude`` pairs (user, item) or items
  for everyone are left out; none of these builds a dense users x items matrix.

:func:`answer` runs it: keras-rs retrieval for the scored users, a popularity ranking for the
others.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from skrec._fold_in import fold_in
from skrec._keras import keras
from skrec._new_ids import extended_codes
from skrec._retrieval import top_k, user_vectors
from skrec._warnings import warn
from skrec.exceptions import ColdStartWarning

__all__ = ["Request", "build_request", "answer", "folded_users"]


@dataclass
class Request:
    """The users of one ``recommend`` call, in output order, and what each may get.

    Item codes past the fitted catalogue (``>= model.n_items``) are the new items of
    ``new_items``.

    Attributes
    ----------
    user_ids : pandas.Index
        Known users (in ``users_`` order), then folded-in users, then users without anything.
    codes : ndarray of int
        Model row of each known user (the first ``len(codes)`` requests).
    folded : ndarray of shape (n_folded, dim)
        Vectors of the folded-in users, who come next.
    excluded : scipy.sparse.csr_matrix of shape (n_requests, n_items + n_new_items)
        Items each request must not get.
    candidates : ndarray of int or None
        Sorted codes of the items that may be recommended; None for all.
    new_items : NewIds or None
        Items absent from ``fit`` that an ``items`` frame describes.
    folded_seen : scipy.sparse.csr_matrix of shape (n_folded, n_items) or None
        The fitted catalogue's items in each folded-in user's history.
    """

    user_ids: pd.Index
    codes: np.ndarray
    folded: np.ndarray
    excluded: sp.csr_matrix
    candidates: np.ndarray
    new_items: object = None
    folded_seen: sp.csr_matrix = None

    @property
    def n_scored(self):
        return len(self.codes) + len(self.folded)


@dataclass
class _Items:
    """Item ids to codes for one request: the fitted catalogue, then its new items."""

    interactions: object
    new: object

    @property
    def n(self):
        return len(self.interactions.items) + (0 if self.new is None else len(self.new.index))

    def codes(self, ids):
        fitted = self.interactions.items
        return extended_codes(fitted.transform(ids), ids, self.new, len(fitted))


def build_request(model, interactions, user_ids, *, exclude_seen, history, candidates, exclude, lam, lam_count=None, new_users=None, new_items=None):
    """A :class:`Request` for validated, distinct ``user_ids``.

    ``history`` is ``(user_ids, item_ids, scaled ratings)`` of new users or None; ``candidates``
    item ids or None; ``exclude`` is ``(user_ids or None, item_ids)``: pairs, or items left out
    for everyone when the user ids are None; ``new_users`` and ``new_items`` are the
    :class:`skrec._new_ids.NewIds` of the serving frames, or None; ``lam`` and ``lam_count``
    are :func:`fold_in`'s ``lam`` and ``count``.
    """
    items = _Items(interactions, new_items)
    codes = interactions.users.transform(user_ids)
    known = pd.Index(user_ids[codes >= 0])
    order = np.argsort(codes[codes >= 0], kind="stable")
    known, known_codes = known[order], np.sort(codes[codes >= 0])
    new = pd.Index(user_ids[codes < 0]).sort_values()
    folded_ids, folded, _, history_pairs = _folded(model, items, new, history, (lam, lam_count), new_users)
    others = new.difference(folded_ids, sort=False)
    ids = known.append(folded_ids).append(others)
    allowed = _allowed(items, candidates, exclude)
    excluded = _excluded(items, ids, known_codes, history_pairs, exclude_seen, exclude)
    return Request(ids, known_codes, folded, excluded, allowed, new_items, _folded_seen(history_pairs, len(folded_ids), model.n_items))


def folded_users(model, interactions, user_ids, history, ridge, new_users=None, new_items=None):
    """``(ids, vectors, biases, seen)`` of the users of ``user_ids`` unknown to ``fit`` that ``history`` (or ``new_users``) describes.

    ``history`` is ``(user_ids, item_ids, scaled ratings)`` or None; ``ridge`` is
    ``(lam, count)`` of :func:`fold_in`. The vectors and biases are :func:`fold_in`'s;
    ``seen`` is the binary CSR (folded users x fitted items) of their histories.
    """
    new = pd.Index(pd.unique(user_ids[interactions.users.transform(user_ids) < 0]))
    ids, vectors, biases, pairs = _folded(model, _Items(interactions, new_items), new, history, ridge, new_users)
    return ids, vectors, biases, _folded_seen(pairs, len(ids), model.n_items)


def _folded_seen(history_pairs, n_folded, n_items):
    """Binary CSR (folded users x fitted items) of the folded-in users' histories (new items left out)."""
    rows, codes = history_pairs
    fitted = codes < n_items
    seen = sp.csr_matrix((np.ones(fitted.sum(), dtype=bool), (rows[fitted], codes[fitted])), shape=(n_folded, n_items))
    seen.sum_duplicates()
    return seen


def _folded(model, items, new, history, ridge, new_users):
    """Ids, vectors and rating biases of the new users who have a history or features, and their history as (row, item) pairs.

    A user's features give the vector the fold-in starts from (see :func:`fold_in`'s ``base``);
    the history's items of the catalogue and the call's new items fold in (new ones through
    their ratings only: they have no SVD++ row) and are excluded. ``ridge`` is ``(lam, count)``.
    """
    users, item_ids, scaled = history if history is not None else (np.zeros(0), np.zeros(0), np.zeros(0))
    codes, rows = items.codes(item_ids), pd.Index(new).get_indexer(users)
    usable = (rows >= 0) & (codes >= 0)  # items of the catalogue or new items of this call
    described = np.zeros(len(new), bool) if new_users is None else new_users.index.get_indexer(new) >= 0
    folded_ids = new[np.union1d(rows[usable], np.flatnonzero(described)).astype(int)]
    if not len(folded_ids):
        return folded_ids, np.zeros((0, model.embedding_dim), np.float32), np.zeros(0, np.float32), (np.zeros(0, int), np.zeros(0, int))
    rows = pd.Index(folded_ids).get_indexer(users)
    base = None if new_users is None else _feature_vectors(model, new_users, folded_ids)
    new_rows = None if items.new is None else items.new.rows
    lam, count = ridge
    vectors, biases = fold_in(model, len(folded_ids), rows[usable], codes[usable], scaled[usable], lam, base, new_rows, count, return_bias=True)
    if not vectors.any(axis=1).all():
        warn(
            "Users folded in from a history got a zero vector: the model has no SVD++ term (implicit_feedback=False) "
            "and no rated history refined it through a dot rating head, so their lists are not personalised.",
            ColdStartWarning,
        )
    return folded_ids, vectors, biases, (rows[usable], codes[usable])


def _feature_vectors(model, new_users, ids):
    """The features' part of the vectors of ``ids`` (zero for those without features)."""
    position = new_users.index.get_indexer(ids)
    vectors = np.zeros((len(ids), model.embedding_dim), np.float32)
    vectors[position >= 0] = keras.ops.convert_to_numpy(model.user_vectors_of_rows(new_users.rows[position[position >= 0]]))
    return vectors


def _allowed(items, candidates, exclude):
    """Sorted codes of the items that may be recommended, None for every item."""
    if candidates is None and (exclude is None or exclude[0] is not None):
        return None
    allowed = np.arange(items.n)
    if candidates is not None:
        codes = items.codes(candidates)
        allowed = np.unique(codes[codes >= 0])
    if exclude is not None and exclude[0] is None:
        allowed = np.setdiff1d(allowed, items.codes(exclude[1]))
    return allowed


def _excluded(items, ids, known_codes, history_pairs, exclude_seen, exclude):
    """CSR (requests x items) of the items each request must not get."""
    blocks = []
    if exclude_seen:
        seen = items.interactions.seen[known_codes].tocoo()
        blocks.append((seen.row, seen.col))
        rows, codes = history_pairs
        blocks.append((rows + len(known_codes), codes))
    if exclude is not None and exclude[0] is not None:
        rows, codes = ids.get_indexer(exclude[0]), items.codes(exclude[1])
        keep = (rows >= 0) & (codes >= 0)
        blocks.append((rows[keep], codes[keep]))
    rows = np.concatenate([b[0] for b in blocks] + [np.zeros(0, int)])
    codes = np.concatenate([b[1] for b in blocks] + [np.zeros(0, int)])
    matrix = sp.csr_matrix((np.ones(len(rows), dtype=bool), (rows, codes)), shape=(len(ids), items.n))
    matrix.sum_duplicates()
    return matrix


def answer(model, interactions, request, k, rating_blend):
    """``(request rows, ranks, item codes, scores)`` of a :class:`Request`, rows in order.

    Scored users get the model's score; the others (the last requests) the number of users
    who interacted with the item in ``fit``.
    """
    known, n = len(request.codes), request.n_scored

    def vectors(start, stop):
        parts = []
        if start < known:
            parts.append(user_vectors(model, request.codes[start : min(stop, known)], interactions.seen))
        if stop > known:
            parts.append(request.folded[max(start, known) - known : stop - known])
        return np.concatenate(parts)

    def seen(start, stop):
        rows = sp.vstack([interactions.seen[request.codes[start : min(stop, known)]], request.folded_seen[max(start, known) - known : max(stop - known, 0)]])
        return rows.toarray().astype(np.float32)

    new_rows = None if request.new_items is None else request.new_items.rows
    history_rows = seen if model.item_item_weight else None  # for the item-item term
    scored = top_k(model, k, vectors, n, request.excluded[:n], rating_blend, request.candidates, new_rows, history_rows)
    popular = _popular(interactions, request, k)
    return tuple(np.concatenate([a, b]) for a, b in zip(scored, popular))


def _popular(interactions, request, k):
    """The most popular allowed items of each request past the scored ones (new items count 0)."""
    rows = np.arange(request.n_scored, len(request.user_ids))
    if not len(rows):
        return tuple(np.zeros(0, dtype) for dtype in ("int64", "int64", "int64", "float32"))
    counts = interactions.popularity()
    counts = np.concatenate([counts, np.zeros(request.excluded.shape[1] - len(counts), counts.dtype)])
    allowed = np.arange(len(counts)) if request.candidates is None else request.candidates
    ranked = allowed[np.argsort(-counts[allowed], kind="stable")]
    parts = []
    for row in rows:
        items = ranked[~np.isin(ranked, request.excluded[row].indices)][:k]
        parts.append((np.full(len(items), row), np.arange(1, len(items) + 1), items))
    row, rank, item = (np.concatenate(column) for column in zip(*parts))
    return row, rank, item, counts[item].astype("float32")
