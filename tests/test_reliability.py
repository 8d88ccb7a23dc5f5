"""Reliability: saving never destroys a file, every numeric type works, ids and ratings keep their values.

Each test pins the value a user relies on for one kind of input (issue #11's kinds) and for
warm starts (issue #16's kinds): not only that nothing crashes.
"""

import os
import pickle
import re
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from sklearn.model_selection import KFold, RandomizedSearchCV

import skrec
import skrec._persistence as persistence
from skrec import MultiTaskRecommender
from skrec.exceptions import ColdStartWarning, InvalidParameterError

from test_estimator import FAST, make_ratings

FASTER = {**FAST, "epochs": 2}


@pytest.fixture(scope="module")
def ratings():
    return make_ratings(n_users=20, per_user=8)


@pytest.fixture(scope="module")
def fitted(ratings):
    return MultiTaskRecommender(**FASTER).fit(ratings, ratings["rating"])


# ------------------------------------------------------------------------------ saving
def test_a_failed_save_leaves_the_existing_file_untouched(fitted, ratings, tmp_path, monkeypatch):
    path = tmp_path / "model.skrec"
    fitted.save(path)
    good = path.read_bytes()

    def broken(arrays):
        raise OSError("disk full")

    monkeypatch.setattr(persistence, "_npz_bytes", broken)
    with pytest.raises(OSError, match="disk full"):
        fitted.save(path)
    assert path.read_bytes() == good and os.listdir(tmp_path) == ["model.skrec"]


def test_an_interrupted_write_leaves_the_existing_file_untouched(fitted, tmp_path, monkeypatch):
    path = tmp_path / "model.skrec"
    fitted.save(path)
    good = path.read_bytes()
    original = persistence.zipfile.ZipFile.writestr

    def interrupt(self, name, data, *args, **kwargs):
        if name == "arrays.npz":
            raise KeyboardInterrupt
        return original(self, name, data, *args, **kwargs)

    monkeypatch.setattr(persistence.zipfile.ZipFile, "writestr", interrupt)
    with pytest.raises(KeyboardInterrupt):
        fitted.save(path)
    assert path.read_bytes() == good and os.listdir(tmp_path) == ["model.skrec"]
    monkeypatch.undo()
    np.testing.assert_array_equal(skrec.load(path).predict(make_ratings(n_users=20, per_user=8)), fitted.predict(make_ratings(n_users=20, per_user=8)))


def every_storable_dtype(item_ids):
    n = len(item_ids)
    cycle = lambda values: [values[i % len(values)] for i in range(n)]  # noqa: E731
    return pd.DataFrame({
        "movie_id": item_ids,
        "title": cycle(["Toy Story (1995)", "Misérables, Les", "Good Morning"]),
        "flag": cycle([True, False]),
        "int8": np.array(cycle([-128, 0, 127]), dtype="int8"),
        "uint64": np.array(cycle([0, 2**64 - 1]), dtype="uint64"),
        "float32": np.array(cycle([1.5, np.nan]), dtype="float32"),
        "complex": np.array(cycle([1 + 2j, -3j])),
        "released": pd.to_datetime(cycle(["1995-01-01", None, "1971-02-04 10:00:00.123456789"]), format="ISO8601"),
        "seconds": pd.to_datetime(cycle(["1995-01-01", "2000-02-29"])).astype("datetime64[s]"),
        "local": pd.to_datetime(cycle(["1995-01-01 12:00", None])).tz_localize("Europe/Paris"),
        "runtime": pd.to_timedelta(cycle([90, None, 121]), unit="min"),
        "votes": pd.array(cycle([1, None, 3]), dtype="Int64"),
        "small": pd.array(cycle([1, None]), dtype="UInt8"),
        "rating_score": pd.array(cycle([1.5, None]), dtype="Float64"),
        "seen": pd.array(cycle([True, None, False]), dtype="boolean"),
        "genre": pd.array(cycle(["Comedy", None]), dtype="string"),
        "plain": np.array(cycle(["a", None, "b"]), dtype=object),
        "rated": pd.Categorical(cycle(["PG", None, "R"]), categories=["R", "PG", "G"], ordered=True),
        "decade": pd.Categorical(cycle([1990, 1970])),
        7: cycle([1, 2, 3]),  # an int column name
    })


