"""Serving a fitted model: top-k retrieval with seen items excluded, and chunked rating predictions.

Both work on encoded ids (embedding rows) and bound their memory whatever the size of the
request: users are scored in chunks of at most ``SCORE_BUDGET`` user x item scores, pairs in
chunks of ``PAIR_CHUNK``. Requests are padded to a few bucket sizes so that the backend
compiles its kernels for a few shapes, not for every request size.
"""

import numpy as np
import scipy.sparse as sp

from skrec._interactions import history_lists, padded_lists
from skrec._keras import keras, keras_rs

ops = keras.ops

__all__ = ["ExcludingRetrieval", "top_k", "top_k_users", "predict_scaled", "similar_items", "unit_item_vectors", "user_vectors", "table_rows", "pad_to_bucket"]

# Users scored per call of the retrieval layer, and pairs per call of the model in `predict`.
USER_CHUNK = 1024
SCORE_BUDGET = 1 << 24  # user x item scores held at once by `top_k` (64 MB of float32)
PAIR_CHUNK = 65536


class ExcludingRetrieval(keras_rs.layers.BruteForceRetrieval):
    """keras-rs ``BruteForceRetrieval`` that can leave given (query, candidate) pairs out.

    ``excluded`` is an ``[m, 2]`` integer array of (query row, candidate index) pairs whose
    scores are set to ``-inf`` before the top-k, so that the top-k holds no excluded item
    (unless fewer than ``k`` items are left: their scores then come back as ``-inf``). It is a
    sparse list, never a dense queries x candidates mask.

    Examples
    --------
    >>> import numpy as np
    >>> layer = ExcludingRetrieval(candidate_embeddings=np.eye(3, dtype="float32"), k=1)
    >>> scores, ids = layer(np.array([[0.0, 2.0, 1.0]], dtype="float32"), excluded=np.array([[0, 1]]))
    >>> ops.convert_to_numpy(ids).tolist()
    [[2]]
    """

    def call(self, inputs, excluded=None):
        scores = self.compute_score(inputs, self.candidate_embeddings)
        if excluded is not None:
            fill = ops.full((ops.shape(excluded)[0],), float("-inf"), dtype=scores.dtype)
            scores = ops.scatter_update(scores, excluded, fill)
        top_scores, top_ids = ops.top_k(scores, k=self.k)
        if self.candidate_ids is not None:
            top_ids = ops.take(self.candidate_ids, top_ids, axis=0)
        return (top_scores, top_ids) if self.return_scores else top_ids


def top_k_users(model, codes, k, seen, rating_blend, history=None):
    """Top-``k`` (user code, rank, item code, score) rows of the users ``codes``.

    ``seen`` is the (users x items) CSR matrix of items to leave out, or None; ``history`` the
    CSR matrix of the SVD++ history when the model has the term.
    """
    excluded = None if seen is None else seen[codes]
    rows, ranks, items, scores = top_k(model, k, lambda a, b: user_vectors(model, codes[a:b], history), len(codes), excluded, rating_blend)
    return codes[rows], ranks, items, scores


