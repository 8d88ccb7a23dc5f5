"""save()/skrec.load(): identical outputs after a round trip, clear errors for bad files."""

import json
import zipfile

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

import skrec
from skrec import MultiTaskRecommender

from test_estimator import FAST, make_ratings


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    ratings = make_ratings()
    ratings = ratings.assign(movie_id="m" + ratings["movie_id"].astype(str))  # string item ids
    items = pd.DataFrame({"movie_id": ratings["movie_id"].unique()})
    items["title"] = "Title of " + items["movie_id"]
    est = MultiTaskRecommender(**FAST).fit(ratings, ratings["rating"], items=items)
    path = tmp_path_factory.mktemp("model") / "rec.skrec"
    est.save(path)
    return est, path, ratings


def test_round_trip_gives_identical_outputs(saved):
    est, path, ratings = saved
    loaded = skrec.load(path)
    np.testing.assert_array_equal(loaded.predict(ratings), est.predict(ratings))
    pd.testing.assert_frame_equal(loaded.recommend(est.users_, k=5), est.recommend(est.users_, k=5))
    assert loaded.score(ratings, ratings["rating"]) == est.score(ratings, ratings["rating"])
    assert loaded.get_params() == est.get_params()
    assert loaded.history_ == est.history_
    assert list(loaded.recommend([100], k=2).columns) == ["user_id", "rank", "movie_id", "score", "title"]


def test_round_trip_with_item_side_implicit_feedback_keeps_the_rater_terms(tmp_path):
    ratings = make_ratings()
    est = MultiTaskRecommender(**FAST, item_implicit_feedback=True, max_raters=4).fit(ratings, ratings["rating"])
    est.save(tmp_path / "rec.skrec")
    loaded = skrec.load(tmp_path / "rec.skrec")
    np.testing.assert_array_equal(loaded.predict(ratings), est.predict(ratings))
    pd.testing.assert_frame_equal(loaded.recommend(est.users_, k=5), est.recommend(est.users_, k=5))
    assert np.abs(np.asarray(loaded.model_.rater_term.value)).max() > 0


def test_the_file_records_versions(saved):
    _, path, _ = saved
    with zipfile.ZipFile(path) as archive:
        metadata = json.loads(archive.read("metadata.json"))
    assert metadata["skrec_version"] == skrec.__version__
    assert metadata["backend"] == "jax" and metadata["keras_version"]


def rewrite(path, target, change):
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    metadata = json.loads(members["metadata.json"])
    change(metadata)
    members["metadata.json"] = json.dumps(metadata)
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda m: m.update(skrec_version="9.9.0"), r"was written by skrec 9.9.0; this is skrec .*refit, or load it with skrec 9.9.x"),
        (lambda m: m.update(format=99), r"has skrec file format 99"),
        (lambda m: m.update(keras_version="2.15.0"), r"was written with Keras 2.15.0"),
    ],
)
def test_incompatible_versions_are_refused(saved, tmp_path, change, match):
    _, path, _ = saved
    rewrite(path, tmp_path / "other.skrec", change)
    with pytest.raises(ValueError, match=match):
        skrec.load(tmp_path / "other.skrec")


def test_a_file_written_before_weight_averaging_loads_without_it(saved, tmp_path):
    est, path, ratings = saved
    rewrite(path, tmp_path / "old.skrec", lambda m: m["params"].pop("swa_fraction"))
    loaded = skrec.load(tmp_path / "old.skrec")
    assert loaded.swa_fraction == 0.0  # what skrec did then, not today's default of 0.5
    np.testing.assert_array_equal(loaded.predict(ratings), est.predict(ratings))


@pytest.mark.parametrize("damage", ["truncated", "garbage", "not-zip"])
def test_corrupt_files_give_a_clear_error(saved, tmp_path, damage):
    _, path, _ = saved
    data = path.read_bytes()
    bad = tmp_path / "bad.skrec"
    bad.write_bytes({"truncated": data[: len(data) // 2], "garbage": data[:100] + b"\0" * 5000 + data[5100:],
                     "not-zip": b"hello"}[damage])
    with pytest.raises(ValueError, match=r"bad.skrec"):
        skrec.load(bad)


def test_saving_an_unfitted_estimator_raises(tmp_path):
    with pytest.raises(NotFittedError):
        MultiTaskRecommender().save(tmp_path / "x.skrec")


def test_round_trip_keeps_the_row_order_of_a_warm_started_model(tmp_path):
    ratings = make_ratings()
    first, later = ratings[ratings["user_id"] > 150], ratings[ratings["user_id"] <= 150]
    est = MultiTaskRecommender(**FAST, warm_start=True).fit(first, first["rating"]).fit(later, later["rating"])
    assert not est.users_.is_monotonic_increasing  # new users were appended
    est.save(tmp_path / "warm.skrec")
    loaded = skrec.load(tmp_path / "warm.skrec")
    assert list(loaded.users_) == list(est.users_)
    np.testing.assert_array_equal(loaded.predict(ratings), est.predict(ratings))
