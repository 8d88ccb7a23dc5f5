"""The item-item term of the recommend score: EASE weights, solved in closed form from the seen-items matrix.

EASE (Steck, "Embarrassingly shallow autoencoders for sparse data", WWW 2019) regresses each
item's column of the binary users x items matrix ``X`` on the other items' columns with an L2
penalty ``l2`` and a zero diagonal, in closed form:

    P = (X^T X + l2 I)^-1,   B = I - P diag(1 / diag(P)),   B_ii = 0,

so that ``x_u B`` scores every item for a user whose seen items are the row ``x_u``. Its cost
is that of the ``n_items x n_items`` Gram matrix and its inverse (cube of the catalogue), which
is why the estimator uses it on catalogues of bounded size only. :func:`validated_l2` chooses
the penalty as EASE's paper does, by NDCG@10 on held-out pairs, here a per-user holdout of the
seen pairs themselves.

This module knows NumPy and SciPy only.
"""

import numpy as np
import scipy.linalg
import scipy.sparse as sp

__all__ = ["ease_weights", "validated_l2"]

#: The penalties :func:`validated_l2` walks along (the 1-2-5 series), from ``START_L2``.
L2_GRID = (5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0, 20000.0, 50000.0)
START_L2 = 500.0
#: The holdout: this share of the seen pairs of each user with at least ``MIN_ITEMS`` of them.
HOLDOUT_SHARE = 0.2
MIN_ITEMS = 5
#: Fewer validation users than this leave the penalty at ``START_L2``; more are subsampled to ``MAX_USERS``.
MIN_USERS = 50
MAX_USERS = 5000
K = 10
#: The solve runs in float32 when the penalised Gram matrix's condition number is at most this
#: (a relative error of about 1e-3 in the weights), in float64 otherwise.
FLOAT32_MAX_CONDITION = 1e4


def ease_weights(seen, l2):
    """EASE's ``[n_items, n_items]`` item-item weights of the binary matrix ``seen``, float32.

    Parameters
    ----------
    seen : scipy.sparse matrix of shape (n_users, n_items)
        The (user, item) pairs; every stored entry counts as 1.
    l2 : float > 0
        The L2 penalty on the weights (EASE's lambda).

    Returns
    -------
    ndarray of shape (n_items, n_items), float32
        ``B`` with a zero diagonal: column ``i`` holds the weight of each item in the score of ``i``.

    Raises
    ------
    ValueError
        If ``l2`` is too small for the Cholesky factorisation (naming ``item_item_l2``).
    """
    return _weights(_gram(seen), l2)


def _gram(seen):
    """The co-occurrence matrix ``X^T X`` of the binarised ``seen``, dense float64."""
    binary = sp.csr_matrix(seen, dtype=np.float64, copy=True)
    binary.data[:] = 1.0
    return (binary.T @ binary).toarray()


def _weights(gram, l2):
    """EASE's weights from the Gram matrix (not modified) and the penalty."""
    # Gershgorin: the penalised Gram matrix's condition number is at most 1 + its largest row sum / l2.
    condition = 1.0 + gram.sum(axis=1).max(initial=0.0) / float(l2)
    matrix = gram.astype(np.float32 if condition <= FLOAT32_MAX_CONDITION else np.float64)
    matrix[np.diag_indices_from(matrix)] += float(l2)
    precision = _spd_inverse(matrix, l2)
    weights = -precision / np.diag(precision)
    np.fill_diagonal(weights, 0.0)
    return weights.astype(np.float32, copy=False)


def _spd_inverse(matrix, l2):
    """The inverse of a symmetric positive definite matrix (overwritten), from its Cholesky factor (LAPACK potrf, potri)."""
    potrf, potri = scipy.linalg.lapack.get_lapack_funcs(("potrf", "potri"), (matrix,))
    factor, info = potrf(matrix, lower=False, overwrite_a=True)
    if info != 0:
        raise ValueError(
            f"item_item_l2={l2!r} is too small for the item-item solve: the items' co-occurrence "
            f"matrix plus item_item_l2 on its diagonal is not positive definite in floating point. "
            f"Use a larger item_item_l2 (e.g. 500) or item_item=None."
        )
    inverse, info = potri(factor, lower=False, overwrite_c=True)
    inverse = np.triu(inverse)  # potri writes the upper triangle only
    inverse += np.triu(inverse, 1).T
    return inverse


