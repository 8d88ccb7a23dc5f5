"""Generate synthetic explicit-feedback rating sets (MovieLens columns) with a known, learnable structure.

:func:`make_interactions` is for benchmarks (protocol S of ``BENCHMARK.md``) that need more data
than MovieLens 100k: 10^5 to 10^7 ratings over catalogues of up to 10^5 items and up to 10^6
users. The ratings come from a latent-factor model, so prediction quality can be measured on them,
not only speed. Nothing here imports Keras.
"""

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

__all__ = ["make_interactions"]

# Timestamps fall in [2000-01-01, 2010-01-01) UTC: each user starts at a uniform random time and
# rates at that time plus an exponential delay (mean 60 days), cut at the end of the period.
_T_START = 946_684_800
_T_END = 1_262_304_000
_MEAN_DELAY = 60 * 86_400

# Standard deviations of the latent model, in stars of a 1-5 scale (multiplied by a quarter of the
# rating range for other scales). The centre sits 5/8 of the way up the scale (3.5 of 1-5).
_USER_BIAS_STD = 0.4
_ITEM_BIAS_STD = 0.5
_INTERACTION_STD = 0.6
_CENTRE = 0.625

# Pairs whose expected number of draws in the sampling process exceeds this are enumerated
# (keys drawn directly) instead of being drawn; see _first_draws.
_EXPLICIT_RATE = 1.0
_CHUNK = 1 << 22  # pairs per block when enumerating or scoring, to bound memory


def _check_int(name, value, low):
    if not isinstance(value, Integral) or isinstance(value, (bool, np.bool_)) or value < low:
        raise ValueError(
            f"The {name!r} parameter of make_interactions must be an int in the range [{low}, inf). "
            f"Got {value!r} instead."
        )
    return int(value)


def _check_real(name, value, low, high):
    ok = isinstance(value, Real) and not isinstance(value, (bool, np.bool_)) and low <= value <= high
    ok = ok and np.isfinite(value)
    if not ok:
        high_text = "inf)" if high == np.inf else f"{high}]"
        raise ValueError(
            f"The {name!r} parameter of make_interactions must be a float in the range [{low}, {high_text}. "
            f"Got {value!r} instead."
        )
    return float(value)


def _check_rating_scale(rating_scale):
    ok = (
        isinstance(rating_scale, (tuple, list))
        and len(rating_scale) == 2
        and all(isinstance(v, Integral) and not isinstance(v, (bool, np.bool_)) for v in rating_scale)
        and rating_scale[0] < rating_scale[1]
    )
    if not ok:
        raise ValueError(
            "The 'rating_scale' parameter of make_interactions must be a tuple (low, high) of two ints "
            f"with low < high. Got {rating_scale!r} instead."
        )
    return int(rating_scale[0]), int(rating_scale[1])


def _check_columns(user_col, item_col):
    for name, value in [("user_col", user_col), ("item_col", item_col)]:
        if not isinstance(value, str) or value in ("rating", "timestamp"):
            raise ValueError(
                f"The {name!r} parameter of make_interactions must be a str other than 'rating' and "
                f"'timestamp'. Got {value!r} instead."
            )
    if user_col == item_col:
        raise ValueError(f"user_col and item_col must differ. Both are {user_col!r}.")


def _power_law(n, exponent):
    """Weights proportional to ``rank ** -exponent`` for ranks 1..n, summing to 1 (decreasing)."""
    weights = np.arange(1, n + 1, dtype=np.float64) ** -exponent
    return weights / weights.sum()


def _coverage_pairs(n_users, n_items, n_ratings, user_w, item_w, rng):
    """``min(n_ratings, max(n_users, n_items))`` distinct pairs that include every user if
    ``n_ratings >= n_users`` and every item if ``n_ratings >= n_items``.

    Returns the user and item ranks, and which side (``"user"`` or ``"item"``) has no repeats.
    """
    size = min(n_ratings, max(n_users, n_items))

    def side(n, weights):
        if n <= size:  # everyone once, the rest drawn by weight
            return rng.permutation(np.concatenate([np.arange(n), rng.choice(n, size - n, p=weights)]))
        # size distinct ones, without replacement by weight (exponential keys, Efraimidis-Spirakis)
        keys = rng.standard_exponential(n) / weights
        return rng.permutation(np.argpartition(keys, size - 1)[:size])

    users, items = side(n_users, user_w), side(n_items, item_w)
    # The larger side has no repeats (it is a permutation or a sample without replacement), so
    # the pairs are distinct.
    return users, items, ("user" if n_users >= n_items else "item")


