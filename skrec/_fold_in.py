"""Fold-in: vectors for users the model did not see in fit, from their history, with everything else fixed.

A new user's vector is found without refitting, in two steps:

1. **Prior: the SVD++ term** (``implicit_feedback=True``): ``|N(u)|^-1/2`` times the sum of the
   implicit item table over the user's history ``N(u)``, exactly how the model represents the
   history part of every user vector (Koren, KDD 2008), plus the user's ``base`` vector: the
   sum of its side features' embeddings when a ``users`` frame describes it. Without either
   the prior is zero.
2. **Ridge on the rated history** (``rating_head="dot"``): the vector ``v`` and bias ``b`` that
   minimise ``sum_i (mean + b + b_i + v . q_i - r_i)^2 + lam * n * (|v - prior|^2 + b^2)`` over
   the user's ``n`` rated items ``i`` (scaled ratings ``r_i``, item vectors ``q_i`` and biases
   ``b_i`` fixed; with ``item_implicit_feedback``, ``q_i`` is the rating head's item vector,
   the table row plus the item's rater term), with ``lam = l2_ / ranking_weight``: the training loss's rating and penalty
   terms for that one user, solved in closed form, shrunk towards the prior. Under
   ``l2_form="per_id"`` the training penalty charges each user once, not per interaction,
   so ``n`` in the penalty is replaced by ``count``, the training's weighted rated
   interactions per user or per item (whichever is more), whatever the new user's own number. This is the
   "recalculate the user with the items fixed" step of implicit's ALS, applied to the rating
   head. With no rated history the vector is the prior.

Everything is NumPy on the model's weights, whatever the backend; the item rows (with their
side features' sum, as the model scores them) are looked up by the model.
"""

import numpy as np

from skrec._interactions import implicit_weights
from skrec._retrieval import table_rows

__all__ = ["fold_in"]

# Users whose normal equations are solved at once (each a (dim + 1)^2 matrix).
_CHUNK = 4096


def fold_in(model, n_users, rows, items, scaled, lam, base=None, new_item_rows=None, count=None, *, return_bias=False):
    """User vectors of shape ``(n_users, dim)`` for new users from their history (and their rating biases).

    Parameters
    ----------
    model : MultiTaskModel
    n_users : int
        Number of new users.
    rows, items : ndarray of int
        History entries: the new user (``0 <= rows < n_users``) and the item code.
    scaled : ndarray of float
        The entry's rating on the ``[0, 1]`` scale, NaN when it has none.
    lam : float
        Ridge weight per rated item, ``l2_ / ranking_weight`` (``inf`` keeps the prior).
    base : ndarray of shape (n_users, dim) or None
        Added to the prior: the users' vectors from their side features.
    new_item_rows : ndarray of shape (n_new, table width) or None
        Table rows of items absent from ``fit`` (codes ``n_items + j``; see ``skrec._new_ids``):
        their ratings enter the ridge step with these rows; they have no SVD++ row.
    count : float or None
        The number of rated items every user's ridge weight is multiplied by (``l2_form="per_id"``),
        instead of the user's own (None).
    return_bias : bool, default=False
        Also return the users' rating biases, shape ``(n_users,)`` on the ``[0, 1]`` scale
        (the ridge step's ``b``; 0 for a user without a rated history).
    """
    fitted = items < model.n_items
    prior = _svdpp_term(model, n_users, rows[fitted], items[fitted])
    if base is not None:
        prior = prior + base
    rated = ~np.isnan(scaled)
    if model.rating_head != "dot" or not rated.any() or not np.isfinite(lam):
        vectors, biases = prior, np.zeros(n_users, np.float32)
    else:
        vectors, biases = _ridge(model, prior, rows[rated], items[rated], scaled[rated], lam, new_item_rows, count)
    return (vectors, biases) if return_bias else vectors


def _svdpp_term(model, n_users, rows, items):
    dim = model.embedding_dim
    if not model.implicit_feedback:
        return np.zeros((n_users, dim), dtype=np.float32)
    table = np.asarray(model.implicit_embedding.embeddings.value)
    pairs = np.unique(np.stack([rows, items], axis=1), axis=0)  # an item twice counts once
    counts = np.bincount(pairs[:, 0], minlength=n_users)
    term = np.zeros((n_users, dim))
    np.add.at(term, pairs[:, 0], table[pairs[:, 1]])
    return (term * implicit_weights(counts)[:, None]).astype(np.float32)


def _ridge(model, prior, rows, items, scaled, lam, new_item_rows=None, count=None):
    """Solve each user's ridge problem by its normal equations: ``(vectors, biases)``."""
    dim = model.embedding_dim
    item_rows = table_rows(model, "item", items, new_item_rows)
    vectors = item_rows[:, :dim]
    terms = model.rater_terms(items)
    if terms is not None:
        vectors = vectors + terms  # the rating head's item vector
    features = np.concatenate([vectors, np.ones((len(items), 1))], axis=1)  # [q_i, 1]
    bias = model.rating_bias_scale * item_rows[:, dim]
    target = scaled - float(np.asarray(model.global_mean.value)) - bias
    out = np.concatenate([prior.astype(np.float64), np.zeros((len(prior), 1))], axis=1)
    for start in range(0, len(prior), _CHUNK):
        users = np.arange(start, min(start + _CHUNK, len(prior)))
        mine = (rows >= users[0]) & (rows <= users[-1])
        out[users] = _solve(features[mine], target[mine], rows[mine] - users[0], prior[users], lam, count)
    return out[:, :-1].astype(np.float32), out[:, -1].astype(np.float32)


def _solve(features, target, rows, prior, lam, count=None):
    n_users, width = len(prior), features.shape[1]
    counts = np.bincount(rows, minlength=n_users).astype(np.float64)
    gram = np.zeros((n_users, width, width))
    np.add.at(gram, rows, features[:, :, None] * features[:, None, :])
    right = np.zeros((n_users, width))
    np.add.at(right, rows, features * target[:, None])
    shrink = lam * (np.maximum(counts, 1) if count is None else np.full(n_users, float(count)))
    gram += shrink[:, None, None] * np.eye(width)
    right[:, :-1] += shrink[:, None] * prior  # towards the prior vector; the bias towards 0
    solution = np.linalg.solve(gram, right[:, :, None])[:, :, 0]
    return np.where(counts[:, None] > 0, solution, np.concatenate([prior, np.zeros((n_users, 1))], axis=1))
