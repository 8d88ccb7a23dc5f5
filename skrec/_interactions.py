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

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from skrec._encoding import IdEncoder, id_kind
from skrec._keras import keras

__all__ = ["Interactions", "TrainingSet", "RatingBatches", "build_training_set", "history_lists", "implicit_weights", "padded_lists", "rater_weights"]

# With the SVD++ term, batches keep up to GROUP_SIZE ratings of one user together, so that the
# user's history is read once for all of them: a step then reads at most
# 2 * max_history / GROUP_SIZE history entries per rating, whatever the length of histories.
GROUP_SIZE = 8

# With item-side implicit feedback, a batch reads at most max_raters / RATER_BUDGET_DIVISOR rater
# entries per rating: its distinct items are fewer than its rows and most have fewer raters than
# the cap (MovieLens 100k, 1,024 rows, cap 64: at most 29,760 of 65,536 entries in 50 batches).
RATER_BUDGET_DIVISOR = 2
# ... and the rater lists are padded to their expected entries per batch plus this many standard
# deviations (:func:`likely_lists_bound`) where that is less than what a batch can hold.
LIKELY_BOUND_DEVIATIONS = 4.0

# An implicit-feedback sum (a user's SVD++ term, an item's rater term) weights its entries
# n^-1/2 up to this many entries and IMPLICIT_SUM_CAP^1/2 / n beyond (implicit_weights).
# Adam moves every row of a list by about the learning rate, so a sum weighted n^-1/2 moves
# by sqrt(n) times that; the cap bounds it for the heaviest users and items.
IMPLICIT_SUM_CAP = 1024


@dataclass
class RatingMeans:
    """Weighted sums and counts of the training ratings: overall, per user and per item.

    They give the cold-start predictions (:meth:`predict`) and add up exactly over warm-started
    fits (:meth:`merged`). Rows without a rating count nowhere.
    """

    total: float
    count: float
    user_sum: np.ndarray
    user_count: np.ndarray
    item_sum: np.ndarray
    item_count: np.ndarray

    @classmethod
    def of(cls, u, i, ratings, weights, n_users, n_items):
        """The sums of the rated rows among ``(u, i, ratings, weights)``."""
        rated = ~np.isnan(ratings)
        u, i, r, w = u[rated], i[rated], ratings[rated], weights[rated]
        return cls(
            float((r * w).sum()), float(w.sum()),
            np.bincount(u, r * w, n_users), np.bincount(u, w, n_users),
            np.bincount(i, r * w, n_items), np.bincount(i, w, n_items),
        )  # fmt: skip

    def merged(self, other):
        """The sums of both (``other``'s tables may have more rows: ids new in a warm fit)."""
        add = lambda a, b: _pad(a, len(b)) + b  # noqa: E731
        return RatingMeans(
            self.total + other.total, self.count + other.count,
            add(self.user_sum, other.user_sum), add(self.user_count, other.user_count),
            add(self.item_sum, other.item_sum), add(self.item_count, other.item_count),
        )  # fmt: skip

    def predict(self, u, i):
        """The mean rating of the user if known and rated, else of the item, else overall.

        ``u`` and ``i`` are codes, ``-1`` for ids unknown to the model.
        """
        user = _mean_of(self.user_sum, self.user_count, u)
        item = _mean_of(self.item_sum, self.item_count, i)
        overall = self.total / self.count if self.count else np.nan
        return np.where(~np.isnan(user), user, np.where(~np.isnan(item), item, overall))


def _mean_of(sums, counts, codes):
    """``sums / counts`` at ``codes``, NaN where a code is -1 or its count is 0."""
    known = codes >= 0
    count = np.where(known, counts[np.maximum(codes, 0)], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, sums[np.maximum(codes, 0)] / count, np.nan)


@dataclass
class Interactions:
    """What a fitted estimator knows about the interactions it was trained on.

    Attributes
    ----------
    users, items : IdEncoder
        Raw ids <-> embedding rows.
    rating_range : tuple of float or None
        ``(low, high)``: ratings are scaled to ``[0, 1]`` with it and predictions clipped to it.
        None when no fit had a rating (implicit feedback only).
    seen : scipy.sparse.csr_matrix of bool, shape (n_users, n_items)
        The pairs interacted with (rated or not) in any fit: excluded from recommendations and
        the history of the SVD++ term.
    means : RatingMeans
        The training ratings' sums, for the cold-start predictions.
    """

    users: IdEncoder
    items: IdEncoder
    rating_range: tuple
    seen: sp.csr_matrix
    means: RatingMeans

    @property
    def has_ratings(self):
        return self.rating_range is not None

    @property
    def span(self):
        """``high - low`` of the rating range, or 1 when all ratings were equal."""
        low, high = self.rating_range
        return (high - low) or 1.0

    def encode(self, user_ids, item_ids):
        """Embedding rows of raw ids, ``-1`` where an id is unknown."""
        return self.users.transform(user_ids), self.items.transform(item_ids)

    def popularity(self):
        """Number of users who interacted with each item."""
        return np.bincount(self.seen.indices, minlength=self.seen.shape[1])

    def cold(self, space):
        """Rows of ``"user"`` or ``"item"`` ids without any interaction (known from side features only)."""
        counts = np.diff(self.seen.indptr) if space == "user" else self.popularity()
        return np.flatnonzero(counts == 0)

    def seen_pairs(self):
        """The (user, item) code pairs of :attr:`seen`, in row order."""
        return _pairs(self.seen)


