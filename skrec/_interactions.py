"""Interaction data: turns validated id and rating columns into what the model trains on and serving needs.

Two objects live here, built once per ``fit``:

* :class:`Interactions` is what a fitted estimator keeps for serving: the id vocabularies, the
  rating range, the CSR matrix of seen (user, item) pairs and the cold-start mean ratings;
* :class:`TrainingSet` is what one ``fit`` trains on: the encoded pairs, the ratings scaled to
  ``[0, 1]``, the early-stopping split, the pairs of the SVD++ history and the training
  batches (:class:`RatingBatches`, a ``keras.utils.PyDataset``).

Nothing here knows the estimator or the Keras model: it works on NumPy, pandas and SciPy only
(plus Keras's ``PyDataset`` base class for the batches).
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from skrec._encoding import IdEncoder
from skrec._keras import keras

__all__ = ["Interactions", "TrainingSet", "RatingBatches", "build_training_set"]


@dataclass
class Interactions:
    """What a fitted estimator knows about the interactions it was trained on.

    Attributes
    ----------
    users, items : IdEncoder
        Raw ids <-> embedding rows.
    rating_range : tuple of float
        ``(low, high)``: ratings are scaled to ``[0, 1]`` with it and predictions clipped to it.
    seen : scipy.sparse.csr_matrix of bool, shape (n_users, n_items)
        The pairs rated in any fit.
    fallback : tuple
        ``(global mean, per-user means, per-item means)`` of the training ratings, on the
        scale of ``y``: the cold-start predictions.
    """

    users: IdEncoder
    items: IdEncoder
    rating_range: tuple
    seen: sp.csr_matrix
    fallback: tuple

    @property
    def span(self):
        """``high - low`` of the rating range, or 1 when all ratings were equal."""
        low, high = self.rating_range
        return (high - low) or 1.0

    def encode(self, user_ids, item_ids):
        """Embedding rows of raw ids, ``-1`` where an id is unknown."""
        return self.users.transform(user_ids), self.items.transform(item_ids)

    def cold_start_ratings(self, u, i):
        """The fallback rating of pairs with an unknown user or item (``-1`` codes)."""
        global_mean, user_mean, item_mean = self.fallback
        return np.where(u >= 0, user_mean[np.maximum(u, 0)], np.where(i >= 0, item_mean[np.maximum(i, 0)], global_mean))

    def rating_sums(self, n_users, n_items):
        """``(sum, count)`` of the ratings behind the fallback means, recovered from the means.

        Per-user and per-item arrays are padded with zeros to ``n_users`` and ``n_items`` (ids
        new in a warm-started fit, which adds its ratings to these so the means cover both).
        """
        global_mean, user_mean, item_mean = self.fallback
        user_count = np.diff(self.seen.indptr)
        item_count = np.bincount(self.seen.indices, minlength=self.seen.shape[1])
        return (
            (global_mean * self.seen.nnz, self.seen.nnz),
            (_pad(user_mean * user_count, n_users), _pad(user_count, n_users)),
            (_pad(item_mean * item_count, n_items), _pad(item_count, n_items)),
        )

    def seen_pairs(self):
        """The (user, item) code pairs of :attr:`seen`, in row order."""
        return _pairs(self.seen)


@dataclass
class TrainingSet:
    """The encoded ratings of one ``fit`` and the :class:`Interactions` they lead to.

    Attributes
    ----------
    interactions : Interactions
        The state of the estimator once this fit succeeds (warm start: merged with before).
    users, items : ndarray of int64, shape (n_samples,)
        Embedding rows of each rating.
    scaled : ndarray of float64, shape (n_samples,)
        The ratings scaled to ``[0, 1]`` by :attr:`Interactions.rating_range`.
    train, held_out : ndarray of int
        Row indices trained on and held out for early stopping (empty without it).
    history : tuple of ndarray
        The (user, item) pairs this fit adds to the SVD++ term: those of the ``train`` rows.
    """

    interactions: Interactions
    users: np.ndarray
    items: np.ndarray
    scaled: np.ndarray
    train: np.ndarray
    held_out: np.ndarray
    history: tuple

    @property
    def n_users(self):
        return len(self.interactions.users)

    @property
    def n_items(self):
        return len(self.interactions.items)

    def rating_mean(self):
        """Mean scaled rating of the training rows: the initial global mean of the model."""
        return float(self.scaled[self.train].mean())

    def batches(self, batch_size, seed):
        """Shuffled training batches of the ``train`` rows."""
        rows = self.train
        return RatingBatches(self.users[rows], self.items[rows], self.scaled[rows].astype("float32"), batch_size, seed)

    def held_out_data(self):
        """``(users, items, scaled ratings, seen)`` for the early-stopping score.

        ``seen`` holds the training rows only, so held-out items can be recommended.
        """
        rows = self.held_out
        seen = seen_matrix(self.users[self.train], self.items[self.train], self.n_users, self.n_items)
        return self.users[rows], self.items[rows], self.scaled[rows], seen


def build_training_set(user_ids, item_ids, ratings, *, previous=None, validation_fraction=None, seed=0):
    """Encode one fit's ratings and merge them with ``previous`` (warm start) if given.

    Parameters
    ----------
    user_ids, item_ids : pandas.Series of shape (n_samples,)
        Validated raw ids.
    ratings : ndarray of float64, shape (n_samples,)
        Validated ratings on the caller's scale.
    previous : Interactions or None
        The fitted state to extend (warm start): known ids keep their rows, new ones are
        appended, the rating range is kept, and seen pairs and means cover both fits.
    validation_fraction : float or None
        Share of the ratings to hold out for early stopping; None holds out nothing.
    seed : int
        Seeds the early-stopping split.

    Returns
    -------
    TrainingSet
    """
    if previous is None:
        user_encoder, item_encoder = IdEncoder(user_ids), IdEncoder(item_ids)
        rating_range = (float(ratings.min()), float(ratings.max()))
    else:
        user_encoder, item_encoder = previous.users.extended(user_ids), previous.items.extended(item_ids)
        rating_range = previous.rating_range
    u, i = user_encoder.transform(user_ids), item_encoder.transform(item_ids)
    low, high = rating_range
    scaled = (ratings - low) / ((high - low) or 1.0)
    train, held_out = np.arange(len(u)), np.arange(0)
    if validation_fraction is not None:
        train, held_out = validation_split(len(u), validation_fraction, seed)
    n_users, n_items = len(user_encoder), len(item_encoder)
    history = (u[train], i[train])
    prior = None
    all_u, all_i = u, i
    if previous is not None:
        old_u, old_i = previous.seen_pairs()
        prior = previous.rating_sums(n_users, n_items)
        all_u, all_i = np.concatenate([old_u, u]), np.concatenate([old_i, i])
    interactions = Interactions(
        users=user_encoder,
        items=item_encoder,
        rating_range=rating_range,
        seen=seen_matrix(all_u, all_i, n_users, n_items),
        fallback=mean_ratings(u, i, ratings, n_users, n_items, prior),
    )
    return TrainingSet(interactions, u, i, scaled, train, held_out, history)


def validation_split(n, fraction, seed):
    """Training and held-out row indices for early stopping: a seeded random split."""
    order = np.random.default_rng([seed, 1]).permutation(n)
    n_held_out = max(1, int(round(fraction * n)))
    if n_held_out >= n:
        raise ValueError(
            f"early_stopping holds out validation_fraction={fraction} of the "
            f"{n} ratings, i.e. {n_held_out}: it must leave at least one rating to train on. "
            f"Pass more ratings, a smaller fraction, or early_stopping=False."
        )
    return np.sort(order[n_held_out:]), np.sort(order[:n_held_out])


def seen_matrix(u, i, n_users, n_items):
    """Boolean CSR (users x items) of the pairs ``(u[j], i[j])``, duplicates merged."""
    seen = sp.csr_matrix((np.ones(len(u), dtype=bool), (u, i)), shape=(n_users, n_items))
    seen.sum_duplicates()
    return seen


def mean_ratings(u, i, ratings, n_users, n_items, prior=None):
    """Global, per-user and per-item mean training ratings: the cold-start fallbacks.

    ``prior`` holds the ``(sum, count)`` of ratings of earlier fits (warm start), or None.
    """
    (g_sum, g_count), (u_sum, u_count), (i_sum, i_count) = prior or ((0.0, 0), (0.0, 0), (0.0, 0))
    user_sum = np.bincount(u, ratings, n_users) + u_sum
    user_count = np.bincount(u, minlength=n_users) + u_count
    item_sum = np.bincount(i, ratings, n_items) + i_sum
    item_count = np.bincount(i, minlength=n_items) + i_count
    global_mean = (ratings.sum() + g_sum) / (len(ratings) + g_count)
    return float(global_mean), user_sum / np.maximum(user_count, 1), item_sum / np.maximum(item_count, 1)


def _pad(values, n):
    """``values`` with zeros appended up to length ``n`` (rows of ids new in this fit)."""
    return np.pad(values, (0, n - len(values)))


def _pairs(matrix):
    """The (row, column) pairs of a CSR matrix, in row order."""
    return np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr)), matrix.indices


class RatingBatches(keras.utils.PyDataset):
    """Shuffled mini-batches of encoded ratings, reshuffled each epoch by a private generator.

    All batches have ``batch_size`` rows (unless the data set is smaller): the last one is
    completed with the epoch's first rows, which are then seen twice in that epoch.

    Owning the shuffle (rather than ``model.fit(shuffle=True)``, which draws from NumPy's or
    TensorFlow's global generator) makes training reproducible without touching global state.
    """

    def __init__(self, users, items, ratings, batch_size, seed):
        super().__init__()
        self._data = (users.astype("int32"), items.astype("int32"), ratings)
        self._batch_size = batch_size
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(len(ratings))

    def __len__(self):
        return -(-len(self._order) // self._batch_size)

    def __getitem__(self, index):
        rows = self._order[index * self._batch_size : (index + 1) * self._batch_size]
        if 0 < len(rows) < self._batch_size <= len(self._order):
            # Top the last batch up with the epoch's first rows (distinct from its own), so that
            # every step has one shape and the train step compiles once instead of twice.
            rows = np.concatenate([rows, self._order[: self._batch_size - len(rows)]])
        users, items, ratings = (a[rows] for a in self._data)
        return {"user": users, "item": items}, ratings

    def on_epoch_end(self):
        self._order = self._rng.permutation(len(self._order))
