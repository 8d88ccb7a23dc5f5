"""Tests for skrec.metrics: hand-computed values, validation, the scorer, keras-rs as reference."""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import pickle  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from numpy.testing import assert_allclose  # noqa: E402
from sklearn.base import BaseEstimator  # noqa: E402
from sklearn.model_selection import cross_validate  # noqa: E402

from skrec import metrics  # noqa: E402
from skrec.exceptions import ColdStartWarning  # noqa: E402
from skrec.metrics import (  # noqa: E402
    coverage_at_k,
    hit_rate_at_k,
    make_ranking_scorer,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)

LOG2_3 = np.log2(3)  # the discount of rank 2 is 1 / log2(3); rank 1 is 1, rank 3 is 1/2

RANKING_METRICS = [recall_at_k, precision_at_k, hit_rate_at_k, ndcg_at_k, map_at_k]


# --------------------------------------------------------------------------------------------
# A 3-user toy problem with k = 3
# --------------------------------------------------------------------------------------------


def toy_frames():
    """Recommendation lists and relevant pairs whose metrics are worked out by hand below.

    user 1: list [10, 11, 12], relevant {10, 12}          -> hits at ranks 1 and 3, |R| = 2
    user 2: list [20, 21, 22], relevant {21, 40, 41, 42}  -> hit at rank 2, |R| = 4 > k
    user 3: list [30, 31] (shorter than k), relevant {32} -> no hit, |R| = 1
    user 4: list [10, 20, 30], no relevant item           -> left out of every average
    """
    recommended = pd.DataFrame(
        {
            "user_id": [1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4],
            "rank": [1, 2, 3, 1, 2, 3, 1, 2, 1, 2, 3],
            "movie_id": [10, 11, 12, 20, 21, 22, 30, 31, 10, 20, 30],
            "score": [0.9, 0.8, 0.7, 0.9, 0.8, 0.7, 0.9, 0.8, 0.9, 0.8, 0.7],
        }
    )
    relevant = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 2, 2, 2, 3],
            "movie_id": [10, 12, 21, 40, 41, 42, 32],
        }
    )
    return relevant, recommended


# Worked values at k = 3 (averages over users 1, 2, 3):
# recall    = (2/2 + 1/4 + 0/1) / 3 = 1.25 / 3
# precision = (2/3 + 1/3 + 0/3) / 3 = 1 / 3        (user 3 has 2 items but still divides by 3)
# hit rate  = (1 + 1 + 0) / 3 = 2 / 3
# NDCG      user 1: DCG = 1/log2(2) + 1/log2(4) = 1.5, IDCG (2 items) = 1 + 1/log2(3)
#           user 2: DCG = 1/log2(3), IDCG (min(4, 3) = 3 items) = 1 + 1/log2(3) + 1/2
#           user 3: 0
# MAP       user 1: (P@1 * 1 + P@3 * 1) / min(2, 3) = (1 + 2/3) / 2 = 5/6
#           user 2: (P@2 * 1) / min(4, 3) = (1/2) / 3 = 1/6
#           user 3: 0                              -> (5/6 + 1/6 + 0) / 3 = 1/3
TOY_EXPECTED = {
    recall_at_k: 1.25 / 3,
    precision_at_k: 1 / 3,
    hit_rate_at_k: 2 / 3,
    ndcg_at_k: (1.5 / (1 + 1 / LOG2_3) + (1 / LOG2_3) / (1 + 1 / LOG2_3 + 0.5) + 0) / 3,
    map_at_k: 1 / 3,
}


@pytest.mark.parametrize("metric", RANKING_METRICS, ids=lambda f: f.__name__)
def test_toy_values(metric):
    relevant, recommended = toy_frames()
    value = metric(relevant, recommended, k=3)
    assert isinstance(value, float)
    assert value == pytest.approx(TOY_EXPECTED[metric], rel=1e-12)


def test_toy_ndcg_value_in_numbers():
    # The same NDCG as above, written out: (0.919721 + 0.296082 + 0) / 3.
    relevant, recommended = toy_frames()
    assert ndcg_at_k(relevant, recommended, k=3) == pytest.approx(0.405268, abs=1e-6)


@pytest.mark.parametrize("metric", RANKING_METRICS, ids=lambda f: f.__name__)
def test_users_without_relevant_items_are_left_out(metric):
    # User 4 has a list but no relevant item: dropping its list changes nothing.
    relevant, recommended = toy_frames()
    without_user_4 = recommended[recommended["user_id"] != 4]
    assert metric(relevant, without_user_4, k=3) == metric(relevant, recommended, k=3)


@pytest.mark.parametrize("metric", RANKING_METRICS, ids=lambda f: f.__name__)
def test_relevant_user_without_recommendations_scores_zero(metric):
    # User 5 is relevant-only: it joins the average with a score of 0, so the mean over
    # 3 users becomes the same sum over 4 users.
    relevant, recommended = toy_frames()
    relevant = pd.concat([relevant, pd.DataFrame({"user_id": [5], "movie_id": [50]})])
    assert metric(relevant, recommended, k=3) == pytest.approx(TOY_EXPECTED[metric] * 3 / 4)


def test_only_the_first_k_ranks_count():
    # k = 2: user 1's hit at rank 3 no longer counts.
    # recall = (1/2 + 1/4 + 0) / 3 = 0.25; precision = (1/2 + 1/2 + 0) / 3 = 1/3
    # MAP = (P@1 / min(2, 2) + P@2 / min(4, 2) + 0) / 3 = (1/2 + 1/4) / 3 = 0.25
    relevant, recommended = toy_frames()
    assert recall_at_k(relevant, recommended, k=2) == pytest.approx(0.25)
    assert precision_at_k(relevant, recommended, k=2) == pytest.approx(1 / 3)
    assert map_at_k(relevant, recommended, k=2) == pytest.approx(0.25)


def test_fewer_than_k_recommendations():
    # Two recommendations, both relevant, k = 5: precision still divides by 5 (P2), while
    # recall, hit rate, NDCG and MAP are perfect.
    recommended = pd.DataFrame({"user_id": [1, 1], "rank": [1, 2], "movie_id": [7, 8]})
    relevant = pd.DataFrame({"user_id": [1, 1], "movie_id": [7, 8]})
    assert precision_at_k(relevant, recommended, k=5) == pytest.approx(2 / 5)
    assert recall_at_k(relevant, recommended, k=5) == 1.0
    assert hit_rate_at_k(relevant, recommended, k=5) == 1.0
    assert ndcg_at_k(relevant, recommended, k=5) == pytest.approx(1.0)
    assert map_at_k(relevant, recommended, k=5) == pytest.approx(1.0)