@dataclass
class TrainingSet:
    """The encoded interactions of one ``fit`` and the :class:`Interactions` they lead to.

    Attributes
    ----------
    interactions : Interactions
        The state of the estimator once this fit succeeds (warm start: merged with before).
    users, items : ndarray of int64, shape (n_samples,)
        Embedding rows of each interaction.
    scaled : ndarray of float64, shape (n_samples,)
        The ratings scaled to ``[0, 1]`` by :attr:`Interactions.rating_range`; NaN for
        interactions without a rating.
    weights : ndarray of float64, shape (n_samples,)
        Each row's weight in both losses: ``sample_weight`` divided by its mean.
    train, held_out : ndarray of int
        Row indices trained on and held out for early stopping (empty without it).
    history : scipy.sparse.csr_matrix of bool, shape (n_users, n_items)
        Each user's history for the SVD++ term while training: the pairs of the ``train``
        rows and, when warm-started, of the earlier fits (a pair seen again counts once).
    """

    interactions: Interactions
    users: np.ndarray
    items: np.ndarray
    scaled: np.ndarray
    weights: np.ndarray
    train: np.ndarray
    held_out: np.ndarray
    history: sp.csr_matrix

    @property
    def n_users(self):
        return len(self.interactions.users)

    @property
    def n_items(self):
        return len(self.interactions.items)

    def _rated_train(self):
        """The training rows that hold a rating."""
        return self.train[~np.isnan(self.scaled[self.train])]

    def rating_mean(self):
        """Weighted mean scaled rating of the rated training rows (0.5 without any)."""
        rows = self._rated_train()
        weights = self.weights[rows]
        return float(np.average(self.scaled[rows], weights=weights)) if weights.sum() else 0.5

    def ratings_per_item(self):
        """Rated training rows per item with a training row (0 without ratings)."""
        return len(self._rated_train()) / max(self._ids_in_train(self.items), 1)

    def ratings_per_user(self):
        """Rated training rows per user with a training row (0 without ratings)."""
        return len(self._rated_train()) / max(self._ids_in_train(self.users), 1)

    def _ids_in_train(self, codes):
        """How many distinct ids ``codes`` (user or item codes of every row) has among the training rows."""
        return np.count_nonzero(np.bincount(codes[self.train]))

    def rated_share(self):
        """Share of the training rows that hold a rating (0 for implicit feedback)."""
        return float(np.mean(~np.isnan(self.scaled[self.train]))) if len(self.train) else 0.0

    def interactions_per_id(self):
        """Training rows per user or per item, whichever is more: ``n / min(n_users, n_items)``.

        The larger of the mean rows per user and per item, over the ids with a training row
        (cold-start ids of side frames do not count); 0 without training rows.
        """
        if not len(self.train):
            return 0.0
        return len(self.train) / min(self._ids_in_train(codes) for codes in (self.users, self.items))

    def penalty_shares(self):
        """``(user_share, item_share)``: each id's weight in the ``"per_id"`` L2 penalty, per training row.

        ``n / c`` for an id of weighted training rows ``c`` (0 for ids without any), with ``n``
        the weighted training rows per user or per item, whichever is more (the weighted
        :meth:`interactions_per_id`). Summed over an id's rows, its share is ``n`` whatever
        its ``c``: the penalty's weighted mean over the rows charges every user and every
        item ``n / sum(weights)`` times its squared norm, once (see ``MultiTaskModel``).
        """
        weights = self.weights[self.train]
        counts = [np.bincount(codes[self.train], weights, minlength=size) for codes, size in ((self.users, self.n_users), (self.items, self.n_items))]
        n = weights.sum() / max(min(np.count_nonzero(c) for c in counts), 1)
        return tuple(np.divide(n, c, out=np.zeros_like(c), where=c > 0).astype("float32") for c in counts)

    def negative_items(self):
        """Item rows the retrieval loss may use as negatives: those with an interaction (not cold-start items).

        An item known only from its side features has no interaction because it is new, not
        because users pass it over: as a negative it would learn to be avoided.
        """
        return np.flatnonzero(self.interactions.popularity() > 0)

    def item_probability(self):
        """Share of the training rows that hold each item: the in-batch sampling probability."""
        counts = np.bincount(self.items[self.train], minlength=self.n_items)
        return counts / max(len(self.train), 1)

    def batches(self, batch_size, seed, *, history=False, max_history=None, max_raters=None, n_negatives=None, prepare=None, multiple=1, id_dropout=None, shares=False, slot_rows=False):
        """Shuffled training batches of the ``train`` rows (see :class:`RatingBatches`).

        ``n_negatives`` uniform negatives per batch are added when not None, with the
        sampling probability of each candidate for the log-Q correction; with ``max_raters``,
        the rater lists of the batch's items (from :attr:`raters`); with ``shares``, each row's
        :meth:`penalty_shares`.
        """
        rows = self.train
        negatives = None if n_negatives is None else (n_negatives, self.item_probability(), self.negative_items())
        return RatingBatches(
            self.users[rows],
            self.items[rows],
            self.scaled[rows].astype("float32"),
            batch_size,
            seed,
            weights=self.weights[rows].astype("float32"),
            history=self.history if history else None,
            max_history=max_history,
            raters=None if max_raters is None else self.raters,
            max_raters=max_raters,
            group_size=GROUP_SIZE if history else 1,
            negatives=negatives,
            prepare=prepare,
            multiple=multiple,
            id_dropout=id_dropout,
            shares=self.penalty_shares() if shares else None,
            slot_rows=slot_rows,
        )

    @functools.cached_property
    def raters(self):
        """Boolean CSR ``[n_items, n_users]``: the users of each item in the training rows (the history's transpose)."""
        return self.history.T.tocsr()

    def held_out_data(self):
        """``(users, items, scaled ratings, weights, seen)`` for the early-stopping score.

        ``seen`` holds the training rows only, so held-out items can be recommended.
        """
        rows = self.held_out
        seen = seen_matrix(self.users[self.train], self.items[self.train], self.n_users, self.n_items)
        return self.users[rows], self.items[rows], self.scaled[rows], self.weights[rows], seen


