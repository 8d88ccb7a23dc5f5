"""Recommendation requests: whom to recommend for (known, folded-in or unknown users) and which items each may get.

:func:`build_request` turns validated ids into a :class:`Request`:

* users seen in ``fit`` are scored with their fitted vectors (``seen`` items excluded);
* users given a ``history`` are folded in (:mod:`skrec._fold_in`), their history excluded;
* users with neither get the most popular items (number of users who interacted with each
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
from skrec._retrieval import top_k, user_vectors

__all__ = ["Request", "build_request", "answer"]


@dataclass
class Request:
    """The users of one ``recommend`` call, in output order, and what each may get.

    Attributes
    ----------
    user_ids : pandas.Index
        Known users (in ``users_`` order), then folded-in users, then users without anything.
    codes : ndarray of int
        Model row of each known user (the first ``len(codes)`` requests).
    folded : ndarray of shape (n_folded, dim)
        Vectors of the folded-in users, who come next.
    excluded : scipy.sparse.csr_matrix of shape (n_requests, n_items)
        Items each request must not get.
    candidates : ndarray of int or None
        Sorted codes of the items that may be recommended; None for all.
    """

    user_ids: pd.Index
    codes: np.ndarray
    folded: np.ndarray
    excluded: sp.csr_matrix
    candidates: np.ndarray

    @property
    def n_scored(self):
        return len(self.codes) + len(self.folded)


def build_request(model, interactions, user_ids, *, exclude_seen, history, candidates, exclude, lam):
    """A :class:`Request` for validated, distinct ``user_ids``.

    ``history`` is ``(user_ids, item_ids, scaled ratings)`` of new users or None; ``candidates``
    item ids or None; ``exclude`` is ``(user_ids or None, item_ids)``: pairs, or items left out
    for everyone when the user ids are None.
    """
    codes = interactions.users.transform(user_ids)
    known = pd.Index(user_ids[codes >= 0])
    order = np.argsort(codes[codes >= 0], kind="stable")
    known, known_codes = known[order], np.sort(codes[codes >= 0])
    new = pd.Index(user_ids[codes < 0]).sort_values()
    folded_ids, folded, history_pairs = _folded(model, interactions, new, history, lam)
    others = new.difference(folded_ids, sort=False)
    ids = known.append(folded_ids).append(others)
    allowed = _allowed(interactions, candidates, exclude)
    excluded = _excluded(interactions, ids, known_codes, history_pairs, exclude_seen, exclude)
    return Request(ids, known_codes, folded, excluded, allowed)


def _folded(model, interactions, new, history, lam):
    """Vectors of the new users who have a history, and their history as (row, item) pairs."""
    empty = (pd.Index([], dtype=new.dtype), np.zeros((0, model.embedding_dim), np.float32), (np.zeros(0, int), np.zeros(0, int)))
    if history is None or not len(new):
        return empty
    users, items, scaled = history
    item_codes = interactions.items.transform(items)
    rows = pd.Index(new).get_indexer(users)
    keep = (rows >= 0) & (item_codes >= 0)  # items unknown to the model cannot be folded in
    folded_ids = new[np.unique(rows[keep])]
    rows = pd.Index(folded_ids).get_indexer(users[keep])
    vectors = fold_in(model, len(folded_ids), rows, item_codes[keep], scaled[keep], lam)
    return folded_ids, vectors, (rows, item_codes[keep])


def _allowed(interactions, candidates, exclude):
    """Sorted codes of the items that may be recommended, None for every item."""
    if candidates is None and (exclude is None or exclude[0] is not None):
        return None
    allowed = np.arange(len(interactions.items))
    if candidates is not None:
        codes = interactions.items.transform(candidates)
        allowed = np.unique(codes[codes >= 0])
    if exclude is not None and exclude[0] is None:
        allowed = np.setdiff1d(allowed, interactions.items.transform(exclude[1]))
    return allowed


def _excluded(interactions, ids, known_codes, history_pairs, exclude_seen, exclude):
    """CSR (requests x items) of the items each request must not get."""
    n_items = len(interactions.items)
    blocks = []
    if exclude_seen:
        seen = interactions.seen[known_codes].tocoo()
        blocks.append((seen.row, seen.col))
        rows, items = history_pairs
        blocks.append((rows + len(known_codes), items))
    if exclude is not None and exclude[0] is not None:
        rows, items = ids.get_indexer(exclude[0]), interactions.items.transform(exclude[1])
        keep = (rows >= 0) & (items >= 0)
        blocks.append((rows[keep], items[keep]))
    rows = np.concatenate([b[0] for b in blocks] + [np.zeros(0, int)])
    items = np.concatenate([b[1] for b in blocks] + [np.zeros(0, int)])
    matrix = sp.csr_matrix((np.ones(len(rows), dtype=bool), (rows, items)), shape=(len(ids), n_items))
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

    scored = top_k(model, k, vectors, n, request.excluded[:n], rating_blend, request.candidates)
    popular = _popular(interactions, request, k)
    return tuple(np.concatenate([a, b]) for a, b in zip(scored, popular))


def _popular(interactions, request, k):
    """The most popular allowed items of each request past the scored ones."""
    rows = np.arange(request.n_scored, len(request.user_ids))
    if not len(rows):
        return tuple(np.zeros(0, dtype) for dtype in ("int64", "int64", "int64", "float32"))
    allowed = np.arange(len(interactions.items)) if request.candidates is None else request.candidates
    popularity = interactions.popularity()[allowed]
    ranked = allowed[np.argsort(-popularity, kind="stable")]
    parts = []
    for row in rows:
        items = ranked[~np.isin(ranked, request.excluded[row].indices)][:k]
        parts.append((np.full(len(items), row), np.arange(1, len(items) + 1), items))
    row, rank, item = (np.concatenate(column) for column in zip(*parts))
    return row, rank, item, interactions.popularity()[item].astype("float32")