@pytest.mark.parametrize("metric", RANKING_METRICS, ids=lambda f: f.__name__)
def test_row_order_gives_the_ranks_without_a_rank_column(metric):
    relevant, recommended = toy_frames()
    unranked = recommended.drop(columns=["rank", "score"])
    assert metric(relevant, unranked, k=3) == metric(relevant, recommended, k=3)


@pytest.mark.parametrize("metric", RANKING_METRICS, ids=lambda f: f.__name__)
def test_duplicate_pairs_count_once(metric):
    relevant, recommended = toy_frames()
    doubled = pd.concat([relevant, relevant])
    assert metric(doubled, recommended, k=3) == metric(relevant, recommended, k=3)


@pytest.mark.parametrize("metric", RANKING_METRICS, ids=lambda f: f.__name__)
def test_custom_column_names_and_string_ids(metric):
    relevant, recommended = toy_frames()
    renames = {"user_id": "user", "movie_id": "item"}
    relevant = relevant.rename(columns=renames).astype(str)
    recommended = recommended.rename(columns=renames).astype({"user": str, "item": str})
    value = metric(relevant, recommended, k=3, user_col="user", item_col="item")
    assert value == pytest.approx(TOY_EXPECTED[metric])


def test_graded_ndcg():
    # k = 3, gains used as they are:
    # user 1: list [10, 11, 12], gains {10: 1, 12: 3, 13: 2}
    #         DCG = 1/1 + 3/log2(4) = 2.5; IDCG = 3/1 + 2/log2(3) + 1/2    -> 0.525005
    # user 2: list [20, 21, 22], gains {21: 2}
    #         DCG = 2/log2(3); IDCG = 2/1                                 -> 0.630930
    # user 3: list [30], gains {30: 5, 31: 5, 32: 5, 33: 5} (4 items, only the top 3 count)
    #         DCG = 5; IDCG = 5 * (1 + 1/log2(3) + 1/2)                   -> 0.469279
    recommended = pd.DataFrame(
        {"user_id": [1, 1, 1, 2, 2, 2, 3], "rank": [1, 2, 3, 1, 2, 3, 1],
         "movie_id": [10, 11, 12, 20, 21, 22, 30]}
    )
    relevant = pd.DataFrame(
        {"user_id": [1, 1, 1, 2, 3, 3, 3, 3],
         "movie_id": [10, 12, 13, 21, 30, 31, 32, 33],
         "gain": [1.0, 3.0, 2.0, 2.0, 5.0, 5.0, 5.0, 5.0]}
    )
    expected = (
        2.5 / (3 + 2 / LOG2_3 + 0.5) + (2 / LOG2_3) / 2 + 5 / (5 * (1 + 1 / LOG2_3 + 0.5))
    ) / 3
    value = ndcg_at_k(relevant, recommended, k=3, gain_col="gain")
    assert value == pytest.approx(expected, rel=1e-12)
    assert value == pytest.approx((0.525005 + 0.630930 + 0.469279) / 3, abs=1e-6)


def test_graded_ndcg_with_unit_gains_is_binary_ndcg():
    relevant, recommended = toy_frames()
    relevant = relevant.assign(gain=1.0)
    assert ndcg_at_k(relevant, recommended, k=3, gain_col="gain") == pytest.approx(
        ndcg_at_k(relevant, recommended, k=3)
    )


def test_graded_ndcg_user_with_zero_gains_scores_zero():
    # User 1 is a perfect hit (NDCG 1); user 2's only gain is 0, so its ideal DCG is 0 and it
    # scores 0 but still counts: (1 + 0) / 2.
    recommended = pd.DataFrame({"user_id": [1, 2], "movie_id": [10, 20]})
    relevant = pd.DataFrame({"user_id": [1, 2], "movie_id": [10, 20], "gain": [2.0, 0.0]})
    assert ndcg_at_k(relevant, recommended, k=1, gain_col="gain") == pytest.approx(0.5)


