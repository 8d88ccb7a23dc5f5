"""SeedEnsemble: members fitted with drawn seeds, mean predictions, the exact top-k of the mean score."""

import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.utils import check_random_state

import skrec._ensemble
from skrec import MultiTaskRecommender, SeedEnsemble, metrics
from skrec.datasets import make_interactions
from skrec.exceptions import ColdStartWarning, InvalidParameterError
from skrec.model_selection import PerUserKFold

MEMBER = MultiTaskRecommender(epochs=3, embedding_dim=8, batch_size=128, learning_rate=0.01)


@pytest.fixture(scope="module")
def ratings():
    return make_interactions(60, 40, 1500, random_state=0)


@pytest.fixture(scope="module")
def ensemble(ratings):
    return SeedEnsemble(MEMBER, n_estimators=3, random_state=0).fit(ratings[["user_id", "movie_id"]], ratings["rating"])


def _members(ratings, random_state, n):
    seeds = check_random_state(random_state).randint(np.iinfo(np.int32).max, size=n)
    return [clone(MEMBER).set_params(random_state=int(s)).fit(ratings[["user_id", "movie_id"]], ratings["rating"]) for s in seeds]


def test_predict_is_the_mean_of_members_fitted_with_the_drawn_seeds(ratings, ensemble):
    members = _members(ratings, 0, 3)
    pairs = ratings.head(50)
    each = np.array([m.predict(pairs) for m in members])
    assert np.ptp(each, axis=0).max() > 1e-3  # the seeds differ, so do the members
    np.testing.assert_allclose(ensemble.predict(pairs), each.mean(axis=0), rtol=1e-6)
    assert [m.random_state for m in ensemble.estimators_] == [m.random_state for m in members]


def _mean_top_k(members, users, k, n_items=None, **kwargs):
    """Top-k of the members' mean score over every item, by brute force."""
    n_items = n_items or len(members[0].items_)
    frames = [m.recommend(users, k=n_items, **kwargs).set_index(["user_id", "movie_id"])["score"] for m in members]
    mean = (sum(frames) / len(frames)).rename("score").reset_index()
    mean = mean.sort_values(["user_id", "score"], ascending=[True, False], kind="stable")
    return mean.groupby("user_id").head(k).reset_index(drop=True)


@pytest.mark.parametrize("budget", [1 << 21, 50])  # one chunk of users; many chunks
def test_recommend_gives_the_exact_top_k_of_the_mean_score(ratings, ensemble, monkeypatch, budget):
    monkeypatch.setattr(skrec._ensemble, "_SCORE_BUDGET", budget)
    users = np.sort(ratings["user_id"].unique())[:12]
    got = ensemble.recommend(users, k=5)
    expected = _mean_top_k(ensemble.estimators_, users, 5)
    assert list(got.columns) == ["user_id", "rank", "movie_id", "score"]
    np.testing.assert_array_equal(got["rank"], expected.groupby("user_id").cumcount() + 1)  # fewer if few items left
    np.testing.assert_array_equal(got["user_id"], expected["user_id"])
    np.testing.assert_allclose(got["score"], expected["score"], rtol=1e-5)
    np.testing.assert_array_equal(got["movie_id"], expected["movie_id"])
    seen = set(zip(ratings["user_id"], ratings["movie_id"]))
    assert not any(pair in seen for pair in zip(got["user_id"], got["movie_id"]))


def test_one_member_is_its_recommender(ratings):
    one = SeedEnsemble(MEMBER, n_estimators=1, random_state=3).fit(ratings[["user_id", "movie_id"]], ratings["rating"])
    (member,) = _members(ratings, 3, 1)
    users = ratings["user_id"].unique()[:8]
    pd.testing.assert_frame_equal(one.recommend(users, k=4), member.recommend(users, k=4))
    held = ratings.tail(200)
    assert one.score(held[["user_id", "movie_id"]], held["rating"]) == pytest.approx(member.score(held[["user_id", "movie_id"]], held["rating"]))