def _rank_bins(weights, ratio=1.02):
    """Group decreasing power-law weights into runs of near-equal weight: (counts, mean weights)."""
    n = len(weights)
    starts = np.unique(np.geomspace(1, n + 1, max(2, int(np.log(n + 1) / np.log(ratio)))).astype(np.int64)) - 1
    starts = starts[starts < n]
    counts = np.diff(np.append(starts, n))
    return counts, np.add.reduceat(weights, starts) / counts


def _solve_rate(target, user_w, item_w):
    """The time ``tau`` at which the pair process has ``target`` distinct pairs in expectation.

    Pair ``(u, i)`` is drawn at rate ``user_w[u] * item_w[i]``, so it has been drawn by time tau
    with probability ``1 - exp(-tau * w)``; the sum over pairs is computed on binned weights.
    """
    user_counts, user_means = _rank_bins(user_w)
    item_counts, item_means = _rank_bins(item_w)
    counts = np.multiply.outer(user_counts, item_counts).astype(np.float64)
    rates = np.multiply.outer(user_means, item_means)
    top = np.log(60.0 / (user_w[-1] * item_w[-1]))  # every pair drawn, but with prob. ~e^-60
    if target >= counts.sum() - 0.5:
        return float(np.exp(top))
    low, high = np.log(target), top
    for _ in range(60):
        mid = 0.5 * (low + high)
        if np.sum(counts * -np.expm1(-np.exp(mid) * rates)) < target:
            low = mid
        else:
            high = mid
    return float(np.exp(high))


def _sorted_uniforms(counts, rng):
    """For each segment ``k`` (of length ``counts[k]``), that many sorted uniforms on (0, 1).

    They are the uniform order statistics: partial sums of ``counts[k] + 1`` exponential spacings
    divided by their total. The running sum is kept centred (spacings minus their mean 1) so it
    stays small and precise over millions of values.
    """
    lengths = counts[counts > 0]
    size = int(lengths.sum()) + len(lengths)
    walk = rng.standard_exponential(size)
    walk -= 1.0
    np.cumsum(walk, out=walk)
    last = np.cumsum(lengths + 1) - 1  # each segment's extra spacing
    before = np.zeros(len(lengths))
    before[1:] = walk[last[:-1]]
    span = walk[last] - before + (lengths + 1)
    keep = np.ones(size, dtype=bool)
    keep[last] = False
    segment = np.repeat(np.arange(len(lengths)), lengths)
    n_summed = np.flatnonzero(keep) - (last - lengths)[segment] + 1
    return (walk[keep] - before[segment] + n_summed) / span[segment]


def _first_draws(user_w, item_w, tau, rng):
    """All pairs first drawn before time ``tau``, with that time (their Efraimidis-Spirakis key).

    Pairs are drawn at rate ``user_w[u] * item_w[i]``. For the head pairs whose expected number of
    draws ``tau * w`` exceeds ``_EXPLICIT_RATE`` (a staircase: items ``< cut[u]`` of user ``u``),
    the first draw time is an exponential variable drawn directly; the other pairs are drawn as a
    Poisson process on their complement, so the work stays proportional to the pairs returned
    however skewed the weights are. Returns (pair codes ``u * n_items + i``, times), sorted by
    code within each of the two parts.
    """
    n_users, n_items = len(user_w), len(item_w)
    # cut[u] = number of items with tau * user_w[u] * item_w[i] > _EXPLICIT_RATE (item_w decreases)
    cut = np.searchsorted(-item_w, -_EXPLICIT_RATE / (tau * user_w), side="left")
    codes, times = [], []

    # Head: enumerate the staircase in blocks of about _CHUNK pairs.
    ends = np.cumsum(cut)
    start = 0
    while start < n_users and cut[start] > 0:
        stop = max(start + 1, int(np.searchsorted(ends, ends[start] - cut[start] + _CHUNK, side="right")))
        counts = cut[start:stop]
        users = np.repeat(np.arange(start, stop), counts)
        items = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        time = rng.standard_exponential(len(users)) / (user_w[users] * item_w[items])
        keep = time < tau
        codes.append(users[keep] * np.int64(n_items) + items[keep])
        times.append(time[keep])
        start = stop

    # Tail: a Poisson process on the pairs (u, i >= cut[u]). User u is drawn Poisson(tau * rate)
    # times, each time with item i >= cut[u] of probability item_w[i] / tail[cut[u]].
    tail = np.append(np.cumsum(item_w[::-1])[::-1], 0.0)  # tail[j] = sum(item_w[j:]), precise
    n_draws = rng.poisson(tau * user_w * tail[cut])
    users = np.repeat(np.arange(n_users), n_draws)
    # Inverse CDF with sorted uniforms per user: items come out sorted, so codes need no sort.
    level = (1.0 - _sorted_uniforms(n_draws, rng)) * tail[cut[users]]
    items = np.searchsorted(-tail, -level, side="left") - 1  # the i with tail[i] > level >= tail[i + 1]
    del level
    np.clip(items, cut[users], n_items - 1, out=items)
    pair = users * np.int64(n_items) + items
    del users, items
    if len(pair):
        first = np.flatnonzero(np.concatenate([[True], pair[1:] != pair[:-1]]))
        repeats = np.diff(np.append(first, len(pair)))
        # The first of m uniform draw times on [0, tau] is tau * Beta(1, m).
        codes.append(pair[first])
        times.append(tau * -np.expm1(np.log1p(-rng.random(len(first))) / repeats))
    if not codes:
        return np.empty(0, dtype=np.int64), np.empty(0)
    return np.concatenate(codes), np.concatenate(times)