def build_training_set(user_ids, item_ids, ratings, weights, *, previous=None, validation_fraction=None, seed=0, extra_users=None, extra_items=None):
    """Encode one fit's interactions and merge them with ``previous`` (warm start) if given.

    Parameters
    ----------
    user_ids, item_ids : pandas.Series of shape (n_samples,)
        Validated raw ids.
    ratings : ndarray of float64, shape (n_samples,)
        Validated ratings on the caller's scale, NaN for interactions without a rating.
    weights : ndarray of float64, shape (n_samples,)
        Validated ``sample_weight`` (rating means use them as given; the training set holds
        them divided by their mean).
    previous : Interactions or None
        The fitted state to extend (warm start): known ids keep their rows, new ones are
        appended, the rating range is kept, and seen pairs and means cover both fits.
    validation_fraction : float or None
        Share of the rows to hold out for early stopping; None holds out nothing.
    seed : int
        Seeds the early-stopping split.
    extra_users, extra_items : pandas.Index or None
        Ids that get an embedding row without any interaction (cold-start users and items
        known from their side features); with ``previous``, those it lacks are appended.

    Returns
    -------
    TrainingSet

    Raises
    ------
    ValueError
        If extra ids are of another kind (numbers, strings) than the interactions' ids.
    """
    if previous is None:
        user_encoder = IdEncoder(_with_extra(user_ids, extra_users, "users"))
        item_encoder = IdEncoder(_with_extra(item_ids, extra_items, "items"))
        rating_range = _rating_range(ratings)
    else:
        user_encoder = previous.users.extended(_with_extra(user_ids, extra_users, "users"))
        item_encoder = previous.items.extended(_with_extra(item_ids, extra_items, "items"))
        rating_range = previous.rating_range or _rating_range(ratings)
    u, i = user_encoder.transform(user_ids), item_encoder.transform(item_ids)
    scaled = np.full(len(u), np.nan) if rating_range is None else (ratings - rating_range[0]) / ((rating_range[1] - rating_range[0]) or 1.0)
    train, held_out = np.arange(len(u)), np.arange(0)
    if validation_fraction is not None:
        train, held_out = validation_split(len(u), validation_fraction, seed)
    n_users, n_items = len(user_encoder), len(item_encoder)
    means = RatingMeans.of(u, i, ratings, weights, n_users, n_items)
    old_u, old_i = np.arange(0), np.arange(0)
    if previous is not None:
        old_u, old_i = previous.seen_pairs()
        means = previous.means.merged(means)
    seen = seen_matrix(np.concatenate([old_u, u]), np.concatenate([old_i, i]), n_users, n_items)
    history = seen_matrix(np.concatenate([old_u, u[train]]), np.concatenate([old_i, i[train]]), n_users, n_items)
    interactions = Interactions(user_encoder, item_encoder, rating_range, seen, means)
    return TrainingSet(interactions, u, i, scaled, unit_mean(weights), train, held_out, history)


