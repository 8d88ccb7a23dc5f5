"""Explanations: a (user, item) score of ``recommend`` split exactly into the parts of the model that make it.

``recommend`` ranks by ``query(v_u) . candidate(i)``, which is linear in the user vector
``v_u`` (the retrieval logit's user map is a linear map, the rating term is ``v_u . x_i``):
the score is ``v_u . g_i + c_i`` plus the item-item term ``weight * sum_{j in N(u)} B[j, i]``,
with ``g_i`` and ``c_i`` read off the model's own query and candidate vectors. The user vector
is a sum of parts (the user's own row, its side features, and the SVD++ term
``|N(u)|^-1/2 sum_{j in N(u)} y_j`` of its history), so each history item ``j`` contributes
``|N(u)|^-1/2 y_j . g_i + weight * B[j, i]`` and the parts add up to the score.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from skrec._interactions import implicit_weights
from skrec._keras import keras

__all__ = ["UserParts", "explanation_frame"]


@dataclass
class UserParts:
    """The parts of some users' vectors: named non-history parts and the history's items.

    Attributes
    ----------
    parts : dict of str to ndarray of shape (n_users, dim)
        The user vector's parts other than the SVD++ term (``"user"``, ``"user features"``).
    history : scipy.sparse.csr_matrix of shape (n_users, n_items)
        Each user's history among the fitted items (nonzero = in the history).
    """

    parts: dict
    history: object


def explanation_frame(model, users, rows, items, blend, k, cols):
    """The long frame of ``explain``: one row per (pair, part), the parts of each pair adding up to its score.

    ``users`` is a :class:`UserParts`; pair ``p`` is user ``rows[p]`` of it and fitted item
    ``items[p]``; ``cols`` is ``(user ids of the pairs, item ids of the pairs, user_col,
    item_col, the fitted items' ids)``.
    """
    slope, retrieval_bias, rating_bias = _item_side(model, items, blend)
    history = users.history[rows]
    entries = _history_entries(model, history, items, slope)
    top, other = _top_k_per_pair(entries, len(items), k)
    pairs = np.arange(len(items))
    frames = [_frame(top[0], "history", top[1], top[2]), _frame(pairs, "other history", None, other)]
    for name, part in users.parts.items():
        frames.append(_frame(pairs, name, None, np.einsum("pd,pd->p", part[rows], slope)))
    if retrieval_bias is not None:
        frames.append(_frame(pairs, "retrieval bias", None, retrieval_bias))
    if blend:
        frames.append(_frame(pairs, "rating bias", None, rating_bias))
    long = pd.concat(frames, ignore_index=True)
    long = long.iloc[np.lexsort((long["order"].to_numpy(), long["pair"].to_numpy()))]  # stable: history rows stay largest first
    return _with_ids(long, *cols)


def _with_ids(long, user_ids, item_ids, user_col, item_col, catalogue):
    """The output columns: the pair's ids, the part, the history item's id (None for other parts), the contribution."""
    pair, code = long["pair"].to_numpy(), long["code"].to_numpy()
    history_item = np.full(len(long), None, dtype=object)
    history_item[code >= 0] = catalogue.take(code[code >= 0]).to_numpy(dtype=object)
    return pd.DataFrame(
        {
            user_col: pd.Index(user_ids).take(pair).to_numpy(),
            item_col: pd.Index(item_ids).take(pair).to_numpy(),
            "part": long["part"].to_numpy(),
            "history_item": history_item,
            "contribution": long["contribution"].to_numpy(),
        }
    )


def _item_side(model, items, blend):
    """Per pair: ``g_i`` (shape ``(n, dim)``), the retrieval bias (or None) and ``blend`` times the rating bias.

    Read off the model's own vectors: ``query(0)``, ``query(e_1)``, ... against ``candidate(i)``.
    """
    dim = model.embedding_dim
    basis = np.concatenate([np.zeros((1, dim)), np.eye(dim)]).astype("float32")
    to_numpy = keras.ops.convert_to_numpy

    def scores(weight):
        candidates = to_numpy(model.candidate_embeddings(weight)).astype(np.float64)[items]
        return to_numpy(model.query_embeddings(keras.ops.convert_to_tensor(basis), weight)).astype(np.float64) @ candidates.T

    full = scores(blend)
    constant = scores(0.0)[0]
    retrieval_bias = None if model.retrieval_negatives == "in_batch" else constant
    return (full[1:] - full[:1]).T, retrieval_bias, full[0] - constant


def _history_entries(model, history, items, slope):
    """``(pair, history item, contribution)`` of every history entry of every pair."""
    pair = np.repeat(np.arange(history.shape[0]), np.diff(history.indptr))
    item = history.indices
    contribution = np.zeros(len(item))
    if model.implicit_feedback:
        table = np.asarray(model.implicit_embedding.embeddings.value, dtype=np.float64)
        weight = implicit_weights(np.diff(history.indptr))[pair]
        contribution += weight * np.einsum("ed,ed->e", table[item], slope[pair])
    if model.item_item_weight:
        contribution += model.item_item_weight * np.asarray(model.item_item.value, dtype=np.float64)[item, items[pair]]
    return pair, item, contribution


def _top_k_per_pair(entries, n_pairs, k):
    """The ``k`` largest entries of each pair (``(pair, item, contribution)``, largest first) and the sum of the others per pair."""
    pair, item, contribution = entries
    order = np.lexsort((item, -contribution, pair))
    pair, item, contribution = pair[order], item[order], contribution[order]
    rank = np.arange(len(pair)) - np.searchsorted(pair, pair)
    kept = rank < k
    other = np.bincount(pair[~kept], contribution[~kept], minlength=n_pairs)
    return (pair[kept], item[kept], contribution[kept]), other


_PARTS = ["history", "other history", "user", "user features", "retrieval bias", "rating bias"]


def _frame(pairs, part, history_codes, contribution):
    """Rows of one part for ``pairs``: pair, part, history item code (-1 for none), contribution."""
    codes = np.full(len(pairs), -1) if history_codes is None else history_codes
    return pd.DataFrame({"pair": pairs, "part": part, "code": codes, "contribution": np.asarray(contribution, dtype=np.float64), "order": _PARTS.index(part)})