def test_every_storable_dtype_comes_back_exactly(ratings, tmp_path):
    items = every_storable_dtype(ratings["movie_id"].unique())
    est = MultiTaskRecommender(**FASTER).fit(ratings, ratings["rating"], items=items)
    est.save(tmp_path / "m.skrec")
    loaded = skrec.load(tmp_path / "m.skrec")
    pd.testing.assert_frame_equal(loaded.item_info_, est.item_info_)
    pd.testing.assert_frame_equal(loaded.recommend([100], k=3), est.recommend([100], k=3))


@pytest.mark.parametrize(
    "column, match",
    [
        (lambda n: pd.period_range("2020-01", periods=n, freq="M"), r"items\['bad'\] has dtype period\[M\]"),
        (lambda n: pd.arrays.IntervalArray.from_breaks(np.arange(n + 1)), r"items\['bad'\] has dtype interval"),
        (lambda n: np.array([1, "a"] * (n // 2) + [1] * (n % 2), dtype=object), r"items\['bad'\] has dtype object"),
        (lambda n: pd.arrays.SparseArray(np.zeros(n)), r"items\['bad'\] has dtype Sparse"),
    ],
)
def test_unstorable_columns_are_refused_before_writing(ratings, tmp_path, column, match):
    items = pd.DataFrame({"movie_id": ratings["movie_id"].unique()})
    items["bad"] = column(len(items))
    est = MultiTaskRecommender(**FASTER).fit(ratings, ratings["rating"], items=items)
    with pytest.raises(ValueError, match=match):
        est.save(tmp_path / "m.skrec")
    assert os.listdir(tmp_path) == []


def test_a_float_column_name_is_refused_before_writing(ratings, tmp_path):
    items = pd.DataFrame({"movie_id": ratings["movie_id"].unique(), 1.5: 1})
    est = MultiTaskRecommender(**FASTER).fit(ratings, ratings["rating"], items=items)
    with pytest.raises(ValueError, match=r"`items` has a column named 1.5 \(float\)"):
        est.save(tmp_path / "m.skrec")
    assert os.listdir(tmp_path) == []


def test_loading_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.skrec"):
        skrec.load(tmp_path / "missing.skrec")


# ------------------------------------------------------------------------------ numeric types
NUMPY_PARAMS = {
    "embedding_dim": np.int64(8), "layer_sizes": np.array([16], dtype=np.int32), "max_history": np.uint8(8),
    "n_negatives": np.int16(64), "retrieval_weight": np.float32(0.1), "ranking_weight": np.float64(1.0),
    "l2": np.float32(0.01), "rating_blend": np.int64(2), "learning_rate": np.float32(0.02),
    "batch_size": np.int64(64), "epochs": np.int32(2), "n_iter_no_change": np.int64(2),
    "validation_fraction": np.float32(0.2), "random_state": np.int64(0), "verbose": np.int8(0),
    "implicit_feedback": np.bool_(True), "early_stopping": np.bool_(False),
    "item_implicit_feedback": np.bool_(True), "max_raters": np.int32(4),
}


def test_numpy_scalars_work_everywhere(ratings, tmp_path):
    est = MultiTaskRecommender(**NUMPY_PARAMS).fit(ratings, ratings["rating"])
    plain = MultiTaskRecommender(**{k: v.tolist() if isinstance(v, np.ndarray) else v.item() for k, v in NUMPY_PARAMS.items()})
    np.testing.assert_allclose(est.predict(ratings), plain.fit(ratings, ratings["rating"]).predict(ratings), rtol=1e-6)
    est.save(tmp_path / "m.skrec")
    loaded = skrec.load(tmp_path / "m.skrec")
    for name, value in NUMPY_PARAMS.items():
        assert np.all(np.asarray(loaded.get_params()[name]) == value), name
    np.testing.assert_array_equal(loaded.predict(ratings), est.predict(ratings))


def test_a_randomized_search_over_scipy_distributions_fits_and_saves(ratings, tmp_path):
    search = RandomizedSearchCV(
        MultiTaskRecommender(**FASTER),
        {"embedding_dim": scipy.stats.randint(4, 9), "learning_rate": scipy.stats.uniform(0.01, 0.02),
         "batch_size": np.arange(32, 97, 32), "l2": scipy.stats.loguniform(1e-3, 1e-1)},
        n_iter=2, cv=KFold(2, shuffle=True, random_state=0), random_state=0, error_score="raise",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdStartWarning)
        search.fit(ratings, ratings["rating"])
    search.best_estimator_.save(tmp_path / "best.skrec")
    assert skrec.load(tmp_path / "best.skrec").get_params() == search.best_estimator_.get_params()


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("epochs", 0, r"'epochs' parameter of MultiTaskRecommender must be an int in the range \[1, inf\). Got 0"),
        ("epochs", 2.0, r"'epochs' .* must be an int in the range \[1, inf\). Got 2.0"),
        ("batch_size", True, r"'batch_size' .* Got True"),
        ("embedding_dim", np.int64(0), r"'embedding_dim' .* Got (np.int64\()?0"),
        ("learning_rate", 0.0, r"'learning_rate' .* must be 'auto' or a float in the range \(0.0, inf\). Got 0.0"),
        ("learning_rate", "fast", r"'learning_rate' .* must be 'auto' or a float .* Got 'fast'"),
        ("swa_fraction", 1.5, r"'swa_fraction' .* must be 'auto' or a float in the range \[0.0, 1.0\]. Got 1.5"),
        ("lr_schedule", "linear", r"'lr_schedule' .* must be one of \{'auto', 'cosine', 'constant'\}. Got 'linear'"),
        ("l2_form", "per_user", r"'l2_form' .* must be one of \{'auto', 'per_interaction', 'per_id'\}. Got 'per_user'"),
        ("learning_rate", float("nan"), r"'learning_rate' .* Got nan"),
        ("l2", -1e-3, r"'l2' .* must be 'auto' or a float in the range \[0.0, inf\). Got -0.001"),
        ("l2", "strong", r"'l2' .* must be 'auto' or a float in the range \[0.0, inf\). Got 'strong'"),
        ("validation_fraction", 1.0, r"'validation_fraction' .* \(0.0, 1.0\). Got 1.0"),
        ("max_history", 0, r"'max_history' .* Got 0"),
        ("n_negatives", -5, r"'n_negatives' .* Got -5"),
        ("rating_head", "linear", r"'rating_head' .* must be one of \{'dot', 'mlp'\}. Got 'linear'"),
        ("implicit_feedback", 1, r"'implicit_feedback' .* must be one of \{True, False\}. Got 1"),
        ("item_implicit_feedback", "yes", r"'item_implicit_feedback' .* must be one of \{True, False\}. Got 'yes'"),
        ("max_raters", 0, r"'max_raters' .* must be an int in the range \[1, inf\). Got 0"),
        ("layer_sizes", (16, 0), r"'layer_sizes' .* a sequence of ints >= 1"),
        ("verbose", 3, r"'verbose' .* Got 3"),
        ("random_state", -1, r"'random_state' .* Got -1"),
        ("optimizer_params", [("beta_1", 0.9)], r"'optimizer_params' .* a dict or None"),
        ("user_col", "", r"'user_col' .* a non-empty str"),
    ],
)
def test_every_parameter_is_checked_by_type_and_range(ratings, name, value, expected):
    est = MultiTaskRecommender(**{**FASTER, name: value})
    with pytest.raises(InvalidParameterError, match=expected):
        est.fit(ratings, ratings["rating"])
    assert not hasattr(est, "model_")


def test_every_constructor_parameter_has_a_constraint():
    from skrec._validation import PARAMETER_CONSTRAINTS

    assert set(PARAMETER_CONSTRAINTS) == set(MultiTaskRecommender().get_params())


# ------------------------------------------------------------------------------ exact ids
INTEGER_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "Int64", "UInt64"]