def unit_mean(weights):
    """``weights`` divided by their mean, computed without overflow (the largest is at most ``n``).

    Every loss is a weighted mean, so a constant factor changes nothing; scaled so, weights of
    any finite positive scale (1e-300, 1e300) stay inside float32's range in the batches.
    """
    scaled = weights / weights.max()
    return scaled / scaled.mean()


def _with_extra(ids, extra, name):
    """``ids`` followed by the ``extra`` ids, which must be of the same kind."""
    if extra is None or not len(extra):
        return ids
    kinds = id_kind(pd.Index(extra)), id_kind(pd.Index(pd.unique(ids)))
    if kinds[0] != kinds[1]:
        raise ValueError(
            f"The ids of the `{name}` frame are {kinds[0]} but those of X are {kinds[1]}: one id would be two. "
            f"Convert one of them, e.g. with .astype(str)."
        )
    return pd.concat([pd.Series(ids).reset_index(drop=True), pd.Series(extra)], ignore_index=True).rename(getattr(ids, "name", None))


def _rating_range(ratings):
    """``(lowest, highest)`` rating, None without any; ``ValueError`` if their difference overflows."""
    if np.isnan(ratings).all():
        return None
    low, high = float(np.nanmin(ratings)), float(np.nanmax(ratings))
    with np.errstate(over="ignore"):
        span = high - low
    if not np.isfinite(span):
        raise ValueError(
            f"The ratings span from {low:g} to {high:g}: their difference is not a finite number, so "
            f"they cannot be scaled to [0, 1]. Rescale y (e.g. divide it by a constant) before fit."
        )
    return low, high


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


def rater_weights(raters):
    """``raters`` (CSR ``[n_items, n_users]``, an item's users) weighted :func:`implicit_weights` of ``|R(i)|`` per row ``i``.

    Its product with a user table is every item's rater term (``MultiTaskModel.set_rater_terms``).
    """
    weighted = raters.astype("float64")
    counts = np.diff(weighted.indptr)
    weighted.data = np.repeat(implicit_weights(counts), counts)
    return weighted


def implicit_weights(lengths):
    """Each entry's weight in an implicit-feedback sum of a list of ``lengths`` entries.

    ``n ** -0.5`` for a list of ``n <= IMPLICIT_SUM_CAP`` entries (SVD++'s normalisation),
    ``IMPLICIT_SUM_CAP ** 0.5 / n`` for a longer one: the sum of ``n`` equal rows grows as
    ``sqrt(n)`` up to the cap and no further.

    >>> implicit_weights([4, 4096]).tolist()
    [0.5, 0.0078125]
    """
    n = np.maximum(np.asarray(lengths, dtype=np.float64), 1.0)
    return np.where(n <= IMPLICIT_SUM_CAP, 1.0 / np.sqrt(n), np.sqrt(IMPLICIT_SUM_CAP) / n)


def seen_matrix(u, i, n_users, n_items):
    """Boolean CSR (users x items) of the pairs ``(u[j], i[j])``, duplicates merged."""
    seen = sp.csr_matrix((np.ones(len(u), dtype=bool), (u, i)), shape=(n_users, n_items))
    seen.sum_duplicates()
    return seen


def _pad(values, n):
    """``values`` with zeros appended up to length ``n`` (rows of ids new in this fit)."""
    return np.pad(values, (0, n - len(values)))


def _pairs(matrix):
    """The (row, column) pairs of a CSR matrix, in row order."""
    return np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr)), matrix.indices


