"""recommend_users: each item's audience ranked by recommend's own score, chunked over users."""

import numpy as np
import pandas as pd
import pytest

import skrec._audiences as audiences_module
from skrec import MultiTaskRecommender

from test_reliability import fitted, ratings  # noqa: F401  (fixtures)
from test_side_features import taste, with_features  # noqa: F401  (fixtures)


def _score_table(model, users, **kwargs):
    """Every (user, item) score of ``recommend``, as a users x items frame."""
    lists = model.recommend(users, k=len(model.items_), exclude_seen=False, **kwargs)
    return lists.pivot(index=model.user_col, columns=model.item_col, values="score")


def test_audiences_are_the_users_ranking_the_item_highest_by_recommends_score(fitted, ratings):  # noqa: F811
    table = _score_table(fitted, fitted.users_)
    seen = set(zip(ratings["user_id"], ratings["movie_id"]))
    items = fitted.items_[:7].tolist()
    out = fitted.recommend_users(items, k=4)
    assert out.columns.tolist() == ["movie_id", "rank", "user_id", "score"]
    assert out["movie_id"].drop_duplicates().tolist() == items
    for item, audience in out.groupby("movie_id", sort=False):
        unseen = table[item][[u for u in table.index if (u, item) not in seen]]
        expected = unseen.sort_values(ascending=False, kind="stable")
        np.testing.assert_allclose(audience["score"], expected.iloc[:4], rtol=1e-5, atol=1e-5)
        # the same users, up to the order of equal scores
        assert set(audience["user_id"]) <= set(expected.index[expected >= expected.iloc[3] - 1e-5])
        assert audience["rank"].tolist() == [1, 2, 3, 4]


def test_seen_users_are_left_out_unless_asked_and_candidates_restrict_the_audience(fitted, ratings):  # noqa: F811
    seen = set(zip(ratings["user_id"], ratings["movie_id"]))
    everyone = len(fitted.users_)
    out = fitted.recommend_users(fitted.items_, k=everyone)
    assert not any((u, i) in seen for u, i in zip(out["user_id"], out["movie_id"]))
    # an item gets every user who has not seen it, so fewer than k rows
    assert (out.groupby("movie_id").size() == [everyone - sum(1 for u in fitted.users_ if (u, i) in seen) for i in sorted(fitted.items_)]).all()
    with_seen = fitted.recommend_users(fitted.items_, k=everyone, exclude_seen=False)
    assert len(with_seen) == everyone * len(fitted.items_)
    some = fitted.users_[[0, 3, 5]].tolist()
    restricted = fitted.recommend_users(fitted.items_[:3], k=3, exclude_seen=False, candidates=some)
    assert set(restricted["user_id"]) == set(some) and len(restricted) == 9


def test_chunks_of_users_give_the_audiences_of_one_pass(fitted, monkeypatch):  # noqa: F811
    whole = fitted.recommend_users(fitted.items_, k=5)
    monkeypatch.setattr(audiences_module, "SCORE_BUDGET", 3 * len(fitted.items_))  # 3 users per chunk
    chunked = fitted.recommend_users(fitted.items_, k=5)
    pd.testing.assert_frame_equal(whole, chunked, check_exact=False, rtol=1e-5, atol=1e-6)


def test_a_new_item_from_the_items_frame_reaches_the_users_of_its_kind(taste, with_features):  # noqa: F811
    _, _, users, items = taste
    new = pd.DataFrame({"movie_id": [5000], "kind": ["a"], "title": ["New"]})
    out = with_features.recommend_users(5000, k=10, items=new)
    group = users.set_index("user_id").group
    assert (group[out["user_id"]] == "a").mean() >= 0.8
    table = _score_table(with_features, out["user_id"].tolist(), items=new)
    np.testing.assert_allclose(out["score"], table.loc[out["user_id"], 5000], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"item_ids": []}, ValueError, "`item_ids` is empty"),
        ({"item_ids": [10**9]}, ValueError, "1 item id.*neither seen in fit nor in the `items` frame: 1000000000"),
        ({"item_ids": ["x"]}, TypeError, "item_ids"),
        ({"k": 0}, ValueError, "`k` must be >= 1"),
        ({"k": 10**6}, ValueError, "users that may be returned"),
        ({"k": 2.0}, TypeError, "`k` must be an int"),
        ({"candidates": [10**9]}, ValueError, "user id.*of `candidates` not seen in fit: 1000000000"),
        ({"candidates": [None]}, ValueError, "candidates"),
        ({"candidates": "abc"}, TypeError, "candidates"),
    ],
)
def test_bad_requests_are_refused_naming_the_argument(fitted, kwargs, error, match):  # noqa: F811
    request = {"item_ids": fitted.items_[:2].tolist(), **kwargs}
    with pytest.raises(error, match=match):
        fitted.recommend_users(**request)


def test_needs_a_fitted_model():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MultiTaskRecommender().recommend_users([1])