@pytest.mark.parametrize("dtype", INTEGER_DTYPES)
def test_integer_ids_keep_their_exact_values(dtype, tmp_path):
    info = np.iinfo(dtype.lower())
    values = lambda ids: pd.array(np.array(ids, dtype=dtype.lower()), dtype=dtype)  # noqa: E731
    users = values([info.max, info.min, info.max - 1, info.min + 1] * 6)
    items = values([info.min, info.max, info.min + 2, info.max - 2, info.min + 1, info.max - 1] * 4)
    assert int(users.max()) == info.max
    X = pd.DataFrame({"user_id": users, "movie_id": items})
    est = MultiTaskRecommender(**FASTER).fit(X, np.arange(24) % 5 + 1)
    expected_users = sorted({int(u) for u in users})
    assert [int(u) for u in est.users_] == expected_users
    recs = est.recommend(est.users_, k=1)
    assert {int(u) for u in recs["user_id"]} == set(expected_users)
    assert {int(i) for i in recs["movie_id"]} <= {int(i) for i in items}
    with warnings.catch_warnings():
        warnings.simplefilter("error", ColdStartWarning)  # every pair is known
        predicted = est.predict(X)
    est.save(tmp_path / "m.skrec")
    for twin in (skrec.load(tmp_path / "m.skrec"), pickle.loads(pickle.dumps(est))):
        assert [int(u) for u in twin.users_] == expected_users
        pd.testing.assert_frame_equal(twin.recommend(est.users_, k=1), recs)
        np.testing.assert_array_equal(twin.predict(X), predicted)