def history_lists(history, users, max_history=None, rng=None):
    """The SVD++ history of each of ``users`` as flat lists ``(items, rows, weights)``.

    ``rows[j]`` is the position in ``users`` whose history holds ``items[j]``. A user with
    ``n`` history items gets each with weight :func:`implicit_weights` (``n ** -0.5`` up to
    ``IMPLICIT_SUM_CAP`` items), so that the weighted sum of their rows is the SVD++ term. With
    ``max_history``, a longer history is replaced by a systematic sample of ``max_history`` of
    its items (each item kept with probability ``max_history / n``, none twice, drawn from
    ``rng``), weighted ``n / max_history`` times that (``sqrt(n) / max_history`` up to the
    cap): the expected sum is the full one, at a cost that does not grow with the history.

    Parameters
    ----------
    history : scipy.sparse.csr_matrix, shape (n_users, n_items)
    users : ndarray of int, shape (n,)
    max_history : int or None
    rng : numpy.random.Generator or None
        Needed when ``max_history`` is given.

    Returns
    -------
    items, rows : ndarray of int32
    weights : ndarray of float32
    """
    start = history.indptr[users]
    length = history.indptr[users + 1] - start
    kept = length if max_history is None else np.minimum(length, max_history)
    rows = np.repeat(np.arange(len(users)), kept)
    position = np.arange(len(rows)) - np.repeat(np.cumsum(kept) - kept, kept)
    weight = implicit_weights(length)
    if max_history is not None:
        long = length > max_history
        # Systematic sampling: positions floor((k + offset) * n / max_history), k < max_history.
        offset = np.repeat(rng.random(len(users)), kept)
        sampled = ((position + offset) * np.repeat(length / max_history, kept)).astype(np.int64)
        position = np.where(np.repeat(long, kept), sampled, position)
        weight = np.where(long, np.sqrt(np.minimum(length, IMPLICIT_SUM_CAP)) / max_history, weight)
    items = history.indices[np.repeat(start, kept) + position]
    return items.astype("int32"), rows.astype("int32"), np.repeat(weight, kept).astype("float32")