def _sample_pairs(n_users, n_items, n_ratings, user_w, item_w, rng):
    """Distinct (user rank, item rank) pairs: coverage pairs, then weighted sampling of the rest.

    The rest are the ``n_ratings - len(coverage)`` pairs of smallest key ``E / (user_w[u] *
    item_w[i])`` among the pairs not yet taken (Efraimidis-Spirakis weighted sampling without
    replacement, the same law as drawing pairs by weight one at a time and skipping repeats).
    """
    cover_users, cover_items, unique_side = _coverage_pairs(n_users, n_items, n_ratings, user_w, item_w, rng)
    need = n_ratings - len(cover_users)
    if need == 0:
        return cover_users, cover_items
    # The side without repeats maps each of its members to its one coverage partner.
    if unique_side == "user":
        partner = np.full(n_users, -1, dtype=np.int64)
        partner[cover_users] = cover_items
    else:
        partner = np.full(n_items, -1, dtype=np.int64)
        partner[cover_items] = cover_users

    tau = _solve_rate(n_ratings * 1.01 + 3 * np.sqrt(n_ratings) + 10, user_w, item_w)
    while True:
        codes, times = _first_draws(user_w, item_w, tau, rng)
        users, items = np.divmod(codes, np.int64(n_items))
        taken = partner[users] == items if unique_side == "user" else partner[items] == users
        keep = ~taken
        users, items, times = users[keep], items[keep], times[keep]
        if len(times) >= need:
            break
        tau *= 1.5  # rare: fewer pairs than expected; draw again over a longer time
    if len(times) > need:
        best = np.sort(np.argpartition(times, need - 1)[:need])  # sorted: keeps users in order
        users, items = users[best], items[best]
    return np.concatenate([cover_users, users]), np.concatenate([cover_items, items])


def _ratings(users, items, n_users, n_items, n_factors, noise, rating_scale, rng):
    """Integer ratings from the latent-factor model of :func:`make_interactions` (see its Notes)."""
    low, high = rating_scale
    scale = (high - low) / 4.0
    centre = low + _CENTRE * (high - low)
    user_bias = rng.normal(0.0, _USER_BIAS_STD, n_users)
    item_bias = rng.normal(0.0, _ITEM_BIAS_STD, n_items)
    user_factors = rng.standard_normal((n_users, n_factors))
    item_factors = rng.standard_normal((n_items, n_factors)) / np.sqrt(n_factors)
    ratings = np.empty(len(users), dtype=np.int64)
    for start in range(0, len(users), _CHUNK):
        u, i = users[start : start + _CHUNK], items[start : start + _CHUNK]
        score = user_bias[u] + item_bias[i] + _INTERACTION_STD * np.einsum("ij,ij->i", user_factors[u], item_factors[i])
        score += noise * rng.standard_normal(len(u))
        ratings[start : start + _CHUNK] = np.clip(np.rint(centre + scale * score), low, high)
    return ratings


