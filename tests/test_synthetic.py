"""skrec.datasets.make_interactions: format, distinct pairs, coverage, skew, learnability, errors."""

import numpy as np
import pandas as pd
import pytest

from skrec.datasets import _synthetic, make_interactions

COLUMNS = ["user_id", "movie_id", "rating", "timestamp"]


def _pairs(frame, user_col="user_id", item_col="movie_id"):
    return frame[user_col].to_numpy() * (frame[item_col].max() + 1) + frame[item_col].to_numpy()


def test_format():
    ratings = make_interactions(n_users=200, n_items=100, n_ratings=3000, random_state=0)
    assert ratings.shape == (3000, 4)
    assert ratings.columns.tolist() == COLUMNS
    assert (ratings.dtypes == "int64").all()
    assert isinstance(ratings.index, pd.RangeIndex) and ratings.index.equals(pd.RangeIndex(3000))
    assert ratings["user_id"].between(1, 200).all() and ratings["movie_id"].between(1, 100).all()
    assert ratings["timestamp"].between(_synthetic._T_START, _synthetic._T_END - 1).all()
    # Rows are in random order, not grouped by user.
    assert not ratings["user_id"].is_monotonic_increasing


def test_column_names_and_rating_scale():
    ratings = make_interactions(
        50, 40, 500, rating_scale=(0, 10), user_col="u", item_col="i", random_state=0
    )
    assert ratings.columns.tolist() == ["u", "i", "rating", "timestamp"]
    assert ratings["rating"].between(0, 10).all()
    assert ratings["rating"].nunique() > 5


@pytest.mark.parametrize(
    "n_users, n_items, n_ratings, exponents",
    [
        (1000, 500, 20000, (1.0, 1.0)),  # the defaults
        (300, 2000, 30000, (1.5, 1.2)),  # more items than users
        (100, 80, 7000, (3.0, 2.0)),  # dense and very skewed: the head saturates
        (60, 50, 3000, (1.0, 1.0)),  # every pair
        (500, 400, 5000, (0.0, 0.0)),  # uniform
    ],
    ids=["defaults", "wide", "dense-skewed", "full", "uniform"],
)
def test_distinct_pairs_and_coverage(n_users, n_items, n_ratings, exponents):
    ratings = make_interactions(
        n_users,
        n_items,
        n_ratings,
        popularity_exponent=exponents[0],
        activity_exponent=exponents[1],
        random_state=1,
    )
    assert len(ratings) == n_ratings
    assert not ratings.duplicated(["user_id", "movie_id"]).any()
    assert ratings["user_id"].nunique() == n_users
    assert ratings["movie_id"].nunique() == n_items


def test_coverage_of_the_side_that_fits():
    # 300 ratings: enough for the 100 users but not for the 1000 items.
    ratings = make_interactions(100, 1000, 300, random_state=0)
    assert ratings["user_id"].nunique() == 100
    assert not ratings.duplicated(["user_id", "movie_id"]).any()
    # Fewer ratings than users or items: all pairs still distinct.
    ratings = make_interactions(1000, 800, 50, random_state=0)
    assert len(ratings) == 50 and not ratings.duplicated(["user_id", "movie_id"]).any()


@pytest.mark.parametrize("noise", [0.0, 0.5, 3.0])
def test_ratings_are_integers_in_scale(noise):
    ratings = make_interactions(300, 200, 5000, noise=noise, random_state=0)["rating"]
    assert ratings.dtype == "int64"
    assert ratings.between(1, 5).all()
    assert set(ratings.unique()) == {1, 2, 3, 4, 5}


def test_reproducible():
    first = make_interactions(300, 200, 4000, random_state=7)
    pd.testing.assert_frame_equal(first, make_interactions(300, 200, 4000, random_state=7))
    pd.testing.assert_frame_equal(
        first, make_interactions(300, 200, 4000, random_state=np.random.RandomState(7))
    )
    other = make_interactions(300, 200, 4000, random_state=8)
    assert not first.equals(other)
    assert not np.array_equal(np.sort(_pairs(first)), np.sort(_pairs(other)))


def test_none_uses_the_global_random_state():
    np.random.seed(3)
    first = make_interactions(100, 50, 500)
    np.random.seed(3)
    pd.testing.assert_frame_equal(first, make_interactions(100, 50, 500))