def run_lengths(users, group_size):
    """Lengths of the runs :func:`grouped_order` splits the rows of ``users`` into (in no order).

    A user's ``n`` rows make ``r = ceil(n / group_size)`` runs: ``n % r`` of ``n // r + 1``
    rows and the others of ``n // r``.
    """
    n = np.bincount(users)
    n = n[n > 0]
    runs = -(-n // group_size)
    longer = n % runs
    return np.concatenate([np.repeat(n // runs + 1, longer), np.repeat(n // runs, runs - longer)])


def slot_bound(users, group_size, batch_size):
    """The most distinct users a batch of :class:`RatingBatches` can hold, at most ``batch_size``.

    A batch is ``batch_size`` consecutive rows of :func:`grouped_order`'s runs (the last one
    topped up with the epoch's first rows): whole runs whose lengths sum to at most
    ``batch_size`` and at most four cut ones, so the bound is the count of the shortest runs
    that fit in a batch, plus four.
    """
    whole = np.searchsorted(np.cumsum(np.sort(run_lengths(users, group_size))), batch_size, side="right")
    return int(min(batch_size, whole + 4))


def list_entries_bound(users, list_lengths, group_size, batch_size):
    """The most list entries a batch of :class:`RatingBatches` can hold, each user giving one list.

    ``list_lengths[u]`` is the length of user ``u``'s (capped) list. A user in a batch holds a
    whole run of its rows (at least its shortest run, :func:`run_lengths`) unless all its rows
    there are in one of the batch's at most four cut runs. So the bound is four of the longest
    lists plus the most list entries that users' shortest runs can pack into ``batch_size`` rows
    (the fractional knapsack, an upper bound of the whole one).
    """
    n = np.bincount(users)
    present = np.flatnonzero(n)
    value, cost = list_lengths[present].astype(np.float64), n[present] // -(-n[present] // group_size)
    order = np.argsort(-value / cost, kind="stable")
    value, cost = value[order], cost[order]
    filled = np.cumsum(cost)
    k = int(np.searchsorted(filled, batch_size, side="right"))
    packed = value[:k].sum()
    if k < len(value):
        packed += (batch_size - (filled[k - 1] if k else 0)) * value[k] / cost[k]
    return int(np.ceil(packed)) + 4 * int(value.max(initial=0))


def capped_lists_bound(lengths, batch_size):
    """The most entries the lists of ``batch_size`` distinct rows can hold, ``lengths`` their capped lengths.

    A batch of ``batch_size`` rows names at most that many distinct items, each giving one
    rater list: the bound is the sum of the longest ``batch_size`` capped lengths.
    """
    return max(1, int(np.sort(lengths)[::-1][:batch_size].sum()))


def likely_lists_bound(lengths, rows_per_list, batch_size, deviations=LIKELY_BOUND_DEVIATIONS):
    """Entries that the lists of a batch's distinct ids exceed with negligible probability.

    A batch of ``batch_size`` rows, drawn from ``n = rows_per_list.sum()``, names list ``i``
    with probability ``p_i = 1 - (1 - rows_per_list[i] / n) ** batch_size``; the entries of its
    lists have mean ``sum(lengths * p)`` and variance ``sum(lengths**2 * p * (1 - p))`` (the
    lists named independently), and the bound is the mean plus ``deviations`` standard
    deviations. A batch that needs more has its lists cut to fit (:func:`_fitting_cap`).
    """
    lengths, rows = np.asarray(lengths, dtype=np.float64), np.asarray(rows_per_list, dtype=np.float64)
    p = 1.0 - (1.0 - rows / max(rows.sum(), 1.0)) ** batch_size
    mean, variance = float((lengths * p).sum()), float((lengths**2 * p * (1.0 - p)).sum())
    return max(1, int(np.ceil(mean + deviations * np.sqrt(variance))))


def grouped_order(users, group_size, rng):
    """A random order of rows in which each user's rows come in runs of at most ``group_size``.

    Each user's rows are shuffled and split into ``ceil(n / group_size)`` runs of near-equal
    length (so at least ``group_size // 2`` rows for users with more rows than that); the runs
    of all users are then shuffled. ``group_size=1`` is a plain shuffle.
    """
    if group_size == 1:
        return rng.permutation(len(users))
    order = np.lexsort((rng.random(len(users)), users))
    sorted_users = users[order]
    start = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    length = np.diff(np.r_[start, len(users)])
    runs = -(-length // group_size)
    position = np.arange(len(users)) - np.repeat(start, length)
    run = np.repeat(np.cumsum(runs) - runs, length) + position * np.repeat(runs, length) // np.repeat(length, length)
    return order[np.argsort(rng.random(runs.sum())[run], kind="stable")]


class RatingBatches(keras.utils.PyDataset):
    """Shuffled mini-batches of encoded ratings, reshuffled each epoch by a private generator.

    All batches have ``batch_size`` rows (unless the data set is smaller: its one batch is then
    padded with zero-weight rows to a multiple of ``multiple``): the last one is completed with
    the epoch's first rows, which are then seen twice in that epoch. Each batch is ``({"user",
    "item", "rated", ...}, scaled ratings, weights)``; ``"rated"`` is 0 for interactions
    without a rating (whose rating is given as 0). With a ``history`` matrix, the rows come
    in runs of up to ``group_size`` ratings of one user (:func:`grouped_order`) and the inputs
    also hold the SVD++ history of the batch's distinct users (:func:`history_lists`; each
    row's ``user_slot`` is its user's position among them), padded with zero weights to a
    fixed number of entries so that every batch has one shape; if the batch's histories would
    not fit, every user's cap is lowered until they do. With ``slot_rows`` as well, they hold
    ``"slot_row"``: one row of each slot, padded with row 0 to :func:`slot_bound` slots, so
    that a term shared by a user's rows (the catalogue softmax's normaliser) is computed once
    per slot. With a ``raters`` matrix (items x users)
    the inputs also hold the rater lists of the batch's distinct items (``"rater_user"``,
    ``"rater_row"``, ``"rater_weight"``; each row's ``"item_slot"``), at most ``max_raters``
    per item, as :func:`history_lists` samples histories, padded to ``max_raters /
    RATER_BUDGET_DIVISOR`` entries per row; if they would not fit, every item's cap is
    lowered until they do. With ``negatives = (n,
    item_probability, eligible)`` the inputs hold the ``"candidate"`` items of ``n`` draws (half
    of them from the batch's items, which follow ``item_probability``, half uniform over the
    ``eligible`` items), each listed once and padded to ``n``, with ``"candidate_probability"`` and
    ``"own_probability"`` (the probability that one draw is the candidate, or the row's own
    item; zero marks padding) and each row's ``"positive"`` column (see
    ``MultiTaskModel._sampled_logits``). With ``id_dropout = (rate, featured users, featured
    items)`` the inputs hold ``"user_keep"`` and ``"item_keep"`` (see :meth:`_id_keep`).
    With ``shares = (user_share, item_share)`` (per id) they hold each row's ``"user_share"``
    and ``"item_share"`` and, with a history (raters), its item as ``"penalty_item"`` (user as
    ``"penalty_user"``): the ``"per_id"`` penalty's inputs (see ``MultiTaskModel``).
    ``prepare`` (e.g. the row-sparse step's) transforms the inputs.

    Owning the randomness (rather than ``model.fit(shuffle=True)``, which draws from NumPy's
    or TensorFlow's global generator) makes training reproducible without touching global
    state: the order comes from ``seed``, and batch ``index`` of epoch ``e`` draws its samples
    from a generator seeded by ``(seed, e, index)``, whatever order batches are loaded in.
    """

    def __init__(
        self,
        users,
        items,
        ratings,
        batch_size,
        seed,
        *,
        weights=None,
        history=None,
        max_history=None,
        raters=None,
        max_raters=None,
        group_size=1,
        negatives=None,
        prepare=None,
        multiple=1,
        id_dropout=None,
        shares=None,
        slot_rows=False,
    ):
        super().__init__()
        self._id_dropout, self._shares = id_dropout, shares
        weights = np.ones(len(ratings), "float32") if weights is None else weights
        self._data = (users.astype("int32"), items.astype("int32"), ratings, weights)
        self._batch_size, self._multiple = batch_size, multiple
        self._seed, self._epoch, self._group_size = seed, 0, group_size
        self._rng = np.random.default_rng(seed)
        self._order = grouped_order(self._data[0], group_size, self._rng)
        self._history, self._max_history = history, max_history
        self._longest_history = 1 if history is None else max(1, int(np.diff(history.indptr).max(initial=1)))
        self._history_bound = None
        if history is not None:
            lengths = np.diff(history.indptr) if max_history is None else np.minimum(np.diff(history.indptr), max_history)
            self._history_bound = _round_up(self._history_entries_bound(lengths, group_size, batch_size), multiple)
        self._negatives, self._prepare = negatives, prepare
        self._raters, self._max_raters = raters, max_raters
        self._rater_bound = None if raters is None else _round_up(self._rater_entries_bound(raters, max_raters, batch_size), multiple)
        # Rounded up to the number of devices: under data parallelism every input is split across them.
        self._n_slots = _round_up(slot_bound(users, group_size, batch_size), multiple) if slot_rows and history is not None else None

    def __len__(self):
        return -(-len(self._order) // self._batch_size)

    def __getitem__(self, index):
        rows = self._order[index * self._batch_size : (index + 1) * self._batch_size]
        if 0 < len(rows) < self._batch_size <= len(self._order):
            # Top the last batch up with the epoch's first rows (distinct from its own), so that
            # every step has one shape and the train step compiles once instead of twice.
            rows = np.concatenate([rows, self._order[: self._batch_size - len(rows)]])
        users, items, ratings, weights = (a[rows] for a in self._data)
        users, items, ratings, weights = self._padded(users, items, ratings, weights)
        rated = ~np.isnan(ratings)
        inputs = {"user": users, "item": items, "rated": rated.astype("float32")}
        rng = np.random.default_rng([self._seed, self._epoch, index])
        if self._history is not None:
            inputs.update(self._history_inputs(users, rng))
        if self._raters is not None:
            inputs.update(self._rater_inputs(items, rng))
        if self._negatives is not None:
            inputs.update(self._negative_inputs(items, rng))
        if self._id_dropout is not None:
            inputs.update(self._id_keep(users, items, rng))
        if self._shares is not None:
            inputs.update(self._share_inputs(users, items))
        inputs = self._prepare(inputs) if self._prepare else inputs
        return inputs, np.where(rated, ratings, 0).astype("float32"), weights

    def _padded(self, *columns):
        """A batch smaller than ``batch_size`` (a small data set) padded to a multiple of ``multiple``.

        Under a data-parallel distribution each device takes an equal share of the batch;
        the padding repeats the first row with weight zero, so it carries no loss.
        """
        pad = -len(columns[0]) % self._multiple
        if not pad:
            return columns
        users, items, ratings, weights = (np.concatenate([c, np.repeat(c[:1], pad)]) for c in columns)
        weights[-pad:] = 0
        return users, items, ratings, weights

    def history_budget(self, n_rows):
        """History entries per batch: ``2 * max_history / group_size`` per row (at least one), or fewer when no batch can hold that many (:func:`list_entries_bound`)."""
        cap = self._max_history or self._longest_history
        return max(self._multiple, min(n_rows * max(1, -(-2 * cap // self._group_size)), self._history_bound))

    def _history_inputs(self, users, rng):
        slot_users, first, slots = np.unique(users, return_index=True, return_inverse=True)
        budget = self.history_budget(len(users))
        indptr = self._history.indptr
        cap = _fitting_cap(indptr[slot_users + 1] - indptr[slot_users], self._max_history, budget)
        lists = history_lists(self._history, slot_users, cap, rng)
        out = {"user_slot": slots.astype("int32"), **padded_lists(lists, budget, "history_item", "history")}
        if self._n_slots is not None:
            n_slots = min(self._n_slots, len(users))  # a small data set's one padded batch
            out["slot_row"] = np.concatenate([first, np.zeros(n_slots - len(first), np.int64)]).astype("int32")
        return out

    def _history_entries_bound(self, lengths, group_size, batch_size):
        """The history entries to pad a batch to: what any batch can hold, or what one holds but with negligible probability if less.

        A batch is about ``batch_size / mean run length`` of the users' runs of rows, so user ``u``
        is in it with the probability of one of its ``ceil(n_u / group_size)`` runs being drawn.
        """
        users = self._data[0]
        runs = -(-np.bincount(users, minlength=len(lengths))[: len(lengths)] // group_size)
        runs_per_batch = int(np.ceil(batch_size * runs.sum() / max(len(users), 1)))
        return min(list_entries_bound(users, lengths, group_size, batch_size), likely_lists_bound(lengths, runs, runs_per_batch))

    def _rater_entries_bound(self, raters, max_raters, batch_size):
        """The rater entries to pad a batch to: what any batch can hold, or what one holds but with negligible probability if less."""
        lengths = np.minimum(np.diff(raters.indptr), max_raters or np.iinfo(np.int64).max)
        rows_per_item = np.bincount(self._data[1], minlength=len(lengths))[: len(lengths)]
        return min(capped_lists_bound(lengths, batch_size), likely_lists_bound(lengths, rows_per_item, batch_size))

    def rater_budget(self, n_rows):
        """Rater entries per batch: ``max_raters / RATER_BUDGET_DIVISOR`` per row (at least one), or fewer when no batch can hold that many (:func:`capped_lists_bound`) or one holds it with negligible probability (:func:`likely_lists_bound`)."""
        return min(n_rows * max(1, -(-self._max_raters // RATER_BUDGET_DIVISOR)), self._rater_bound)

    def _rater_inputs(self, items, rng):
        """The rater lists of the batch's distinct items, padded to :meth:`rater_budget` entries."""
        slot_items, slots = np.unique(items, return_inverse=True)
        budget = self.rater_budget(len(items))
        indptr = self._raters.indptr
        cap = _fitting_cap(indptr[slot_items + 1] - indptr[slot_items], self._max_raters, budget)
        lists = history_lists(self._raters, slot_items, cap, rng)
        return {"item_slot": slots.astype("int32"), **padded_lists(lists, budget, "rater_user", "rater")}

    def _negative_inputs(self, items, rng):
        """The sampled candidates of a batch, padded; see the class doc."""
        n, popularity, eligible = self._negatives
        from_batch = min(n // 2, len(items))
        draws = np.concatenate([rng.choice(items, from_batch, replace=False), eligible[rng.integers(0, len(eligible), n - from_batch)]])
        candidates = np.unique(draws)
        probability = lambda ids: (from_batch * popularity[ids] + (n - from_batch) / len(eligible)) / n  # noqa: E731
        column = np.minimum(np.searchsorted(candidates, items), len(candidates) - 1)
        pad = n - len(candidates)
        return {
            "candidate": np.concatenate([candidates, np.full(pad, candidates[0])]).astype("int32"),
            "candidate_probability": np.concatenate([probability(candidates), np.zeros(pad)]).astype("float32"),
            "own_probability": probability(items).astype("float32"),
            "positive": np.where(candidates[column] == items, column + 1, 0).astype("int32"),
        }

    def _id_keep(self, users, items, rng):
        """``user_keep``/``item_keep``: 0 where a row's own embedding is hidden (``id_dropout``), else 1.

        Only ids with features are hidden, each row independently with probability ``rate``.
        """
        rate, featured_users, featured_items = self._id_dropout
        out = {}
        for key, ids, featured in (("user_keep", users, featured_users), ("item_keep", items, featured_items)):
            hidden = rng.random(len(ids)) < rate
            out[key] = (1.0 - (hidden & featured[ids] if featured is not None else 0 * hidden)).astype("float32")
        return out

    def _share_inputs(self, users, items):
        """Each row's penalty shares, and its ids for the penalty of its own implicit-table rows."""
        user_share, item_share = self._shares
        out = {"user_share": user_share[users], "item_share": item_share[items]}
        if self._history is not None:
            out["penalty_item"] = items
        if self._raters is not None:
            out["penalty_user"] = users
        return out

    def on_epoch_end(self):
        self._epoch += 1
        self._order = grouped_order(self._data[0], self._group_size, self._rng)


def _round_up(n, multiple):
    """The least multiple of ``multiple`` that is at least ``n``."""
    return -(-n // multiple) * multiple


def padded_lists(lists, budget, key, prefix):
    """``(ids, rows, weights)`` of :func:`history_lists` as inputs ``key``, ``<prefix>_row``, ``<prefix>_weight``, padded to ``budget``.

    Padding entries have weight zero and the last list's row, so the rows stay in ascending order.
    """
    ids, rows, weights = lists
    pad = budget - len(ids)
    return {
        key: np.concatenate([ids, np.zeros(pad, "int32")]),
        f"{prefix}_row": np.concatenate([rows, np.full(pad, rows[-1] if len(rows) else 0, "int32")]),
        f"{prefix}_weight": np.concatenate([weights, np.zeros(pad, "float32")]),
    }


def _fitting_cap(lengths, cap, budget):
    """The largest per-list cap (at most ``cap``) whose capped list lengths sum to at most ``budget``."""
    cap = cap or int(lengths.max(initial=1))
    if np.minimum(lengths, cap).sum() <= budget:
        return cap
    low, high = 1, cap  # sum(min(lengths, low)) <= budget < sum(min(lengths, high))
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if np.minimum(lengths, middle).sum() <= budget else (low, middle)
    return low