def test_score_is_the_multitask_score_of_the_ensemble(ratings, ensemble):
    held = ratings.tail(300)
    low, high = ensemble.rating_range_
    rmse = np.sqrt(np.mean((ensemble.predict(held) - held["rating"]) ** 2))
    truth = held.assign(gain=(held["rating"] - low) / (high - low))
    ndcg = metrics.ndcg_at_k(truth, ensemble.recommend(held["user_id"].unique(), k=10), k=10, gain_col="gain")
    expected = 0.5 * ndcg + 0.5 * (1 - rmse / (high - low))
    assert ensemble.score(held[["user_id", "movie_id"]], held["rating"]) == pytest.approx(expected, rel=1e-6)


def test_the_same_random_state_gives_the_same_ensemble(ratings, ensemble):
    again = SeedEnsemble(MEMBER, n_estimators=3, random_state=0).fit(ratings[["user_id", "movie_id"]], ratings["rating"])
    other = SeedEnsemble(MEMBER, n_estimators=3, random_state=1).fit(ratings[["user_id", "movie_id"]], ratings["rating"])
    pairs = ratings.head(30)
    np.testing.assert_array_equal(again.predict(pairs), ensemble.predict(pairs))
    assert np.abs(other.predict(pairs) - ensemble.predict(pairs)).max() > 1e-3


def test_new_users_are_folded_in_by_every_member_and_warned_about_once(ensemble):
    history = pd.DataFrame({"user_id": [1001, 1001, 1001], "movie_id": [1, 2, 3], "rating": [5.0, 4.0, 1.0]})
    with pytest.warns(ColdStartWarning) as caught:
        got = ensemble.recommend([1001, 1002], k=3, history=history)
    assert sum(issubclass(w.category, ColdStartWarning) for w in caught) == 1
    folded = got[got["user_id"] == 1001]
    assert not set(folded["movie_id"]) & {1, 2, 3}
    expected = _mean_top_k_history(ensemble, history)
    np.testing.assert_array_equal(folded["movie_id"], expected)


def _mean_top_k_history(ensemble, history):
    n = len(ensemble.items_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdStartWarning)
        frames = [m.recommend([1001], k=n - 3, history=history).set_index("movie_id")["score"] for m in ensemble.estimators_]
    return (sum(frames) / len(frames)).sort_values(ascending=False, kind="stable").index[:3].to_numpy()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_estimators": 0}, "'n_estimators' parameter of SeedEnsemble must be an int in the range \\[1, inf\\)"),
        ({"n_estimators": 2.0}, "'n_estimators'"),
        ({"random_state": -1}, "'random_state'"),
        ({"estimator": "MultiTaskRecommender"}, "'estimator' parameter of SeedEnsemble must be a MultiTaskRecommender"),
    ],
)
def test_bad_parameters_are_named_before_anything_is_fitted(ratings, params, message):
    ensemble = SeedEnsemble(**{"estimator": MEMBER, "n_estimators": 2, **params})
    with pytest.raises(InvalidParameterError, match=message):
        ensemble.fit(ratings[["user_id", "movie_id"]], ratings["rating"])
    assert not hasattr(ensemble, "estimators_")


def test_a_failing_member_leaves_the_fitted_ensemble_as_it_was(ratings, ensemble):
    fitted = pickle.loads(pickle.dumps(ensemble))
    before = fitted.estimators_
    with pytest.raises(ValueError, match="sample_weight"):
        fitted.fit(ratings[["user_id", "movie_id"]], ratings["rating"], sample_weight=-np.ones(len(ratings)))
    assert fitted.estimators_ is before


def test_pickle_round_trip_keeps_the_recommendations(ratings, ensemble):
    loaded = pickle.loads(pickle.dumps(ensemble))
    users = ratings["user_id"].unique()[:5]
    pd.testing.assert_frame_equal(loaded.recommend(users, k=3), ensemble.recommend(users, k=3))


def test_grid_search_tunes_the_members_parameters(ratings):
    search = GridSearchCV(
        SeedEnsemble(MEMBER, n_estimators=2, random_state=0),
        {"estimator__embedding_dim": [4, 8]},
        cv=KFold(2, shuffle=True, random_state=0),
        error_score="raise",
    ).fit(ratings[["user_id", "movie_id"]], ratings["rating"])
    assert search.best_params_["estimator__embedding_dim"] in (4, 8)
    assert [m.embedding_dim for m in search.best_estimator_.estimators_] == [search.best_params_["estimator__embedding_dim"]] * 2


