"""Quality on the real MovieLens 100k: the P3 example reproduces the seed, the defaults beat the peers."""

import importlib.util
import pathlib
import warnings

import numpy as np
import pytest

from skrec.exceptions import ColdStartWarning

from skrec.datasets import fetch_movielens

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "multi_task_movielens.py"
#: The defaults before the rating recipe (benchmarks/bench_movielens.py's FORMER): a fit costs a
#: fifth of the defaults', which keeps the three-seed ensemble test within CI's time.
FORMER = {"item_implicit_feedback": False, "max_history": 32, "l2_form": "per_interaction",
          "lr_schedule": "constant", "learning_rate": 0.003, "swa_fraction": 0.5}


def load_example():
    spec = importlib.util.spec_from_file_location("multi_task_movielens", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.realdata
@pytest.mark.slow
def test_p3_figures_land_in_the_seed_range(movielens_home):
    ratings = fetch_movielens(data_home=movielens_home, download_if_missing=False).ratings
    table, models = load_example().run_p3(ratings, random_state=0)
    multi = table.loc["multi-task"]
    assert multi["RMSE [0,1]"] <= 0.27 and multi["top-k accuracy"] >= 0.015
    assert table.loc["retrieval-specialised", "top-k accuracy"] >= 0.015
    assert table.loc["rating-specialised", "RMSE [0,1]"] <= 0.27
    # The multi-task model is good at both tasks, the specialised ones at one each.
    assert table.loc["rating-specialised", "top-k accuracy"] < multi["top-k accuracy"]
    assert table.loc["retrieval-specialised", "RMSE [0,1]"] > 0.4


@pytest.mark.realdata
@pytest.mark.slow
def test_default_model_beats_the_classic_recommenders_on_fold_u3(movielens_home):
    """Quality floor of the defaults on one canonical fold (the benchmark runs all five).

    5-fold means of the defaults are RMSE 0.880, Recall@10 0.286, NDCG@10 0.412 (u3: 0.8753,
    0.2969, 0.3828); EASE reaches Recall@10 0.271 and NDCG@10 0.384 (u3: 0.273, 0.345), myfm's
    Bayesian factorization machine RMSE 0.882 (u3: 0.8783), Surprise KNNBaseline 0.920. The
    RMSE floor is issue 13's target, which the former defaults (the retrieval recipe on
    ratings, u3 0.894) fail; the ranking floors sit above the defaults without the item-item
    term (u3 Recall@10 0.286, NDCG@10 0.371 under the former defaults), which fails them if
    the term is lost.
    """
    from skrec import MultiTaskRecommender, metrics
    from skrec.datasets import fetch_movielens_fold

    train, test = fetch_movielens_fold("u3", data_home=movielens_home, download_if_missing=False)
    model = MultiTaskRecommender(random_state=0).fit(train[["user_id", "movie_id"]], train["rating"])
    with pytest.warns(ColdStartWarning):  # u3.test has a few movies absent from u3.base
        rmse = np.sqrt(np.mean((model.predict(test) - test["rating"]) ** 2))
    relevant = test[test["rating"] >= 4]
    recommended = model.recommend(relevant["user_id"].unique(), k=10)
    recall = metrics.recall_at_k(relevant, recommended, k=10)
    ndcg = metrics.ndcg_at_k(relevant, recommended, k=10)
    assert rmse <= 0.880
    assert recall >= 0.292
    assert ndcg >= 0.376


@pytest.mark.realdata
@pytest.mark.slow
def test_a_seed_ensemble_rates_and_ranks_better_than_each_of_its_members_on_fold_u3(movielens_home):
    """Three seeds of the former defaults averaged (SeedEnsemble) against each of the three alone.

    On the five folds the ensemble takes RMSE from 0.897 to 0.892 and NDCG@10 from 0.413 to
    0.417 (docs/benchmark_movielens.md). On u3 it gives 0.8888 / 0.3825 against its members'
    0.8933-0.8945 / at most 0.3811: the item-item term, the same in every member, narrows the
    ranking gain (without it 0.3773 against at most 0.3702).
    """
    from skrec import MultiTaskRecommender, SeedEnsemble, metrics
    from skrec.datasets import fetch_movielens_fold

    train, test = fetch_movielens_fold("u3", data_home=movielens_home, download_if_missing=False)
    ensemble = SeedEnsemble(MultiTaskRecommender(**FORMER), random_state=0).fit(train[["user_id", "movie_id"]], train["rating"])
    relevant = test[test["rating"] >= 4]
    users = relevant["user_id"].unique()

    def quality(model):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ColdStartWarning)
            rmse = np.sqrt(np.mean((model.predict(test) - test["rating"]) ** 2))
        return rmse, metrics.ndcg_at_k(relevant, model.recommend(users, k=10), k=10)

    rmse, ndcg = quality(ensemble)
    members = [quality(member) for member in ensemble.estimators_]
    assert rmse <= min(r for r, _ in members) - 0.002, (rmse, members)
    assert ndcg >= max(n for _, n in members) + 0.001, (ndcg, members)
