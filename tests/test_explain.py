"""explain: a pair's score split into its parts, which add up to recommend's score to float precision."""

import numpy as np
import pandas as pd
import pytest

from skrec import MultiTaskRecommender

from test_reliability import FASTER, fitted, ratings  # noqa: F401  (fixtures)
from test_side_features import taste, with_features  # noqa: F401  (fixtures)


def _scores(model, users, **kwargs):
    """recommend's score of every (user, item), as a Series indexed by (user, item)."""
    lists = model.recommend(users, k=len(model.items_), exclude_seen=False, **kwargs)
    return lists.set_index([model.user_col, model.item_col])["score"]


def _all_pairs(model, users):
    return pd.DataFrame([(u, i) for u in users for i in model.items_], columns=[model.user_col, model.item_col])


def _check_adds_up(model, users, k=3, **kwargs):
    pairs = _all_pairs(model, users)
    parts = model.explain(pairs, k=k, **kwargs)
    total = parts.groupby([model.user_col, model.item_col], sort=False)["contribution"].sum()
    scores = _scores(model, users, **kwargs)
    np.testing.assert_allclose(total.to_numpy(), scores.loc[total.index].to_numpy(), rtol=1e-5, atol=1e-4)
    return parts


def test_the_parts_add_up_to_recommends_score_for_every_pair(fitted, ratings):  # noqa: F811
    assert fitted.model_.item_item_weight and fitted.model_.implicit_feedback  # every history part is there
    parts = _check_adds_up(fitted, fitted.users_[:6])
    first = parts[(parts["user_id"] == fitted.users_[0]) & (parts["movie_id"] == fitted.items_[0])]
    assert first["part"].tolist() == ["history"] * 3 + ["other history", "user", "retrieval bias", "rating bias"]
    history = first[first["part"] == "history"]
    seen = set(ratings.loc[ratings["user_id"] == fitted.users_[0], "movie_id"])
    assert set(history["history_item"]) <= seen and history["contribution"].is_monotonic_decreasing
    assert first.loc[first["part"] != "history", "history_item"].isna().all()


def test_every_history_item_is_shown_when_k_covers_the_history(fitted, ratings):  # noqa: F811
    user, item = fitted.users_[1], fitted.items_[2]
    seen = ratings.loc[ratings["user_id"] == user, "movie_id"]
    parts = fitted.explain(pd.DataFrame({"user_id": [user], "movie_id": [item]}), k=100)
    assert sorted(parts.loc[parts["part"] == "history", "history_item"]) == sorted(seen)
    assert parts.loc[parts["part"] == "other history", "contribution"].item() == 0.0
    fewer = fitted.explain(pd.DataFrame({"user_id": [user], "movie_id": [item]}), k=2)
    hidden = parts[parts["part"] == "history"].iloc[2:]["contribution"].sum()
    assert fewer.loc[fewer["part"] == "other history", "contribution"].item() == pytest.approx(hidden, abs=1e-9)


def test_users_folded_in_from_a_history_add_up_too(fitted, ratings):  # noqa: F811
    history = ratings[ratings["user_id"].isin(fitted.users_[:3])].assign(user_id=lambda f: f["user_id"] + 10_000)
    parts = _check_adds_up(fitted, (fitted.users_[:3] + 10_000).tolist(), history=history)
    assert set(parts.loc[parts["part"] == "history", "history_item"]) <= set(history["movie_id"])


@pytest.mark.parametrize("params", [{"retrieval_negatives": "in_batch", "item_item": None}, {"implicit_feedback": False}])
def test_other_models_add_up(ratings, params):  # noqa: F811
    model = MultiTaskRecommender(**{**FASTER, **params}).fit(ratings, ratings["rating"])
    parts = _check_adds_up(model, model.users_[:4])
    assert ("retrieval bias" in set(parts["part"])) == (params.get("retrieval_negatives") != "in_batch")


def test_clicks_without_ratings_add_up_without_a_rating_part(ratings):  # noqa: F811
    model = MultiTaskRecommender(**FASTER).fit(ratings[["user_id", "movie_id"]])
    parts = _check_adds_up(model, model.users_[:4])
    assert "rating bias" not in set(parts["part"])


def test_user_features_are_a_part_of_their_own(taste, with_features):  # noqa: F811
    X = taste[0]
    parts = _check_adds_up(with_features, X["user_id"].unique()[:3])
    assert (parts["part"] == "user features").any()


@pytest.mark.parametrize(
    "pairs, k, error, match",
    [
        ({"user_id": [-7], "movie_id": [None]}, 2, ValueError, "neither seen in fit nor folded in"),
        ({"user_id": [None], "movie_id": [10**9]}, 2, ValueError, "1 item id.*not seen in fit: 1000000000"),
        ({"user_id": [None], "movie_id": [None]}, -1, ValueError, "k == -1"),
        ({"user_id": [None], "movie_id": [None]}, 1.5, TypeError, "k"),
    ],
)
def test_bad_requests_are_refused(fitted, pairs, k, error, match):  # noqa: F811
    pairs = {c: [v if v is not None else default] for (c, (v,)), default in zip(pairs.items(), (fitted.users_[0], fitted.items_[0]))}
    with pytest.raises(error, match=match):
        fitted.explain(pd.DataFrame(pairs), k=k)
