"""The item-item term of the recommend score: EASE weights, solved in closed form from the seen-items matrix.

EASE (Steck, "Embarrassingly shallow autoencoders for sparse data", WWW 2019) regresses each
item's column of the binary users x items matrix ``X`` on the other items' columns with an L2
penalty ``l2`` and a zero diagonal, in closed form:

    P = (X^T X + l2 I)^-1,   B = I - P diag(1 / diag(P)),   B_ii = 0,

so that ``x_u B`` scores every item for a user whose seen items are the row ``x_u``. Its cost
is that of the ``n_items x n_items`` Gram matrix and its inverse (cube of the catalogue), which
is why the estimator uses it on catalogues of bounded size only.

This module knows NumPy and SciPy only.
"""

import numpy as np
import scipy.linalg
import scipy.sparse as sp

__all__ = ["ease_weights"]


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
    binary = sp.csr_matrix(seen, dtype=np.float64, copy=True)
    binary.data[:] = 1.0
    gram = (binary.T @ binary).toarray()
    gram[np.diag_indices_from(gram)] += float(l2)
    # The inverse of a symmetric positive definite matrix, through its Cholesky factor.
    try:
        factor = scipy.linalg.cho_factor(gram, overwrite_a=True)
    except np.linalg.LinAlgError:
        raise ValueError(
            f"item_item_l2={l2!r} is too small for the item-item solve: the items' co-occurrence "
            f"matrix plus item_item_l2 on its diagonal is not positive definite in floating point. "
            f"Use a larger item_item_l2 (e.g. the default 500) or item_item=None."
        ) from None
    precision = scipy.linalg.cho_solve(factor, np.eye(len(gram)), overwrite_b=True)
    weights = -precision / np.diag(precision)
    np.fill_diagonal(weights, 0.0)
    return weights.astype(np.float32)
