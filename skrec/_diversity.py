"""Diverse lists: the top candidates of each user re-ranked by maximal marginal relevance over the item vectors."""

import numpy as np

__all__ = ["pool_size", "rerank"]

# Users re-ranked at once (each holds its pool's vectors).
_CHUNK = 1024


def pool_size(k, n_items):
    """Candidates re-ranked per user for a list of ``k``: ``10 * k``, at most the catalogue."""
    return min(10 * k, n_items)


def rerank(rows, codes, scores, vectors, k, diversity):
    """Each request's ``k`` items chosen greedily from its candidates by maximal marginal relevance.

    ``rows``, ``codes`` and ``scores`` list each request's candidates, request by request, best
    first. The next item is the one maximising ``(1 - diversity) * relevance - diversity *
    redundancy``: its score scaled to ``[0, 1]`` over the request's candidates, and its
    highest cosine with the items already chosen (Carbonell & Goldstein, SIGIR 1998). Returns
    ``(rows, ranks, codes, scores)`` in the new order, with the items' own scores.
    """
    start = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    length = np.diff(np.r_[start, len(rows)])
    parts = [_rerank_chunk(rows, codes, scores, vectors, k, diversity, start[i : i + _CHUNK], length[i : i + _CHUNK]) for i in range(0, len(start), _CHUNK)]
    if not parts:
        return rows, np.zeros(0, np.int64), codes, scores
    return tuple(np.concatenate(part) for part in zip(*parts))


def _rerank_chunk(rows, codes, scores, vectors, k, diversity, start, length):
    n, width = len(start), int(length.max())
    column = np.arange(width)
    valid = column < length[:, None]
    flat = np.minimum(start[:, None] + column, len(rows) - 1)
    item, score = codes[flat], np.where(valid, scores[flat], np.nan)
    low, high = np.nanmin(score, axis=1, keepdims=True), np.nanmax(score, axis=1, keepdims=True)
    relevance = np.where(high > low, (score - low) / np.where(high > low, high - low, 1.0), 1.0)
    unit = vectors[item]  # (n, width, dim)
    redundancy = np.zeros((n, width))
    open_ = valid.copy()
    picked = []
    for step in range(min(k, width)):
        value = np.where(open_, (1 - diversity) * relevance - diversity * redundancy, -np.inf)
        choice = np.argmax(value, axis=1)
        picked.append(np.where(open_[np.arange(n), choice], choice, -1))
        open_[np.arange(n), choice] = False
        similarity = np.einsum("nwd,nd->nw", unit, unit[np.arange(n), choice])
        redundancy = similarity if step == 0 else np.maximum(redundancy, similarity)
    picked = np.stack(picked, axis=1)
    kept = picked >= 0
    request = np.broadcast_to(np.arange(n)[:, None], picked.shape)[kept]
    position = picked[kept]
    ranks = np.cumsum(kept, axis=1)[kept]
    return rows[start][request], ranks, item[request, position], score[request, position].astype(np.float32)