def top_k(model, k, vectors, n, excluded=None, rating_blend=0.0, candidates=None, new_rows=None, seen=None):
    """Top-``k`` (request row, rank, item code, score) rows of ``n`` requests, best first.

    Parameters
    ----------
    vectors : callable
        ``vectors(start, stop)`` gives the user vectors of requests ``start`` to ``stop`` as an
        array of shape ``(stop - start, dim)``.
    excluded : scipy.sparse.csr_matrix of shape (n, n_items + n_new) or None
        The items each request must not get (seen items, ...).
    rating_blend : float
        Weight of the predicted rating in the score (see ``MultiTaskModel.query_embeddings``).
    candidates : ndarray of int or None
        The sorted item codes that may be recommended; None for the whole catalogue.
    new_rows : ndarray of shape (n_new, table width) or None
        Table rows of items absent from ``fit`` (see ``skrec._new_ids``), appended to the
        catalogue with codes ``n_items + j``.
    seen : callable or None
        ``seen(start, stop)`` gives the history rows of those requests as an array of shape
        ``(stop - start, model.n_items)`` (1 for each fitted item in the user's history): the
        score then has the model's item-item term (``MultiTaskModel.query_embeddings``).

    Requests are scored in chunks of at most ``SCORE_BUDGET`` scores, so memory does not grow
    with their number; each chunk's excluded items are passed to the retrieval layer as a
    sparse list of (row, item) pairs and masked there. A request with fewer than ``k`` items
    left gets fewer rows.
    """
    item_item = seen is not None
    embeddings = model.candidate_embeddings(rating_blend, item_item=item_item)
    if new_rows is not None:
        embeddings = keras.ops.concatenate([embeddings, model.candidate_embeddings(rating_blend, rows=new_rows, item_item=item_item)], axis=0)
    n_items = int(keras.ops.shape(embeddings)[0])
    if candidates is not None:
        embeddings = keras.ops.take(embeddings, candidates, axis=0)
    n_candidates = int(keras.ops.shape(embeddings)[0])
    retrieval = ExcludingRetrieval(candidate_embeddings=embeddings, k=min(k, n_candidates))
    column = None if candidates is None else _columns(candidates, n_items)

    def queries(chunk):
        start, stop = chunk[0], chunk[-1] + 1
        return model.query_embeddings(vectors(start, stop), rating_blend, None if seen is None else seen(start, stop))

    rows, ranks, items, scores = _run(retrieval, queries, n, excluded, column, n_candidates)
    return rows, ranks, (items if candidates is None else candidates[items]), scores