def test_popularity_and_activity_are_skewed():
    ratings = make_interactions(2000, 1000, 30000, random_state=0)
    items = ratings["movie_id"].value_counts().to_numpy()  # sorted, largest first
    users = ratings["user_id"].value_counts().to_numpy()
    assert items[:100].sum() > 0.4 * len(ratings)  # top 10% of items
    assert users[:200].sum() > 0.4 * len(ratings)  # top 10% of users
    # Without skew, the top 10% hold little more than 10%.
    flat = make_interactions(
        2000, 1000, 30000, popularity_exponent=0, activity_exponent=0, random_state=0
    )
    assert flat["movie_id"].value_counts().to_numpy()[:100].sum() < 0.15 * len(flat)
    # A larger exponent is more skewed.
    steep = make_interactions(2000, 1000, 30000, popularity_exponent=1.5, random_state=0)
    assert steep["movie_id"].value_counts().to_numpy()[:10].sum() > items[:10].sum()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bias_baseline_beats_the_global_mean(seed):
    ratings = make_interactions(random_state=seed)
    shuffled = ratings.sample(frac=1.0, random_state=seed)
    train, test = shuffled.iloc[:16000], shuffled.iloc[16000:]
    mean = train["rating"].mean()
    # Damped item then user means (a classic bias baseline).
    item_groups = (train["rating"] - mean).groupby(train["movie_id"])
    item_bias = item_groups.sum() / (item_groups.count() + 5)
    residual = train["rating"] - mean - train["movie_id"].map(item_bias)
    user_groups = residual.groupby(train["user_id"])
    user_bias = user_groups.sum() / (user_groups.count() + 5)
    predicted = (
        mean
        + test["movie_id"].map(item_bias).fillna(0.0)
        + test["user_id"].map(user_bias).fillna(0.0)
    ).clip(1, 5)
    rmse_baseline = np.sqrt(np.mean((test["rating"] - predicted) ** 2))
    rmse_mean = np.sqrt(np.mean((test["rating"] - mean) ** 2))
    assert rmse_baseline < 0.9 * rmse_mean, (rmse_baseline, rmse_mean)


def test_sampler_has_the_law_of_weighted_sampling_without_replacement():
    # The staircase + Poisson sampler keeps the n pairs of smallest Efraimidis-Spirakis key; so
    # does brute force over all pairs. Compare how often each pair is picked.
    n_users, n_items, n = 30, 20, 150
    user_w, item_w = _synthetic._power_law(n_users, 1.5), _synthetic._power_law(n_items, 1.0)
    weights = np.multiply.outer(user_w, item_w).ravel()
    tau = _synthetic._solve_rate(n * 1.01 + 3 * np.sqrt(n) + 10, user_w, item_w)
    rng = np.random.default_rng(0)
    reps = 1500
    brute, sampled = np.zeros(weights.size), np.zeros(weights.size)
    for _ in range(reps):
        keys = rng.standard_exponential(weights.size) / weights
        brute[np.argpartition(keys, n - 1)[:n]] += 1
        codes, times = _synthetic._first_draws(user_w, item_w, tau, rng)
        assert len(np.unique(codes)) == len(codes) >= n
        sampled[codes[np.argpartition(times, n - 1)[:n]]] += 1
    brute, sampled = brute / reps, sampled / reps
    variance = (brute * (1 - brute) + sampled * (1 - sampled)) / reps
    varied = variance > 0
    mean_z2 = np.mean((brute - sampled)[varied] ** 2 / variance[varied])
    assert 0.7 < mean_z2 < 1.3, mean_z2  # about 1 when the laws agree


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_users": 0}, r"'n_users' parameter of make_interactions must be an int in the range \[1, inf\)\. Got 0"),
        ({"n_items": 2.5}, r"'n_items' parameter .* Got 2\.5 instead"),
        ({"n_ratings": True}, r"'n_ratings' parameter .* Got True instead"),
        ({"n_factors": -1}, r"'n_factors' parameter .* Got -1 instead"),
        ({"noise": -0.1}, r"'noise' parameter .* float in the range \[0\.0, inf\)\. Got -0\.1"),
        ({"noise": "high"}, r"'noise' parameter .* Got 'high' instead"),
        ({"noise": float("nan")}, r"'noise' parameter .* Got nan instead"),
        ({"noise": float("inf")}, r"'noise' parameter .* Got inf instead"),
        ({"popularity_exponent": -1}, r"'popularity_exponent' parameter .* \[0\.0, 10\.0\]\. Got -1"),
        ({"activity_exponent": 11}, r"'activity_exponent' parameter .* Got 11 instead"),
        ({"rating_scale": (5, 1)}, r"'rating_scale' parameter .* low < high\. Got \(5, 1\)"),
        ({"rating_scale": (1, 5.5)}, r"'rating_scale' parameter .* Got \(1, 5\.5\)"),
        ({"rating_scale": 5}, r"'rating_scale' parameter .* Got 5 instead"),
        ({"user_col": 3}, r"'user_col' parameter .* Got 3 instead"),
        ({"item_col": "rating"}, r"'item_col' parameter .* other than 'rating' and 'timestamp'"),
        ({"user_col": "id", "item_col": "id"}, r"user_col and item_col must differ\. Both are 'id'"),
        ({"random_state": "seed"}, r"'seed' cannot be used to seed"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_interactions(**{"n_users": 20, "n_items": 10, "n_ratings": 50, **kwargs})


def test_too_many_ratings():
    with pytest.raises(ValueError, match=r"n_ratings=201 exceeds n_users \* n_items = 20 \* 10 = 200"):
        make_interactions(20, 10, 201)
    assert len(make_interactions(20, 10, 200, random_state=0)) == 200