def validated_l2(seen, seed):
    """EASE's penalty chosen by NDCG@10 on a per-user holdout of ``seen``, and why.

    Each user with at least ``MIN_ITEMS`` seen items gives ``HOLDOUT_SHARE`` of them (drawn with
    ``seed``) to the holdout; EASE is solved on the other pairs for penalties of ``L2_GRID``,
    walking from ``START_L2`` towards the side where NDCG@10 rises and stopping where it no
    longer rises by more than one standard error of the per-user differences.

    Parameters
    ----------
    seen : scipy.sparse matrix of shape (n_users, n_items)
        The (user, item) pairs; every stored entry counts as 1.
    seed : int
        Seed of the holdout draw.

    Returns
    -------
    l2 : float
        The chosen penalty (``START_L2`` when fewer than ``MIN_USERS`` users can hold pairs out,
        or the catalogue has at most 10 items).
    why : str
        The penalties tried and their NDCG@10, for the recipe.
    """
    if seen.shape[1] <= K:
        return START_L2, f"{seen.shape[1]} items <= {K}: not validated"
    fit, held, users = _holdout(sp.csr_matrix(seen, dtype=np.float32), np.random.default_rng(seed))
    if len(users) < MIN_USERS:
        return START_L2, f"{len(users)} users with {MIN_ITEMS}+ items < {MIN_USERS}: not validated"
    gram, fit_rows, held_rows = _gram(fit), fit[users], held[users]
    scores = {}

    def ndcg(l2):
        if l2 not in scores:
            scores[l2] = _ndcg_at_k(fit_rows, held_rows, _weights(gram, l2))
        return scores[l2]

    best = _walk(ndcg)
    tried = ", ".join(f"{l2:g}: {scores[l2].mean():.4f}" for l2 in sorted(scores))
    return best, f"NDCG@10 on {HOLDOUT_SHARE:.0%} of the pairs of {len(users):,} users ({tried})"


def _walk(score):
    """The grid point where ``score`` stops rising, walking from ``START_L2`` in its rising direction.

    ``score(l2)`` is an array of per-user values; a step is taken only when it raises their mean
    by more than one standard error of the per-user differences (a rise within noise is no rise).
    """
    at = L2_GRID.index(START_L2)
    step = 1 if at + 1 < len(L2_GRID) and _rises(score(L2_GRID[at]), score(L2_GRID[at + 1])) else -1
    while 0 <= at + step < len(L2_GRID) and _rises(score(L2_GRID[at]), score(L2_GRID[at + step])):
        at += step
    return L2_GRID[at]


def _rises(before, after):
    """Whether the mean of ``after`` exceeds that of ``before`` by more than one standard error of their paired differences."""
    difference = np.asarray(after, dtype=np.float64) - np.asarray(before, dtype=np.float64)
    error = difference.std(ddof=1) / np.sqrt(len(difference)) if len(difference) > 1 else 0.0
    return difference.mean() > error


def _holdout(seen, rng):
    """``(fit, held, users)``: ``seen`` split per user, and (at most ``MAX_USERS``) users holding pairs out."""
    seen = seen.copy()
    seen.sum_duplicates()
    seen.data[:] = 1.0
    lengths = np.diff(seen.indptr)
    rows = np.repeat(np.arange(seen.shape[0]), lengths)
    order = np.lexsort((rng.random(seen.nnz), rows))
    rank = np.empty(seen.nnz, dtype=np.int64)
    rank[order] = np.arange(seen.nnz) - seen.indptr[rows[order]]
    n_held = np.where(lengths >= MIN_ITEMS, np.maximum(1, np.round(HOLDOUT_SHARE * lengths)), 0).astype(np.int64)
    mask = rank < n_held[rows]
    held, fit = (sp.csr_matrix((seen.data[part], (rows[part], seen.indices[part])), shape=seen.shape) for part in (mask, ~mask))
    users = np.flatnonzero(n_held)
    if len(users) > MAX_USERS:
        users = np.sort(rng.choice(users, MAX_USERS, replace=False))
    return fit, held, users


def _ndcg_at_k(fit, held, weights):
    """Each user's NDCG@10 (binary gains) of EASE's top 10 of ``fit @ weights``, seen items excluded, against ``held``."""
    scores = np.asarray(fit @ weights)
    scores[fit.nonzero()] = -np.inf
    top = np.argpartition(-scores, K, axis=1)[:, :K]
    top = np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable"), axis=1)
    hits = np.asarray(held[np.arange(held.shape[0])[:, None], top].todense()) > 0
    discount = 1.0 / np.log2(np.arange(2, K + 2))
    ideal = np.cumsum(discount)[np.minimum(np.diff(held.indptr), K) - 1]
    return (hits * discount).sum(axis=1) / ideal