def _timestamps(users, n_users, rng):
    start = rng.integers(_T_START, _T_END, n_users)
    delay = rng.exponential(_MEAN_DELAY, len(users)).astype(np.int64)
    return np.minimum(start[users] + delay, _T_END - 1)


def make_interactions(
    n_users=1000,
    n_items=500,
    n_ratings=20000,
    *,
    n_factors=8,
    noise=0.5,
    popularity_exponent=1.0,
    activity_exponent=1.0,
    rating_scale=(1, 5),
    user_col="user_id",
    item_col="movie_id",
    random_state=None,
):
    """Generate a synthetic explicit-feedback rating set with MovieLens's columns.

    =================   =====================================================
    Ratings             ``n_ratings``, integers in ``rating_scale`` (1 to 5)
    Users               ``n_users``, ids 1 to ``n_users``
    Items               ``n_items``, ids 1 to ``n_items``
    Pairs               distinct: a user rates an item at most once
    =================   =====================================================

    Which users rate which items is skewed like real data: a few popular items and a few active
    users account for most ratings. The ratings themselves come from a latent-factor model plus
    noise, so a good model predicts them well (an RMSE well below their standard deviation) and
    can learn each user's highest-rated items. It scales to 10^7 ratings over 10^6 users and
    10^5 items (under 10 s and about 1 GB on two cores) without building a users x items
    matrix.

    Parameters
    ----------
    n_users : int, default=1000
        Number of users.
    n_items : int, default=500
        Number of items.
    n_ratings : int, default=20000
        Number of ratings (rows), at most ``n_users * n_items``.
    n_factors : int, default=8
        Number of latent factors of the rating model.
    noise : float, default=0.5
        Standard deviation of the Gaussian noise added to each rating before rounding, in stars
        of a 1-5 scale (it is multiplied by a quarter of the rating range for other scales).
    popularity_exponent : float, default=1.0
        Item popularity follows a power law: the item of popularity rank ``r`` is drawn with
        weight ``r ** -popularity_exponent``. 0 makes all items equally popular. Must be in
        [0, 10].
    activity_exponent : float, default=1.0
        User activity follows the same power law with this exponent. Must be in [0, 10].
    rating_scale : tuple of (int, int), default=(1, 5)
        Lowest and highest rating. Ratings are the integers in between.
    user_col : str, default="user_id"
        Name of the user id column.
    item_col : str, default="movie_id"
        Name of the item id column.
    random_state : int, RandomState instance or None, default=None
        Seed of the generator. Pass an int for the same frame on every call. ``None`` draws
        from numpy's global random state.

    Returns
    -------
    ratings : pandas.DataFrame of shape (n_ratings, 4)
        One row per rating in random order with a default ``RangeIndex``, all columns int64:
        ``user_col`` (1 to ``n_users``), ``item_col`` (1 to ``n_items``), ``rating`` and
        ``timestamp`` (unix seconds in 2000-2009).

    Raises
    ------
    ValueError
        If a parameter is out of range or of the wrong type, or if ``n_ratings`` exceeds
        ``n_users * n_items``.

    See Also
    --------
    fetch_movielens : The real MovieLens 100k ratings, with the same columns.

    Notes
    -----
    **Who rates what.** Users and items get power-law weights ``a_u`` and ``p_i`` by a random
    rank (ids are shuffled, so id 1 is not the most popular). Guarantees:

    - no (user, item) pair appears twice;
    - if ``n_ratings >= n_users`` every user has at least one rating, and if
      ``n_ratings >= n_items`` every item has at least one rating. This is done by
      ``min(n_ratings, max(n_users, n_items))`` coverage pairs in which each member of the larger
      side appears once (all of them when there are enough ratings, else a sample by weight),
      paired with members of the other side drawn by weight (all of them first when there are
      enough ratings);
    - the other pairs are a weighted sample without replacement of the remaining pairs, with
      weight ``a_u * p_i``: the pairs of smallest Efraimidis-Spirakis key ``E / (a_u * p_i)``,
      ``E`` standard exponential, which is the law of drawing pairs by weight one at a time and
      skipping repeats. A popular item saturates when its weight asks for more ratings than
      there are users (it is then rated by nearly every user) and the excess goes to the next
      items, so counts follow the power law below saturation. The same holds for active users.

    **Ratings.** With ``s = (high - low) / 4`` and ``centre = low + 5/8 * (high - low)`` (3.5 on
    1-5), ``rating = clip(round(centre + s * (b_u + b_i + 0.6 * p_u . q_i + noise * eps)), low,
    high)``, where ``b_u ~ N(0, 0.4^2)``, ``b_i ~ N(0, 0.5^2)``, ``eps ~ N(0, 1)``, the user
    factors ``p_u`` are standard normal and the item factors ``q_i`` standard normal divided by
    ``sqrt(n_factors)``, so ``p_u . q_i`` has unit variance whatever ``n_factors``. On 1-5 with
    the defaults the ratings' standard deviation is about 1.0; the true unrounded score
    ``centre + s * (b_u + b_i + 0.6 * p_u . q_i)`` predicts them with an RMSE of about 0.56
    and the true biases alone about 0.79, so a model that learns the factors beats one that
    learns only biases, and each user's highest-rated items can be learned.

    **Timestamps.** Each user starts at a uniform random time in 2000-2009 and rates each item
    after an exponential delay (mean 60 days, cut at the end of 2009), so a user's ratings come
    in a burst, as in MovieLens.

    **Cost.** The sampler never enumerates all pairs: the head pairs, expected to be drawn more
    than once, get their exponential keys directly, and the other pairs are drawn as a Poisson
    process. Work and memory grow with ``n_ratings + n_users + n_items`` whatever the exponents.

    Examples
    --------
    >>> from skrec.datasets import make_interactions
    >>> ratings = make_interactions(n_users=100, n_items=50, n_ratings=1000, random_state=0)
    >>> ratings.shape
    (1000, 4)
    >>> ratings.columns.tolist()
    ['user_id', 'movie_id', 'rating', 'timestamp']
    >>> ratings.dtypes.unique().tolist()
    [dtype('int64')]
    >>> int(ratings["rating"].min()), int(ratings["rating"].max())
    (1, 5)
    >>> bool(ratings.duplicated(["user_id", "movie_id"]).any())
    False
    >>> ratings["user_id"].nunique(), ratings["movie_id"].nunique()
    (100, 50)
    """
    n_users = _check_int("n_users", n_users, 1)
    n_items = _check_int("n_items", n_items, 1)
    n_ratings = _check_int("n_ratings", n_ratings, 1)
    n_factors = _check_int("n_factors", n_factors, 1)
    noise = _check_real("noise", noise, 0.0, np.inf)
    popularity_exponent = _check_real("popularity_exponent", popularity_exponent, 0.0, 10.0)
    activity_exponent = _check_real("activity_exponent", activity_exponent, 0.0, 10.0)
    rating_scale = _check_rating_scale(rating_scale)
    _check_columns(user_col, item_col)
    if n_ratings > n_users * n_items:
        raise ValueError(
            f"n_ratings={n_ratings} exceeds n_users * n_items = {n_users} * {n_items} = {n_users * n_items}, "
            "the number of distinct (user, item) pairs. Lower n_ratings or raise n_users or n_items."
        )
    seeds = check_random_state(random_state).randint(0, 2**32, size=4, dtype=np.uint64)
    rng = np.random.default_rng(seeds)  # much faster than RandomState for the large draws

    user_w = _power_law(n_users, activity_exponent)
    item_w = _power_law(n_items, popularity_exponent)
    users, items = _sample_pairs(n_users, n_items, n_ratings, user_w, item_w, rng)
    # Pairs are mostly sorted by user here, which keeps the factor look-ups cache friendly.
    ratings = _ratings(users, items, n_users, n_items, n_factors, noise, rating_scale, rng)
    timestamps = _timestamps(users, n_users, rng)
    user_ids = rng.permutation(n_users).astype(np.int64) + 1  # rank -> id
    item_ids = rng.permutation(n_items).astype(np.int64) + 1
    order = rng.permutation(n_ratings)
    columns = np.empty((4, n_ratings), dtype=np.int64)  # one block, so pandas need not copy
    np.take(user_ids, users[order], out=columns[0])
    np.take(item_ids, items[order], out=columns[1])
    np.take(ratings, order, out=columns[2])
    np.take(timestamps, order, out=columns[3])
    return pd.DataFrame(columns.T, columns=[user_col, item_col, "rating", "timestamp"], copy=False)
