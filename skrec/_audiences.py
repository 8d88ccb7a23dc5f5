"""Audiences: for given items, the users who score highest under ``recommend``'s score, scored in chunks of users."""

import numpy as np

from skrec._keras import keras
from skrec._retrieval import SCORE_BUDGET, USER_CHUNK, user_vectors

__all__ = ["audiences"]


def audiences(model, seen, item_codes, user_codes, k, rating_blend, *, exclude_seen=True, new_rows=None):
    """Top-``k`` (request position, rank, user code, score) rows of each requested item, best first.

    Parameters
    ----------
    model : MultiTaskModel
    seen : scipy.sparse.csr_matrix of shape (n_users, n_items)
        The pairs of ``fit``: the SVD++ and item-item histories, and what ``exclude_seen`` leaves out.
    item_codes : ndarray of int
        The requested items: fitted codes below ``model.n_items``, ``n_items + j`` for ``new_rows[j]``.
    user_codes : ndarray of int
        The users that may be returned (fitted codes), at least ``k`` of them.
    rating_blend : float
        Weight of the predicted rating in the score (see ``MultiTaskModel.query_embeddings``).
    new_rows : ndarray of shape (n_new, table width) or None
        Table rows of items absent from ``fit`` (see ``skrec._new_ids``).

    The score of (user, item) is the one ``recommend`` ranks the user's items by: the query of
    the user (with its history, for the item-item term) times the item's candidate vector.
    Users are scored in chunks, each of at most ``SCORE_BUDGET`` scores (and history rows),
    and each item keeps its best ``k`` so far, so memory does not grow with the users' number.
    """
    items = _candidates(model, item_codes, rating_blend, new_rows)
    fitted = np.where(item_codes < model.n_items, item_codes, 0)
    width = max(len(item_codes), model.n_items if model.item_item_weight else 1)
    size = max(1, min(USER_CHUNK, SCORE_BUDGET // width))
    best_scores = np.full((len(item_codes), 0), -np.inf, "float32")
    best_users = np.zeros((len(item_codes), 0), np.int64)
    for start in range(0, len(user_codes), size):
        codes = user_codes[start : start + size]
        rows = seen[codes]
        scores = _queries(model, seen, codes, rows, rating_blend) @ items.T  # (users, items)
        if exclude_seen:
            scores[(rows[:, fitted].toarray() > 0) & (item_codes < model.n_items)] = -np.inf
        best_scores, best_users = _best(np.hstack([best_scores, scores.T]), np.hstack([best_users, np.broadcast_to(codes, scores.T.shape)]), k)
    kept = np.isfinite(best_scores)
    rows = np.broadcast_to(np.arange(len(item_codes))[:, None], kept.shape)[kept]
    ranks = np.cumsum(kept, axis=1)[kept]
    return rows, ranks, best_users[kept], best_scores[kept]


def _candidates(model, item_codes, rating_blend, new_rows):
    """The candidate vectors of the requested items, shape ``(len(item_codes), width)``."""
    item_item = bool(model.item_item_weight)
    vectors = keras.ops.convert_to_numpy(model.candidate_embeddings(rating_blend, item_item=item_item))
    if new_rows is not None:
        new = keras.ops.convert_to_numpy(model.candidate_embeddings(rating_blend, rows=new_rows, item_item=item_item))
        vectors = np.concatenate([vectors, new])
    return vectors[item_codes]


def _queries(model, seen, codes, rows, rating_blend):
    """The query vectors of users ``codes``, whose rows of ``seen`` are ``rows`` (their history, for the item-item term)."""
    history = rows.toarray().astype("float32") if model.item_item_weight else None
    queries = model.query_embeddings(keras.ops.convert_to_tensor(user_vectors(model, codes, seen)), rating_blend, history)
    return keras.ops.convert_to_numpy(queries)


def _best(scores, users, k):
    """Each row's ``k`` best ``(scores, users)``, best first; of equal scores, the lower user code first."""
    order = np.lexsort((users, -scores))[:, :k]
    return np.take_along_axis(scores, order, 1), np.take_along_axis(users, order, 1)