# ------------------------------------------------------------------------------ exact ratings
@pytest.mark.parametrize("offset", [1e6, 1e9, -1e12])
def test_ratings_on_any_scale_keep_full_precision(ratings, offset):
    base = MultiTaskRecommender(**FASTER).fit(ratings, ratings["rating"]).predict(ratings)
    shifted = MultiTaskRecommender(**FASTER).fit(ratings, ratings["rating"] + offset).predict(ratings)
    # float64 resolves 1e-7 at 1e9 and 1e-4 at 1e12: the predictions keep all of it
    np.testing.assert_allclose(shifted - offset, base, atol=max(1e-6, abs(offset) * 2e-16))


def test_a_rating_span_that_overflows_is_refused(ratings):
    y = np.where(np.arange(len(ratings)) % 2, 1e308, -1e308)
    with pytest.raises(ValueError, match=r"ratings span from -1e\+308 to 1e\+308.*not a finite number"):
        MultiTaskRecommender(**FASTER).fit(ratings, y)


# ------------------------------------------------------------------------------ conventions
def test_columns_are_read_by_name_and_arrays_by_the_fitted_positions(ratings):
    swapped = ratings[["movie_id", "rating", "user_id"]]
    est = MultiTaskRecommender(**FASTER).fit(swapped, ratings["rating"])
    assert list(est.feature_names_in_) == ["movie_id", "rating", "user_id"] and est.n_features_in_ == 3
    expected = est.predict(swapped)
    np.testing.assert_array_equal(est.predict(ratings[["user_id", "movie_id"]]), expected)  # another order
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        from_array = est.predict(swapped.to_numpy())
    np.testing.assert_array_equal(from_array, expected)


def test_an_items_frame_sliced_like_x_is_detected(ratings):
    items = pd.DataFrame({"movie_id": np.resize(ratings["movie_id"].unique()[:5], len(ratings))}).drop_duplicates()
    items = pd.concat([items, pd.DataFrame({"movie_id": np.arange(-len(ratings) + len(items), 0)})])
    assert len(items) == len(ratings)
    with pytest.warns(UserWarning, match=r"`items` has as many rows as X .* sliced it like a per-row column"):
        MultiTaskRecommender(**FASTER).fit(ratings, ratings["rating"], items=items)