def test_coverage():
    # Distinct items in the top-3 lists: {10, 11, 12, 20, 21, 22, 30, 31} = 8 of 16.
    _, recommended = toy_frames()
    assert coverage_at_k(recommended, n_items=16, k=3) == 0.5
    # Top-1 lists: {10, 20, 30} = 3 of 16.
    assert coverage_at_k(recommended, n_items=16, k=1) == 3 / 16


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", RANKING_METRICS, ids=lambda f: f.__name__)
def test_empty_relevant_raises(metric):
    _, recommended = toy_frames()
    empty = pd.DataFrame({"user_id": [], "movie_id": []})
    message = (
        f"{metric.__name__}: 'relevant' has no rows, so there are no users to evaluate. Pass "
        "the held-out (user, item) pairs that count as relevant, for example the test ratings "
        "of 4 or more."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        metric(empty, recommended, k=3)


def test_missing_column_raises():
    relevant, recommended = toy_frames()
    message = (
        "recall_at_k: the 'recommended' frame has no column 'item' (its columns are "
        "['user_id', 'rank', 'movie_id', 'score']). Pass item_col= to name the column to use."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        recall_at_k(relevant.rename(columns={"movie_id": "item"}), recommended, item_col="item")

    message = (
        "ndcg_at_k: the 'relevant' frame has no column 'gain' (its columns are "
        "['user_id', 'movie_id']). Pass gain_col= to name the column to use."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        ndcg_at_k(relevant, recommended, gain_col="gain")

    message = (
        "coverage_at_k: the 'recommended' frame has no column 'item' (its columns are "
        "['user_id', 'rank', 'movie_id', 'score']). Pass item_col= to name the column to use."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        coverage_at_k(recommended, n_items=20, item_col="item")


def test_not_a_dataframe_raises_type_error():
    _, recommended = toy_frames()
    message = "map_at_k expects 'relevant' to be a pandas DataFrame. Got ndarray instead."
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        map_at_k(np.zeros((3, 2)), recommended)


@pytest.mark.parametrize("k", [0, -1, 2.5, True, "10"])
def test_bad_k_raises(k):
    relevant, recommended = toy_frames()
    message = (
        f"The 'k' parameter of precision_at_k must be an int in the range [1, inf). "
        f"Got {k!r} instead."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        precision_at_k(relevant, recommended, k=k)


def test_bad_gains_raise():
    relevant, recommended = toy_frames()
    relevant = relevant.assign(gain=[1.0, -2.0, 1.0, np.nan, 1.0, 1.0, 1.0])
    message = (
        "ndcg_at_k: column 'gain' of 'relevant' must hold finite, non-negative gains; "
        "2 value(s) are not (first: -2.0)."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        ndcg_at_k(relevant, recommended, gain_col="gain")


def test_coverage_validation():
    _, recommended = toy_frames()
    message = (
        "The 'n_items' parameter of coverage_at_k must be an int in the range [1, inf). "
        "Got 0 instead."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        coverage_at_k(recommended, n_items=0)
    message = (
        "coverage_at_k: the top-3 lists hold 8 distinct items, more than n_items=5. "
        "Pass the size of the whole catalogue as n_items."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        coverage_at_k(recommended, n_items=5, k=3)


# --------------------------------------------------------------------------------------------
# Malformed rankings (issue #16, item 4): an error naming the fault, or a rule that keeps the
# metric in range
# --------------------------------------------------------------------------------------------


def one_user_list(ranks, items, user=1):
    return pd.DataFrame({"user_id": [user] * len(items), "rank": ranks, "movie_id": items})


FIVE_RELEVANT = pd.DataFrame({"user_id": [1] * 5, "movie_id": [1, 2, 3, 4, 5]})


def assert_raises_exactly(message, metric, *args, **kwargs):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        metric(*args, **kwargs)


@pytest.mark.parametrize("metric", RANKING_METRICS, ids=lambda f: f.__name__)
def test_tied_ranks_raise(metric):
    # The example: five items all at rank 1 gave NDCG@2 = 1.23, MAP@2 = 1.5.
    recommended = one_user_list([1] * 5, [1, 2, 3, 4, 5])
    message = (
        f"{metric.__name__}: the ranks of 'recommended' must be distinct within each user; "
        "1 user(s) have tied ranks (first: user 1, ranks [1, 1, 1, 1, 1]). Number each user's "
        "items 1, 2, 3, ... without ties."
    )
    assert_raises_exactly(message, metric, FIVE_RELEVANT, recommended, k=2)


def test_tied_ranks_count_users_and_shorten_long_lists():
    # Users 2 and 3 tie; the message names the first in row order and shows 10 of its ranks.
    recommended = pd.concat([
        one_user_list([1, 2], [1, 2], user=1),
        one_user_list([1] * 12, list(range(12)), user=2),
        one_user_list([1, 2, 2], [1, 2, 3], user=3),
    ])
    message = (
        "recall_at_k: the ranks of 'recommended' must be distinct within each user; 2 user(s) "
        "have tied ranks (first: user 2, ranks [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, ...]). Number "
        "each user's items 1, 2, 3, ... without ties."
    )
    assert_raises_exactly(message, recall_at_k, FIVE_RELEVANT, recommended, k=2)


@pytest.mark.parametrize(
    "recommended",
    [
        one_user_list([1, 2, 5, 5], [1, 2, 3, 4]),  # the tie is past k
        pd.concat([one_user_list([1, 2], [1, 2]), one_user_list([5, 5], [1, 2], user=9)]),
    ],
    ids=["past-k", "user-not-in-relevant"],
)
def test_ties_anywhere_in_the_frame_raise(recommended):
    with pytest.raises(ValueError, match=r"must be distinct within each user; 1 user\(s\) have"):
        ndcg_at_k(FIVE_RELEVANT, recommended, k=2)


@pytest.mark.parametrize("metric", RANKING_METRICS, ids=lambda f: f.__name__)
def test_repeated_item_raises(metric):
    recommended = one_user_list([1, 2, 3], [4, 5, 4])
    message = (
        f"{metric.__name__}: each user's list in 'recommended' must hold distinct items; "
        "1 user(s) list an item more than once (first: user 1, item 4 at ranks [1, 3])."
    )
    assert_raises_exactly(message, metric, FIVE_RELEVANT, recommended, k=2)
    # Without a rank column the ranks in the message are the row positions.
    assert_raises_exactly(message, metric, FIVE_RELEVANT, recommended.drop(columns="rank"), k=2)


@pytest.mark.parametrize(
    "ranks, shown",
    [
        ([1.0, np.nan, 3.0], "nan"),
        ([1, 0, 3], "0"),
        ([1, -2, 3], "-2"),
        ([1.0, 1.5, 3.0], "1.5"),
        ([1.0, np.inf, 3.0], "inf"),
        (pd.array([1, None, 3], dtype="Int64"), "<NA>"),
    ],
    ids=["nan", "zero", "negative", "fraction", "inf", "pd.NA"],
)
def test_ranks_must_be_whole_numbers_from_1(ranks, shown):
    recommended = one_user_list(ranks, [1, 2, 3], user="u1").set_axis([10, 11, 12])
    message = (
        "map_at_k: column 'rank' of 'recommended' must hold whole numbers >= 1 (1 = best); "
        f"1 value(s) are not (first: {shown} at index 11, user 'u1')."
    )
    assert_raises_exactly(message, map_at_k, FIVE_RELEVANT, recommended, k=2)


@pytest.mark.parametrize("ranks, dtype", [(["1", "2"], "str"), ([True, False], "bool")])
def test_rank_column_must_be_numeric(ranks, dtype):
    recommended = pd.DataFrame({"user_id": [1, 1], "rank": ranks, "movie_id": [1, 2]})
    recommended["rank"] = recommended["rank"].astype(dtype)
    message = (
        "precision_at_k: column 'rank' of 'recommended' must hold numbers (1 = best). Got "
        f"dtype {recommended['rank'].dtype} instead."
    )
    assert_raises_exactly(message, precision_at_k, FIVE_RELEVANT, recommended, k=2)


@pytest.mark.parametrize("frame", ["relevant", "recommended"])
@pytest.mark.parametrize("column", ["user_id", "movie_id"])
def test_missing_ids_raise(frame, column):
    relevant, recommended = toy_frames()
    frames = {"relevant": relevant, "recommended": recommended}
    frames[frame] = frames[frame].astype({column: float})
    frames[frame].loc[2, column] = np.nan
    message = (
        f"hit_rate_at_k: column {column!r} of {frame!r} holds 1 missing value(s) (first at "
        "index 2). Drop or fill those rows."
    )
    assert_raises_exactly(message, hit_rate_at_k, frames["relevant"], frames["recommended"], k=3)


def test_coverage_checks_rank_values_and_item_ids():
    _, recommended = toy_frames()
    bad_rank = recommended.assign(rank=recommended["rank"].astype(float).replace(3.0, 0.5))
    message = (
        "coverage_at_k: column 'rank' of 'recommended' must hold whole numbers >= 1 (1 = best); "
        "3 value(s) are not (first: 0.5 at index 2)."
    )
    assert_raises_exactly(message, coverage_at_k, bad_rank, n_items=16, k=3)
    no_item = recommended.astype({"movie_id": float})
    no_item.loc[4, "movie_id"] = np.nan
    message = (
        "coverage_at_k: column 'movie_id' of 'recommended' holds 1 missing value(s) (first at "
        "index 4). Drop or fill those rows."
    )
    assert_raises_exactly(message, coverage_at_k, no_item, n_items=16, k=3)


# Ranks with gaps, k = 5: user 1's list is 10 at rank 1, 11 at rank 3, 12 at rank 7 (past k),
# relevant {10, 11, 12, 13}. The gaps are positions holding items not in the frame.
# recall    = 2 / 4
# precision = 2 / 5
# NDCG      = (1 + 1/log2(4)) / (1 + 1/log2(3) + 1/log2(4) + 1/log2(5))
# MAP       = (P@1 + P@3) / min(4, 5) = (1 + 2/3) / 4 = 5/12
GAPS_EXPECTED = {
    recall_at_k: 0.5,
    precision_at_k: 0.4,
    hit_rate_at_k: 1.0,
    ndcg_at_k: 1.5 / (1 + 1 / LOG2_3 + 0.5 + 1 / np.log2(5)),
    map_at_k: 5 / 12,
}


@pytest.mark.parametrize("metric", RANKING_METRICS, ids=lambda f: f.__name__)
def test_ranks_with_gaps_are_positions(metric):
    recommended = one_user_list([1, 3, 7], [10, 11, 12])
    relevant = pd.DataFrame({"user_id": [1] * 4, "movie_id": [10, 11, 12, 13]})
    assert metric(relevant, recommended, k=5) == pytest.approx(GAPS_EXPECTED[metric], rel=1e-12)


@pytest.mark.parametrize("metric", RANKING_METRICS, ids=lambda f: f.__name__)
def test_rows_past_k_are_ignored_without_a_rank_column(metric):
    # The k = 2 values of the toy problem (see test_only_the_first_k_ranks_count), from lists of
    # 3 rows that carry no rank column.
    relevant, recommended = toy_frames()
    unranked = recommended.drop(columns=["rank", "score"])
    assert metric(relevant, unranked, k=2) == metric(relevant, recommended, k=2)
    assert recall_at_k(relevant, unranked, k=2) == pytest.approx(0.25)


@pytest.mark.parametrize("metric", RANKING_METRICS, ids=lambda f: f.__name__)
def test_row_order_does_not_matter_with_a_rank_column(metric):
    relevant, recommended = toy_frames()
    shuffled = recommended.sample(frac=1.0, random_state=0)
    assert not shuffled["rank"].is_monotonic_increasing
    assert metric(relevant, shuffled, k=3) == pytest.approx(TOY_EXPECTED[metric], rel=1e-12)


@pytest.mark.parametrize("metric", RANKING_METRICS, ids=lambda f: f.__name__)
def test_interleaved_users_without_a_rank_column(metric):
    # Rows of different users may interleave; each user's own rows keep their order.
    relevant, recommended = toy_frames()
    interleaved = recommended.sort_values(["rank", "user_id"], kind="stable")
    assert interleaved["user_id"].tolist()[:4] == [1, 2, 3, 4]
    unranked = interleaved.drop(columns=["rank", "score"])
    assert metric(relevant, unranked, k=3) == pytest.approx(TOY_EXPECTED[metric], rel=1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32", "Int64", "uint8"])
@pytest.mark.parametrize("metric", RANKING_METRICS, ids=lambda f: f.__name__)
def test_whole_number_ranks_of_any_numeric_dtype(metric, dtype):
    relevant, recommended = toy_frames()
    recommended = recommended.astype({"rank": dtype})
    assert metric(relevant, recommended, k=3) == pytest.approx(TOY_EXPECTED[metric], rel=1e-12)


@pytest.mark.parametrize("metric", RANKING_METRICS, ids=lambda f: f.__name__)
def test_empty_recommended_scores_zero(metric):
    # `pd.DataFrame(columns=...)` gives object columns; no list means no hit.
    empty = pd.DataFrame(columns=["user_id", "rank", "movie_id"])
    assert metric(FIVE_RELEVANT, empty, k=2) == 0.0
    assert metric(FIVE_RELEVANT, empty.drop(columns="rank"), k=2) == 0.0


def test_graded_ndcg_duplicate_pair_uses_its_first_gain():
    # List [11, 10]; relevant rows (11, gain 1), (11, gain 3), (10, gain 2): item 11 keeps 1.
    # DCG = 1 + 2/log2(3); ideal = 2 + 1/log2(3). With the last gain (3) it would be 1.
    recommended = one_user_list([1, 2], [11, 10])
    relevant = pd.DataFrame({"user_id": [1, 1, 1], "movie_id": [11, 11, 10],
                             "gain": [1.0, 3.0, 2.0]})
    expected = (1 + 2 / LOG2_3) / (2 + 1 / LOG2_3)
    assert ndcg_at_k(relevant, recommended, k=2, gain_col="gain") == pytest.approx(expected)


@pytest.mark.parametrize("gain, shown", [(np.inf, "inf"), (-0.5, "-0.5"), ("high", "'high'")])
def test_graded_ndcg_refuses_infinite_negative_and_non_numeric_gains(gain, shown):
    relevant = FIVE_RELEVANT.assign(gain=pd.Series([1.0, 2.0, gain, 1.0, 1.0], dtype=object))
    message = (
        "ndcg_at_k: column 'gain' of 'relevant' must hold finite, non-negative gains; "
        f"1 value(s) are not (first: {shown})."
    )
    assert_raises_exactly(message, ndcg_at_k, relevant, one_user_list([1, 2], [1, 2]), k=2,
                          gain_col="gain")


def random_frames(rng):
    """Small frames that are often malformed: ties, repeated items, odd ranks, stray users."""
    n = int(rng.integers(1, 9))
    ranks = rng.choice([0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 4.0, 7.0, 1.5, np.nan, -1.0], size=n)
    recommended = pd.DataFrame({"user_id": rng.integers(1, 4, size=n), "rank": ranks,
                                "movie_id": rng.integers(1, 6, size=n)})
    m = int(rng.integers(1, 7))
    relevant = pd.DataFrame({"user_id": rng.integers(1, 4, size=m),
                             "movie_id": rng.integers(1, 6, size=m),
                             "gain": rng.choice([0.0, 0.5, 1.0, 3.0], size=m)})
    if rng.random() < 0.5:
        recommended = recommended.drop(columns="rank")
    return relevant, recommended


def test_every_metric_stays_in_range_or_raises():
    # The kind of fault behind issue #16: whatever the frames, a value outside [0, 1] is a bug.
    rng = np.random.default_rng(0)
    outcomes = {"value": 0, "error": 0}
    for _ in range(150):
        relevant, recommended = random_frames(rng)
        k = int(rng.integers(1, 5))
        calls = [(m, {}) for m in RANKING_METRICS] + [(ndcg_at_k, {"gain_col": "gain"})]
        for metric, kwargs in calls:
            try:
                value = metric(relevant, recommended, k=k, **kwargs)
            except ValueError:
                outcomes["error"] += 1
                continue
            outcomes["value"] += 1
            assert 0.0 <= value <= 1.0, (metric.__name__, k, relevant, recommended)
    assert min(outcomes.values()) > 100  # both paths are exercised


@pytest.mark.parametrize("metric", RANKING_METRICS, ids=lambda f: f.__name__)
def test_metrics_leave_their_inputs_unchanged(metric):
    relevant, recommended = toy_frames()
    relevant = relevant.assign(gain=2.0)
    before = relevant.copy(), recommended.copy()
    metric(relevant, recommended.drop(columns="rank"), k=3)
    metric(relevant, recommended, k=3)
    pd.testing.assert_frame_equal(relevant, before[0])
    pd.testing.assert_frame_equal(recommended, before[1])
    coverage_at_k(recommended, n_items=16, k=3)
    pd.testing.assert_frame_equal(recommended, before[1])


# --------------------------------------------------------------------------------------------
# The scikit-learn scorer, on a fake recommender
# --------------------------------------------------------------------------------------------


class FakeRecommender(BaseEstimator):
    """Ranks unseen items by ascending id, the same for every user; records `recommend` calls."""

    def __init__(self, n_items=6):
        self.n_items = n_items

    user_col = "user_id"
    item_col = "movie_id"

    def fit(self, X, y=None):
        X = pd.DataFrame(np.asarray(X), columns=[self.user_col, self.item_col])
        self.users_ = pd.Index(X[self.user_col].unique())
        self.items_ = pd.Index(np.arange(1, self.n_items + 1))
        self.seen_ = X.groupby(self.user_col)[self.item_col].agg(set).to_dict()
        self.calls_ = []
        return self

    def recommend(self, user_ids, k=10, *, exclude_seen=True):
        self.calls_.append((list(user_ids), k, exclude_seen))
        rows = []
        for user in user_ids:
            seen = self.seen_.get(user, set()) if exclude_seen else set()
            ranked = [item for item in self.items_ if item not in seen][:k]
            rows += [(user, rank, item, -float(item)) for rank, item in enumerate(ranked, 1)]
        return pd.DataFrame(rows, columns=[self.user_col, "rank", self.item_col, "score"])


TRAIN = pd.DataFrame({"user_id": [1, 2, 3], "movie_id": [1, 2, 3]})
# Test pairs with their ratings; the rows rated >= 4 are (1, 2), (2, 1), (2, 6) and (9, 1),
# and user 9 was not seen in fit.
TEST = pd.DataFrame(
    {"user_id": [1, 1, 2, 2, 3, 9], "movie_id": [2, 5, 1, 6, 4, 1],
     "rating": [5, 3, 4, 5, 2, 5]}
)
# With k = 2 the known users get user 1: [2, 3] (item 1 seen), user 2: [1, 3] (item 2 seen).
# recall   = (1/1 + 1/2) / 2 = 0.75
# ndcg     = (1 + 1 / (1 + 1/log2(3))) / 2
# coverage = |{1, 2, 3}| / 6 = 0.5
SCORER_EXPECTED = {
    "recall": 0.75,
    "precision": (1 / 2 + 1 / 2) / 2,
    "hit_rate": 1.0,
    "ndcg": (1 + 1 / (1 + 1 / LOG2_3)) / 2,
    "map": (1 / 1 + 1 / 2) / 2,  # user 2: P@1 / min(2, 2)
    "coverage": 0.5,
}


@pytest.fixture
def fitted():
    return FakeRecommender().fit(TRAIN)


@pytest.mark.parametrize("metric", sorted(SCORER_EXPECTED))
def test_scorer_values_and_cold_start_warning(fitted, metric):
    scorer = make_ranking_scorer(metric, k=2)
    X, y = TEST[["user_id", "movie_id"]], TEST["rating"]
    with pytest.warns(ColdStartWarning, match=r"^1 of 3 users with relevant items were not seen"):
        value = scorer(fitted, X, y)
    assert isinstance(value, float)
    assert value == pytest.approx(SCORER_EXPECTED[metric])
    # One batched call for the known users with relevant items, excluding seen items.
    assert fitted.calls_ == [([1, 2], 2, True)]


def test_scorer_accepts_a_two_column_array(fitted):
    known = TEST[TEST["user_id"] != 9]
    scorer = make_ranking_scorer("ndcg", k=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no unknown user, so no warning
        value = scorer(fitted, known[["user_id", "movie_id"]].to_numpy(), known["rating"])
    assert value == pytest.approx(SCORER_EXPECTED["ndcg"])


def test_scorer_threshold(fitted):
    # threshold 5: relevant pairs (1, 2) and (2, 6); user 2's list [1, 3] misses item 6.
    known = TEST[TEST["user_id"] != 9]
    scorer = make_ranking_scorer("recall", k=2, threshold=5)
    assert scorer(fitted, known[["user_id", "movie_id"]], known["rating"]) == 0.5


def test_scorer_repr_and_pickle():
    scorer = make_ranking_scorer("map", k=5, threshold=4)
    assert repr(scorer) == "make_ranking_scorer('map', k=5, threshold=4.0)"
    clone = pickle.loads(pickle.dumps(scorer))
    assert repr(clone) == repr(scorer)
    assert type(clone) is type(scorer)


def test_scorer_in_cross_validate():
    # A dict of scorers is how GridSearchCV and cross_validate take several metrics.
    known = TEST[TEST["user_id"] != 9]
    scoring = {
        "ndcg": make_ranking_scorer("ndcg", k=2),
        "recall": make_ranking_scorer("recall", k=2),
    }

    class Splitter:
        # Train on TRAIN's rows, test on the known test rows: one fixed split.
        def split(self, X, y=None, groups=None):
            yield np.arange(3), np.arange(3, len(X))

        def get_n_splits(self, X=None, y=None, groups=None):
            return 1

    X = pd.concat([TRAIN, known[["user_id", "movie_id"]]], ignore_index=True)
    y = np.concatenate([[5, 5, 5], known["rating"].to_numpy()])
    result = cross_validate(FakeRecommender(), X, y, cv=Splitter(), scoring=scoring,
                            error_score="raise")
    assert result["test_ndcg"][0] == pytest.approx(SCORER_EXPECTED["ndcg"])
    assert result["test_recall"][0] == pytest.approx(SCORER_EXPECTED["recall"])


def test_scorer_bad_arguments():
    message = (
        "The 'metric' parameter of make_ranking_scorer must be a str among {'coverage', "
        "'hit_rate', 'map', 'ndcg', 'precision', 'recall'}. Got 'auc' instead."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        make_ranking_scorer("auc")
    message = (
        "The 'k' parameter of make_ranking_scorer must be an int in the range [1, inf). "
        "Got 0 instead."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        make_ranking_scorer("ndcg", k=0)
    message = (
        "The 'threshold' parameter of make_ranking_scorer must be a real number. "
        "Got '4' instead."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        make_ranking_scorer("ndcg", threshold="4")


def test_scorer_bad_data(fitted):
    scorer = make_ranking_scorer("ndcg", k=2)
    X, y = TEST[["user_id", "movie_id"]], TEST["rating"]
    message = (
        "make_ranking_scorer('ndcg', k=2, threshold=4.0): no rating in y is >= 4.0, so there "
        "are no users to evaluate. Lower the threshold or use a larger test fold."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        scorer(fitted, X, np.ones(len(y)))
    message = (
        "make_ranking_scorer('ndcg', k=2, threshold=4.0) expects X to be a DataFrame with "
        "columns 'user_id' and 'movie_id', or an array of shape (n_pairs, 2) holding user and "
        "item ids. Got an array of shape (6, 3) instead."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        scorer(fitted, TEST.to_numpy(), y)
    with pytest.raises(ValueError, match=r"X has 6 rows but y has 2 ratings\.$"):
        scorer(fitted, X, y[:2])
    message = (
        "make_ranking_scorer('ndcg', k=2, threshold=4.0): y must hold numeric ratings, or NaN "
        "for an interaction without one; 2 value(s) are not (first: 'good' at position 1)."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        scorer(fitted, X, [5, "good", 4, None, "bad", 5])
    message = (
        "make_ranking_scorer('ndcg', k=2, threshold=4.0): X has no rows, so there are no users "
        "to evaluate."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        scorer(fitted, X.iloc[:0], None)


def test_scorer_all_users_unknown(fitted):
    scorer = make_ranking_scorer("ndcg", k=2)
    X = pd.DataFrame({"user_id": [8, 9], "movie_id": [1, 2]})
    message = (
        "make_ranking_scorer('ndcg', k=2, threshold=4.0): none of the 2 users with relevant "
        "items was seen in fit, so there are no users to evaluate."
    )
    with pytest.warns(ColdStartWarning, match=r"^2 of 2 users"):
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            scorer(fitted, X, [5, 5])


# --------------------------------------------------------------------------------------------
# The scorer on implicit feedback (issue #12): y=None, all NaN, or ratings mixed with NaN
# --------------------------------------------------------------------------------------------

# Every row of TEST relevant. The known users' relevant sets are user 1: {2, 5}, user 2: {1, 6},
# user 3: {4}; their lists (k = 2) are [2, 3], [1, 3] and [1, 2] (seen items 1, 2, 3 excluded).
# recall    = (1/2 + 1/2 + 0/1) / 3
# precision = (1/2 + 1/2 + 0/2) / 3
# ndcg      = 2 * (1 / (1 + 1/log2(3))) / 3        (users 1 and 2: one hit at rank 1 of 2)
# map       = (P@1 / min(2, 2) + P@1 / min(2, 2) + 0) / 3
# coverage  = |{1, 2, 3}| / 6
IMPLICIT_EXPECTED = {
    "recall": 1 / 3,
    "precision": 1 / 3,
    "hit_rate": 2 / 3,
    "ndcg": 2 / (1 + 1 / LOG2_3) / 3,
    "map": 1 / 3,
    "coverage": 0.5,
}


@pytest.mark.parametrize(
    "y",
    [None, np.full(6, np.nan), [None] * 6, pd.Series([pd.NA] * 6, dtype="Float64")],
    ids=["None", "nan", "list-of-None", "Float64-NA"],
)
@pytest.mark.parametrize("metric", sorted(IMPLICIT_EXPECTED))
def test_scorer_without_ratings_takes_every_row_as_relevant(fitted, metric, y):
    scorer = make_ranking_scorer(metric, k=2)
    X = TEST[["user_id", "movie_id"]]
    with pytest.warns(ColdStartWarning, match=r"^1 of 4 users with relevant items were not seen"):
        value = scorer(fitted, X, y)
    assert value == pytest.approx(IMPLICIT_EXPECTED[metric], rel=1e-12)
    assert fitted.calls_ == [([1, 2, 3], 2, True)]


# Ratings mixed with NaN: a row is relevant unless rated below the threshold.
# (1, 2): 5 -> yes; (1, 5): NaN -> yes; (2, 1): 3 -> no; (2, 6): NaN -> yes; (3, 4): 2 -> no;
# (9, 1): 5 -> yes, but user 9 is unknown. So user 1: {2, 5} with list [2, 3], user 2: {6}
# with list [1, 3], and user 3 is not evaluated.
MIXED_Y = [5.0, np.nan, 3.0, np.nan, 2.0, 5.0]
MIXED_EXPECTED = {
    "recall": (1 / 2 + 0) / 2,
    "precision": (1 / 2 + 0) / 2,
    "hit_rate": 1 / 2,
    "ndcg": (1 / (1 + 1 / LOG2_3) + 0) / 2,
    "map": (1 / 2 + 0) / 2,
    "coverage": 0.5,
}


@pytest.mark.parametrize("metric", sorted(MIXED_EXPECTED))
def test_scorer_mixed_ratings_unrated_rows_are_relevant(fitted, metric):
    scorer = make_ranking_scorer(metric, k=2)
    with pytest.warns(ColdStartWarning, match=r"^1 of 3 users with relevant items were not seen"):
        value = scorer(fitted, TEST[["user_id", "movie_id"]], MIXED_Y)
    assert value == pytest.approx(MIXED_EXPECTED[metric], rel=1e-12)
    assert fitted.calls_ == [([1, 2], 2, True)]


def test_scorer_y_defaults_to_none(fitted):
    known = TEST.loc[TEST["user_id"] != 9, ["user_id", "movie_id"]]
    scorer = make_ranking_scorer("recall", k=2)
    assert scorer(fitted, known) == scorer(fitted, known, None) == pytest.approx(1 / 3)


def test_scorer_leaves_x_and_y_unchanged(fitted):
    X = TEST[["user_id", "movie_id"]].copy()
    y = pd.Series(MIXED_Y, name="rating")
    X_before, y_before = X.copy(), y.copy()
    array = X.to_numpy()
    array_before = array.copy()
    with pytest.warns(ColdStartWarning):
        make_ranking_scorer("ndcg", k=2)(fitted, X, y)
        make_ranking_scorer("map", k=2)(fitted, array, None)
    pd.testing.assert_frame_equal(X, X_before)
    pd.testing.assert_series_equal(y, y_before)
    np.testing.assert_array_equal(array, array_before)


def test_scorer_in_cross_validate_without_y():
    # scikit-learn calls the scorer with y=None when cross_validate gets no y.
    known = TEST.loc[TEST["user_id"] != 9, ["user_id", "movie_id"]]
    X = pd.concat([TRAIN, known], ignore_index=True)

    class Splitter:
        def split(self, X, y=None, groups=None):
            yield np.arange(3), np.arange(3, len(X))

        def get_n_splits(self, X=None, y=None, groups=None):
            return 1

    scoring = {"recall": make_ranking_scorer("recall", k=2),
               "ndcg": make_ranking_scorer("ndcg", k=2)}
    result = cross_validate(FakeRecommender(), X, cv=Splitter(), scoring=scoring,
                            error_score="raise")
    assert result["test_recall"][0] == pytest.approx(IMPLICIT_EXPECTED["recall"])
    assert result["test_ndcg"][0] == pytest.approx(IMPLICIT_EXPECTED["ndcg"])


def test_scorer_on_a_real_recommender_with_y_none():
    # Each user rated every item but one, so whatever the model learned, recommend(k=2) with
    # seen items excluded returns exactly that item: recall, NDCG, MAP and hit rate are 1,
    # precision 1/2 (one item out of k = 2) and coverage 3/3.
    from skrec import MultiTaskRecommender

    train = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3], "movie_id": [2, 3, 1, 3, 1, 2],
                          "rating": [5.0, 3.0, 4.0, 2.0, 1.0, 5.0]})
    est = MultiTaskRecommender(epochs=1, embedding_dim=4, random_state=0)
    est.fit(train[["user_id", "movie_id"]], train["rating"])
    X = pd.DataFrame({"user_id": [1, 2, 3], "movie_id": [1, 2, 3]})
    X_before = X.copy()
    expected = {"recall": 1.0, "precision": 0.5, "ndcg": 1.0, "map": 1.0, "hit_rate": 1.0,
                "coverage": 1.0}
    with warnings.catch_warnings():
        warnings.simplefilter("error", ColdStartWarning)
        values = {name: make_ranking_scorer(name, k=2)(est, X, None) for name in expected}
    assert values == pytest.approx(expected)
    pd.testing.assert_frame_equal(X, X_before)


# --------------------------------------------------------------------------------------------
# Public surface
# --------------------------------------------------------------------------------------------


def test_all_names_exist_and_are_documented():
    for name in metrics.__all__:
        assert getattr(metrics, name).__doc__, name


def test_import_does_not_load_keras():
    code = "import sys, skrec.metrics; print('keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------------------------
# Cross-check against keras-rs (dense per-user score lists over the whole catalogue)
# --------------------------------------------------------------------------------------------
#
# keras-rs's ranking metrics take y_true / y_pred of shape (n_users, n_items) and sort each row.
# skrec's take top-k id lists. On the same problem (distinct scores, every user with at least
# one relevant item) they must agree wherever the definitions do. The differences, each pinned
# by a test below:
# - Users with no relevant item: keras-rs keeps such a row in the mean with value 0 (its
#   `get_list_weights` gives it the average weight, 1 without sample weights); P2 and skrec
#   leave the user out.
# - MAP: keras-rs divides each AP by |R|, skrec by min(|R|, k). Equal when |R| <= k.
# - Precision: keras-rs divides by min(k, number of unmasked items in the row); skrec always
#   divides by k (P2), even for a user with fewer than k candidates.
# - NDCG gains: keras-rs's default gain is 2**y - 1, skrec uses the gain column as it is. Equal
#   for binary labels; for graded labels pass gain_fn=identity to keras-rs, or 2**y - 1 to skrec.
# - Ties: keras-rs shuffles tied scores at random by default (shuffle_ties=True); skrec takes
#   the ranks it is given. The tests use distinct scores and shuffle_ties=False.
# - keras-rs has no hit rate or coverage; hit rate is checked against MRR > 0 per row.

N_USERS, N_ITEMS, K = 12, 30, 5


@pytest.fixture(scope="module")
def keras_rs():
    return pytest.importorskip("keras_rs")


@pytest.fixture(scope="module")
def dense_problem():
    """Random distinct scores and graded labels; user u has u + 1 relevant items (1 to 12)."""
    rng = np.random.default_rng(0)
    scores = rng.permutation(N_USERS * N_ITEMS).reshape(N_USERS, N_ITEMS) / (N_USERS * N_ITEMS)
    labels = np.zeros((N_USERS, N_ITEMS))
    for user in range(N_USERS):
        items = rng.choice(N_ITEMS, size=user + 1, replace=False)
        labels[user, items] = rng.integers(1, 6, size=user + 1)
    return scores, labels


def dense_to_frames(scores, labels, k):
    """The top-k lists of `scores` and the relevant pairs of `labels`, as skrec frames."""
    n_users = scores.shape[0]
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    recommended = pd.DataFrame(
        {
            "user_id": np.repeat(np.arange(n_users), k),
            "rank": np.tile(np.arange(1, k + 1), n_users),
            "movie_id": top.ravel(),
        }
    )
    users, items = np.nonzero(labels)
    relevant = pd.DataFrame({"user_id": users, "movie_id": items, "gain": labels[users, items]})
    return relevant, recommended


@pytest.mark.parametrize(
    "skrec_metric, keras_name",
    [(recall_at_k, "RecallAtK"), (precision_at_k, "PrecisionAtK"), (ndcg_at_k, "NDCG")],
    ids=["recall", "precision", "ndcg"],
)
def test_agrees_with_keras_rs(keras_rs, dense_problem, skrec_metric, keras_name):
    scores, labels = dense_problem
    relevant, recommended = dense_to_frames(scores, labels, K)
    reference = getattr(keras_rs.metrics, keras_name)(k=K, shuffle_ties=False)
    reference.update_state((labels > 0).astype("float32"), scores)
    assert_allclose(skrec_metric(relevant, recommended, k=K), float(reference.result()),
                    rtol=1e-5)


def test_graded_ndcg_agrees_with_keras_rs(keras_rs, dense_problem):
    scores, labels = dense_problem
    relevant, recommended = dense_to_frames(scores, labels, K)
    linear = keras_rs.metrics.NDCG(k=K, gain_fn=lambda y: y, shuffle_ties=False)
    linear.update_state(labels, scores)
    assert_allclose(ndcg_at_k(relevant, recommended, k=K, gain_col="gain"),
                    float(linear.result()), rtol=1e-5)
    # keras-rs's default exponential gain 2**y - 1, given to skrec as the gain column.
    exponential = keras_rs.metrics.NDCG(k=K, shuffle_ties=False)
    exponential.update_state(labels, scores)
    relevant["gain"] = 2.0 ** relevant["gain"] - 1
    assert_allclose(ndcg_at_k(relevant, recommended, k=K, gain_col="gain"),
                    float(exponential.result()), rtol=1e-5)


def test_map_vs_keras_rs(keras_rs, dense_problem):
    scores, labels = dense_problem
    binary = (labels > 0).astype("float32")
    n_relevant = binary.sum(axis=1)
    relevant, recommended = dense_to_frames(scores, labels, K)

    # Users with |R| <= k (users 0..4 here): the definitions coincide.
    small = n_relevant <= K
    assert small.any() and not small.all()
    reference = keras_rs.metrics.MeanAveragePrecision(k=K, shuffle_ties=False)
    reference.update_state(binary[small], scores[small])
    small_users = np.flatnonzero(small)
    assert_allclose(
        map_at_k(relevant[relevant["user_id"].isin(small_users)], recommended, k=K),
        float(reference.result()), rtol=1e-5,
    )

    # All users: keras-rs's AP_u = skrec's AP_u * min(|R_u|, k) / |R_u|.
    reference = keras_rs.metrics.MeanAveragePrecision(k=K, shuffle_ties=False)
    reference.update_state(binary, scores)
    per_user = np.array([
        map_at_k(relevant[relevant["user_id"] == user], recommended, k=K)
        for user in range(N_USERS)
    ])
    assert_allclose(per_user.mean(), map_at_k(relevant, recommended, k=K), rtol=1e-12)
    rescaled = per_user * np.minimum(n_relevant, K) / n_relevant
    assert_allclose(rescaled.mean(), float(reference.result()), rtol=1e-5)
    assert map_at_k(relevant, recommended, k=K) > float(reference.result())


def test_hit_rate_vs_keras_rs_mrr(keras_rs, dense_problem):
    scores, labels = dense_problem
    relevant, recommended = dense_to_frames(scores, labels, K)
    binary = (labels > 0).astype("float32")
    mrr = keras_rs.metrics.MeanReciprocalRank(k=K, shuffle_ties=False)
    per_list, _ = mrr.compute_metric(
        y_true=binary, y_pred=scores.astype("float32"),
        mask=np.ones_like(binary, dtype=bool), sample_weight=np.ones_like(binary),
    )
    hit = np.asarray(per_list).ravel() > 0
    assert 0 < hit.mean() < 1
    assert hit_rate_at_k(relevant, recommended, k=K) == pytest.approx(hit.mean())


def test_keras_rs_keeps_users_without_relevant_items(keras_rs, dense_problem):
    # Add a user with no relevant item: keras-rs averages over n + 1 rows, skrec over n users.
    scores, labels = dense_problem
    relevant, recommended = dense_to_frames(scores, labels, K)
    binary = np.vstack([(labels > 0), np.zeros((1, N_ITEMS))]).astype("float32")
    extra_scores = np.vstack([scores, np.linspace(0, 1, N_ITEMS)])
    reference = keras_rs.metrics.RecallAtK(k=K, shuffle_ties=False)
    reference.update_state(binary, extra_scores)
    assert_allclose(float(reference.result()),
                    recall_at_k(relevant, recommended, k=K) * N_USERS / (N_USERS + 1), rtol=1e-5)


def test_keras_rs_precision_divides_by_the_candidates_left(keras_rs):
    # One user, 2 unmasked candidates (both relevant), k = 5. keras-rs: 2 / min(5, 2) = 1;
    # skrec (P2): 2 / 5. The skrec lists hold only the 2 candidates, as recommend would.
    labels = np.array([[1, 1, 0, 0, 0, 0]], dtype="float32")
    scores = np.array([[0.9, 0.8, 0.7, 0.6, 0.5, 0.4]], dtype="float32")
    mask = np.array([[True, True, False, False, False, False]])
    reference = keras_rs.metrics.PrecisionAtK(k=5, shuffle_ties=False)
    reference.update_state({"labels": labels, "mask": mask}, scores)
    assert float(reference.result()) == pytest.approx(1.0)
    recommended = pd.DataFrame({"user_id": [0, 0], "rank": [1, 2], "movie_id": [0, 1]})
    relevant = pd.DataFrame({"user_id": [0, 0], "movie_id": [0, 1]})
    assert precision_at_k(relevant, recommended, k=5) == pytest.approx(0.4)
