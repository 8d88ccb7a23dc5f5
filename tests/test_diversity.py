"""Diverse lists (recommend's diversity) and the metrics that measure them: intra-list diversity and novelty."""

import numpy as np
import pandas as pd
import pytest

from skrec._diversity import rerank
from skrec.metrics import intra_list_diversity, novelty

from test_reliability import fitted, ratings  # noqa: F401  (fixtures)


def test_rerank_picks_the_best_item_then_trades_relevance_for_redundancy():
    # one request, three candidates: 0 and 1 point the same way, 2 is orthogonal and scores lowest
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    rows, codes, scores = np.zeros(3, int), np.array([0, 1, 2]), np.array([3.0, 2.9, 1.0])
    for diversity, expected in [(0.0, [0, 1, 2]), (0.2, [0, 1, 2]), (0.5, [0, 2, 1])]:
        _, ranks, picked, kept = rerank(rows, codes, scores, vectors, 3, diversity)
        assert picked.tolist() == expected and ranks.tolist() == [1, 2, 3]
        assert kept.tolist() == scores[expected].astype(np.float32).tolist()  # each item keeps its score
    # at 0.2: item 1's relevance 0.95 against redundancy 1 -> 0.8 * 0.95 - 0.2 = 0.56 > item 2's 0.8 * 0 - 0 = 0


def test_no_diversity_is_the_usual_list_and_diverse_lists_come_from_the_top_pool(fitted, ratings):  # noqa: F811
    users = fitted.users_[:8]
    usual = fitted.recommend(users, k=3)
    pd.testing.assert_frame_equal(fitted.recommend(users, k=3, diversity=0.0), usual)
    pool = fitted.recommend(users, k=min(30, len(fitted.items_) - 10), exclude_seen=True)
    diverse = fitted.recommend(users, k=3, diversity=0.8)
    assert (diverse.groupby("user_id").size() == 3).all()
    assert diverse.merge(pool, on=["user_id", "movie_id"]).shape[0] == len(diverse)
    first = diverse[diverse["rank"] == 1].set_index("user_id")["movie_id"]
    assert (first == usual[usual["rank"] == 1].set_index("user_id")["movie_id"]).all()
    assert diverse.merge(ratings, on=["user_id", "movie_id"]).empty  # seen items stay out
    assert intra_list_diversity(diverse, fitted) > intra_list_diversity(usual, fitted)


@pytest.mark.parametrize("value, error", [(-0.1, ValueError), (1.5, ValueError), ("a", TypeError)])
def test_diversity_out_of_range_is_refused(fitted, value, error):  # noqa: F811
    with pytest.raises(error, match="diversity"):
        fitted.recommend(fitted.users_[:2], k=2, diversity=value)


def test_intra_list_diversity_is_the_mean_pairwise_cosine_distance(fitted):  # noqa: F811
    a, b, c = fitted.items_[:3]
    features = pd.DataFrame({"x": [1.0, 1.0, 0.0], "y": [0.0, 0.0, 2.0]}, index=[a, b, c])
    lists = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 3], "rank": [1, 2, 3, 1, 2, 1], "movie_id": [a, b, c, a, b, c]})
    # user 1: pairs (a, b) 0, (a, c) 1, (b, c) 1 -> 2/3; user 2: 0; user 3 has one item and is left out
    assert intra_list_diversity(lists, fitted, features=features) == pytest.approx((2 / 3 + 0) / 2)
    assert intra_list_diversity(lists, fitted, features=features, k=1) != intra_list_diversity(lists, fitted, features=features, k=1)  # NaN
    with pytest.raises(ValueError, match="no row for 1 listed item"):
        intra_list_diversity(lists, fitted, features=features.iloc[:2])
    with pytest.raises(ValueError, match="not seen in fit"):
        intra_list_diversity(lists.assign(movie_id=lists["movie_id"] + 10**6), fitted)


def test_novelty_is_the_mean_self_information_of_the_listed_items(fitted, ratings):  # noqa: F811
    share = ratings.groupby("movie_id")["user_id"].nunique() / ratings["user_id"].nunique()
    a, b = share.index[:2]
    lists = pd.DataFrame({"user_id": [1, 1, 2], "movie_id": [a, b, a]})
    expected = np.mean([np.mean(-np.log2(share[[a, b]])), -np.log2(share[a])])
    assert novelty(lists, fitted) == pytest.approx(expected)
    with pytest.raises(ValueError, match="not seen in fit"):
        novelty(lists.assign(movie_id=lists["movie_id"] + 10**6), fitted)