@pytest.mark.parametrize(
    "make", [set, lambda ids: dict.fromkeys(ids).keys(), lambda ids: (u for u in ids), tuple, pd.Index, np.asarray]
)
def test_recommend_takes_any_iterable_of_ids(fitted, make):
    ids = [100, 103, 106]
    pd.testing.assert_frame_equal(fitted.recommend(make(ids), k=2), fitted.recommend(ids, k=2))


def test_recommend_takes_numpy_scalars_and_refuses_frames(fitted):
    pd.testing.assert_frame_equal(fitted.recommend(np.int64(100), k=2), fitted.recommend(100, k=2))
    with pytest.raises(TypeError, match=r"`user_ids` must be one id or an iterable of ids .* got a DataFrame"):
        fitted.recommend(pd.DataFrame({"user_id": [100]}))


def test_the_progress_bar_ends_at_its_total(ratings, capsys):
    MultiTaskRecommender(**{**FASTER, "epochs": 1, "batch_size": 16, "verbose": 1}).fit(ratings, ratings["rating"])
    out = capsys.readouterr().out
    steps = -(-len(ratings) // 16)
    counts = [tuple(map(int, match)) for match in re.findall(r"(\d+)/(\d+)", re.sub(r"\x1b\[[0-9;]*m", "", out))]
    assert counts and counts[-1] == (steps, steps)
    assert all(done <= total == steps for done, total in counts)


@pytest.mark.skipif(not os.environ.get("SKREC_REQUIRE_TENSORFLOW") and __import__("importlib").util.find_spec("tensorflow") is None,
                    reason="TensorFlow is not installed")
def test_the_jax_backend_prints_no_tensorflow_logs(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_estimator import FAST, make_ratings
        from skrec import MultiTaskRecommender
        ratings = make_ratings(n_users=8, per_user=4)
        est = MultiTaskRecommender(**FAST, warm_start=True).fit(ratings, ratings["rating"])
        est.save({str(tmp_path / "m.skrec")!r})
        est.fit(ratings, ratings["rating"])
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "KERAS_BACKEND"))}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "oneDNN" not in result.stderr and "absl" not in result.stderr, result.stderr[-2000:]


# ------------------------------------------------------------------------------ warm start
def test_a_warm_fit_refuses_ids_of_another_type(ratings):
    est = MultiTaskRecommender(**FASTER, warm_start=True).fit(ratings, ratings["rating"])
    as_text = ratings.assign(user_id=ratings["user_id"].astype(str))
    with pytest.raises(TypeError, match=r"'user_id' ids of this fit are strings, but the fitted model's are numbers"):
        est.fit(as_text, ratings["rating"])
    assert len(est.users_) == ratings["user_id"].nunique()  # unchanged
    recs = est.recommend(est.users_, k=5)
    assert not recs.duplicated(["user_id", "movie_id"]).any()


def test_a_warm_fit_that_does_not_train_leaves_predictions_unchanged(ratings):
    est = MultiTaskRecommender(**FASTER, warm_start=True).fit(ratings, ratings["rating"])
    before, recs = est.predict(ratings), est.recommend(est.users_, k=5)
    est.set_params(learning_rate=1e-12).fit(ratings, ratings["rating"])  # the same ratings again
    np.testing.assert_allclose(est.predict(ratings), before, atol=1e-6)
    pd.testing.assert_frame_equal(est.recommend(est.users_, k=5)[["user_id", "movie_id"]], recs[["user_id", "movie_id"]])


def test_a_warm_fit_grows_the_history_by_the_epochs_trained(ratings):
    est = MultiTaskRecommender(**{**FASTER, "epochs": 3}, warm_start=True, early_stopping=True, validation_fraction=0.2)
    est.fit(ratings, ratings["rating"])
    first = {name: len(values) for name, values in est.history_.items()}
    est.set_params(early_stopping=False, epochs=2).fit(ratings, ratings["rating"])
    assert set(est.history_) == set(first)
    assert len(est.history_["loss"]) == first["loss"] + 2
    assert len(est.history_["val_score"]) == first["val_score"]
