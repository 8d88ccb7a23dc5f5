"""MultiTaskRecommender under scikit-learn's model selection, scorers, pipelines and nested params."""

import warnings

import numpy as np
import pytest
from scipy.stats import uniform
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import (
    GridSearchCV,
    HalvingGridSearchCV,
    KFold,
    RandomizedSearchCV,
    cross_validate,
    validation_curve,
)
from sklearn.pipeline import make_pipeline

from skrec import MultiTaskRecommender
from skrec.exceptions import ColdStartWarning
from skrec.metrics import make_ranking_scorer
from skrec.model_selection import PerUserKFold

from test_estimator import make_ratings

TINY = dict(epochs=2, batch_size=64, embedding_dim=4, layer_sizes=(8,), learning_rate=0.02, random_state=0)
CV = KFold(2, shuffle=True, random_state=0)


@pytest.fixture(scope="module")
def ratings():
    return make_ratings(n_users=24, per_user=10)


@pytest.fixture(autouse=True)
def quiet_cold_start():
    # Random rating splits leave some items unseen in a training fold: the documented
    # fallback applies and is reported with a ColdStartWarning, which these tests don't check.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdStartWarning)
        yield


def searches():
    return {
        "GridSearchCV": lambda est, n_jobs: GridSearchCV(
            est, {"retrieval_weight": [0.0, 0.1]}, cv=CV, n_jobs=n_jobs, error_score="raise"
        ),
        "RandomizedSearchCV": lambda est, n_jobs: RandomizedSearchCV(
            est, {"l2": uniform(0.0, 0.05)}, n_iter=2, cv=CV, n_jobs=n_jobs, random_state=0, error_score="raise"
        ),
        "HalvingGridSearchCV": lambda est, n_jobs: HalvingGridSearchCV(
            est, {"embedding_dim": [2, 4, 8]}, cv=CV, n_jobs=n_jobs, min_resources=120, random_state=0,
            error_score="raise",
        ),
    }


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("search", list(searches()))
def test_searches_run_with_the_default_score(ratings, search, n_jobs):
    result = searches()[search](MultiTaskRecommender(**TINY), n_jobs).fit(ratings, ratings["rating"])
    assert np.isfinite(result.cv_results_["mean_test_score"]).all()
    assert isinstance(result.best_estimator_, MultiTaskRecommender)
    assert result.best_estimator_.recommend([100], k=3).shape[0] == 3


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_cross_validate_and_validation_curve(ratings, n_jobs):
    est = MultiTaskRecommender(**TINY)
    scores = cross_validate(est, ratings, ratings["rating"], cv=PerUserKFold(2, random_state=0), n_jobs=n_jobs,
                            error_score="raise")
    assert scores["test_score"].shape == (2,)
    train, test = validation_curve(est, ratings, ratings["rating"], param_name="retrieval_weight",
                                   param_range=[0.0, 0.1], cv=CV, n_jobs=n_jobs, error_score="raise")
    assert train.shape == test.shape == (2, 2)


def test_multi_metric_scoring_with_refit(ratings):
    scoring = {
        "ndcg@5": make_ranking_scorer("ndcg", k=5),
        "recall@5": make_ranking_scorer("recall", k=5),
        "precision@5": make_ranking_scorer("precision", k=5),
        "hit_rate@5": make_ranking_scorer("hit_rate", k=5),
        "map@5": make_ranking_scorer("map", k=5),
        "coverage@5": make_ranking_scorer("coverage", k=5),
        "rmse": "neg_root_mean_squared_error",
        "mae": "neg_mean_absolute_error",
    }
    search = GridSearchCV(MultiTaskRecommender(**TINY), {"rating_blend": [0.0, 2.0]}, cv=CV, scoring=scoring,
                          refit="ndcg@5", n_jobs=2, error_score="raise").fit(ratings, ratings["rating"])
    for name in scoring:
        values = search.cv_results_[f"mean_test_{name}"]
        assert np.isfinite(values).all(), name
    assert search.best_index_ == int(np.argmax(search.cv_results_["mean_test_ndcg@5"]))
    assert (search.cv_results_["mean_test_rmse"] < 0).all()


def test_nested_optimizer_params_are_tunable(ratings):
    est = MultiTaskRecommender(**TINY).set_params(optimizer__beta_1=0.8)
    assert est.optimizer_params == {"beta_1": 0.8}
    twin = clone(est)
    assert twin.optimizer_params == {"beta_1": 0.8}
    twin.set_params(optimizer__beta_2=0.99)
    assert twin.optimizer_params == {"beta_1": 0.8, "beta_2": 0.99}
    assert est.optimizer_params == {"beta_1": 0.8}  # the original is untouched
    search = GridSearchCV(MultiTaskRecommender(**TINY), {"optimizer__beta_1": [0.8, 0.9]}, cv=CV,
                          error_score="raise").fit(ratings, ratings["rating"])
    assert search.best_params_["optimizer__beta_1"] in (0.8, 0.9)
    assert search.best_estimator_.model_.optimizer.beta_1 == search.best_params_["optimizer__beta_1"]


def test_unknown_optimizer_params_fail_with_a_clear_message(ratings):
    est = MultiTaskRecommender(**TINY, optimizer_params={"momentum_x": 0.5})
    with pytest.raises(ValueError, match=r"`optimizer_params` \{'momentum_x': 0.5\} do not fit the Adam optimizer"):
        est.fit(ratings, ratings["rating"])


@pytest.mark.parametrize("name", sorted(MultiTaskRecommender().get_params()))
def test_every_parameter_round_trips_through_set_params(name):
    est = MultiTaskRecommender()
    value = est.get_params()[name]
    assert clone(est.set_params(**{name: value})).get_params()[name] == value


def test_pipeline_with_column_selection(ratings):
    select = ColumnTransformer([("ids", "passthrough", ["user_id", "movie_id"])])
    pipe = make_pipeline(select, MultiTaskRecommender(**TINY))
    scores = cross_validate(pipe, ratings.assign(noise=1.0), ratings["rating"], cv=CV,
                            scoring="neg_root_mean_squared_error", error_score="raise")
    assert np.isfinite(scores["test_score"]).all()
    fitted = pipe.fit(ratings, ratings["rating"])
    assert fitted.predict(ratings.head()).shape == (5,)
    assert fitted[-1].recommend([100], k=2).shape[0] == 2