def _run(retrieval, queries, n, excluded, column, n_candidates):
    """The retrieval layer over ``n`` requests in chunks of at most ``SCORE_BUDGET`` scores."""
    size = 1 << (max(1, min(USER_CHUNK, SCORE_BUDGET // max(n_candidates, 1))).bit_length() - 1)  # a power of two
    parts = [_top_k_chunk(retrieval, np.arange(start, min(start + size, n)), queries, excluded, column) for start in range(0, n, size)]
    if not parts:
        return tuple(np.zeros(0, dtype) for dtype in ("int64", "int64", "int64", "float32"))
    return tuple(np.concatenate(part) for part in zip(*parts))


def _columns(candidates, n_items):
    """Each item's column among ``candidates``, -1 for items that are not candidates."""
    column = np.full(n_items, -1)
    column[candidates] = np.arange(len(candidates))
    return column


def _top_k_chunk(retrieval, chunk, queries, excluded, column):
    pairs = _excluded_pairs(chunk, excluded, column)
    padded = pad_to_bucket(keras.ops.convert_to_numpy(queries(chunk)))
    scores, items = (keras.ops.convert_to_numpy(a)[: len(chunk)] for a in retrieval(padded, excluded=pairs))
    keep = np.isfinite(scores)
    rank = np.broadcast_to(np.arange(1, items.shape[1] + 1), items.shape)
    return np.broadcast_to(chunk[:, None], items.shape)[keep], rank[keep], items[keep], scores[keep]


def _excluded_pairs(chunk, excluded, column):
    """The (row in chunk, candidate column) pairs of ``excluded`` for ``chunk``, padded; or None."""
    if excluded is None:
        return None
    coo = excluded[chunk].tocoo()
    rows, cols = coo.row, (coo.col if column is None else column[coo.col])
    keep = cols >= 0
    if not keep.any():
        return None
    return pad_to_bucket(np.stack([rows[keep], cols[keep]], axis=1).astype("int32"))


def similar_items(model, codes, k):
    """Top-``k`` (item code, rank, similar item code, cosine) rows of the items ``codes``.

    Items are compared by the cosine of their retrieval vectors (``candidate_embeddings``
    without a rating term); each item's own column is excluded.
    """
    vectors = unit_item_vectors(model)
    own = sp.csr_matrix((np.ones(len(codes), dtype=bool), (np.arange(len(codes)), codes)), shape=(len(codes), model.n_items))
    retrieval = ExcludingRetrieval(candidate_embeddings=vectors, k=k)
    rows, ranks, items, scores = _run(retrieval, lambda chunk: vectors[codes[chunk]], len(codes), own, None, model.n_items)
    return codes[rows], ranks, items, scores


def unit_item_vectors(model, new_rows=None):
    """The items' retrieval vectors (``candidate_embeddings`` without a rating term), scaled to unit length.

    Items of ``new_rows`` (table rows of items absent from ``fit``) come after the fitted ones.
    """
    vectors = keras.ops.convert_to_numpy(model.candidate_embeddings())
    if new_rows is not None:
        vectors = np.concatenate([vectors, keras.ops.convert_to_numpy(model.candidate_embeddings(rows=new_rows))])
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def user_inputs(model, codes, history):
    """Model inputs for the user vectors of ``codes``: the ids and, if needed, their whole history.

    The history lists are padded to a bucket size with zero-weight entries (see :func:`padded_lists`).
    """
    inputs = {"user": codes}
    if model.implicit_feedback:
        lists = history_lists(history, codes)
        inputs.update(padded_lists(lists, len(pad_to_bucket(np.arange(max(len(lists[0]), 1)))), "history_item", "history"))
    return inputs


def user_vectors(model, codes, history):
    """User vectors of ``codes`` as a NumPy array of shape ``(len(codes), dim)``, in chunks."""
    if not len(codes):
        return np.zeros((0, model.embedding_dim), "float32")
    parts = [
        keras.ops.convert_to_numpy(model.user_vectors(user_inputs(model, pad_to_bucket(chunk), history)))[: len(chunk)]
        for chunk in np.array_split(codes, max(1, -(-len(codes) // USER_CHUNK)))
    ]
    return np.concatenate(parts)


def predict_scaled(model, u, i, history=None):
    """Predicted ratings on the ``[0, 1]`` training scale of known pairs (codes ``>= 0``).

    Each distinct user's vector is computed once, then the pairs are rated in chunks.
    """
    users, position = np.unique(u, return_inverse=True)
    vectors = user_vectors(model, users, history)
    out = np.empty(len(u), dtype=np.float64)
    for start in range(0, len(u), PAIR_CHUNK):
        part = pad_to_bucket(np.arange(start, min(start + PAIR_CHUNK, len(u))))
        rated = model.ratings(vectors[position[part]], u[part], i[part])
        n = min(PAIR_CHUNK, len(u) - start)
        out[start : start + n] = keras.ops.convert_to_numpy(rated)[:n]
    return out


def table_rows(model, space, codes, new_rows=None):
    """NumPy table rows (side features included) of ``"user"`` or ``"item"`` codes.

    Codes past the model's table (``n + j``, ids met at serving time; see ``skrec._new_ids``)
    take row ``j`` of ``new_rows``. Each distinct code is looked up once.
    """
    n_fitted = model.space_size(space)
    distinct, position = np.unique(codes, return_inverse=True)
    fitted = distinct[distinct < n_fitted]  # sorted: the fitted codes come first
    parts = []
    if len(fitted):
        parts.append(keras.ops.convert_to_numpy(model.table_rows(space, pad_to_bucket(fitted)))[: len(fitted)])
    if len(fitted) < len(distinct):
        parts.append(np.asarray(new_rows)[distinct[len(fitted) :] - n_fitted])
    return np.concatenate(parts).astype(np.float32)[position]


def pad_to_bucket(rows):
    """``rows`` with its last row repeated up to the next bucket size.

    Eager JAX compiles each operation once per input shape: padding requests to a few sizes
    keeps `predict` and `recommend` from compiling again for every new request size. Bucket
    sizes are 4 per power of two (4, 5, 6, 7 times a power of two), so padding adds < 25% and
    never takes a length past the next power of two (the chunk sizes are powers of two).
    """
    quantum = 1 << max(len(rows).bit_length() - 3, 0)
    size = -(-len(rows) // quantum) * quantum
    return np.concatenate([rows, np.repeat(rows[-1:], size - len(rows), axis=0)])
