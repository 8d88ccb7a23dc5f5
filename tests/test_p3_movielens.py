"""Integration: the P3 example reproduces the Keras-RS table on the real MovieLens 100k."""

import importlib.util
import pathlib

import pytest

from skrec.datasets import fetch_movielens

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "multi_task_movielens.py"


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