def test_candidates_exclusions_and_new_items_of_a_frame_reach_every_member(ratings):
    movies = pd.DataFrame({"movie_id": np.arange(1, 41), "genre": np.where(np.arange(40) % 2, "Drama", "Comedy")})
    X = ratings[["user_id", "movie_id"]]
    ensemble = SeedEnsemble(MEMBER, n_estimators=2, random_state=0).fit(X, ratings["rating"], items=movies)
    users = np.sort(ratings["user_id"].unique())[:6]
    new = pd.concat([movies, pd.DataFrame({"movie_id": [99], "genre": ["Drama"]})])
    got = ensemble.recommend(users, k=4, items=new)
    expected = _mean_top_k(ensemble.estimators_, users, 4, n_items=41, items=new)
    np.testing.assert_array_equal(got["movie_id"], expected["movie_id"])
    assert "genre" in got.columns
    kwargs = {"candidates": [1, 2, 3, 4, 5, 6], "exclude_items": [2]}
    got = ensemble.recommend(users, k=3, **kwargs)
    assert set(got["movie_id"]) <= {1, 3, 4, 5, 6}
    np.testing.assert_array_equal(got["movie_id"], _mean_top_k(ensemble.estimators_, users, 3, n_items=6, **kwargs)["movie_id"])
    # Generators are read by every member, not by the first alone.
    from_generators = ensemble.recommend(users, k=3, candidates=(i for i in range(1, 7)), exclude_items=iter([2]))
    pd.testing.assert_frame_equal(from_generators, got)


def test_boolean_user_ids_are_labels_not_a_mask(ratings):
    X = ratings.assign(user_id=ratings["user_id"] % 2 == 0)[["user_id", "movie_id"]]
    ensemble = SeedEnsemble(MEMBER, n_estimators=2, random_state=0).fit(X, ratings["rating"])
    got = ensemble.recommend([True, False], k=3, exclude_seen=False)
    assert got["user_id"].tolist() == [False] * 3 + [True] * 3  # in users_ order, as MultiTaskRecommender gives them


# Every metric name make_ranking_scorer accepts (its error message lists them).
SCORER_METRICS = ["coverage", "hit_rate", "map", "ndcg", "precision", "recall"]


@pytest.mark.parametrize("metric", SCORER_METRICS)
def test_every_ranking_scorer_rates_a_fitted_ensemble(ratings, ensemble, metric):
    held = ratings.tail(300)
    score = metrics.make_ranking_scorer(metric, k=5)(ensemble, held[["user_id", "movie_id"]], held["rating"])
    assert np.isfinite(score) and 0 <= score <= 1


def test_the_ensemble_exposes_its_members_id_columns():
    assert (SeedEnsemble().user_col, SeedEnsemble().item_col) == ("user_id", "movie_id")
    named = SeedEnsemble(MultiTaskRecommender(user_col="user", item_col="item"))
    assert (named.user_col, named.item_col) == ("user", "item")
    assert "user_col" not in named.get_params()  # read from the estimator, not a parameter of its own


def test_every_ranking_scorer_rates_an_ensemble_in_cross_validate(ratings):
    with pytest.raises(ValueError, match=re.escape("among {" + ", ".join(map(repr, SCORER_METRICS)) + "}")):
        metrics.make_ranking_scorer("nope")  # SCORER_METRICS is every name it accepts
    # Id columns other than the defaults: the scorers must read the ensemble's.
    X = ratings.rename(columns={"user_id": "user", "movie_id": "item"})
    member = clone(MEMBER).set_params(user_col="user", item_col="item")
    scoring = {metric: metrics.make_ranking_scorer(metric, k=5) for metric in SCORER_METRICS}
    results = cross_validate(
        SeedEnsemble(member, n_estimators=2, random_state=0),
        X[["user", "item"]], X["rating"], cv=PerUserKFold(2, user_col="user", random_state=0),
        scoring=scoring, error_score="raise",
    )  # fmt: skip
    for metric in SCORER_METRICS:
        assert np.isfinite(results[f"test_{metric}"]).all() and (results[f"test_{metric}"] >= 0).all(), metric
