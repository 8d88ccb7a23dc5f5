"""The estimator under the TensorFlow backend (the suite itself runs under JAX, skrec's default)."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import os, pickle, sys
    import numpy as np, pandas as pd
    import skrec
    from skrec import MultiTaskRecommender
    import keras
    assert keras.backend.backend() == "tensorflow", keras.backend.backend()
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"user_id": rng.integers(0, 30, 600), "movie_id": rng.integers(0, 40, 600)})
    y = rng.integers(1, 6, 600).astype(float)
    params = dict(epochs=3, batch_size=64, embedding_dim=8, layer_sizes=(16,), random_state=0)
    a = MultiTaskRecommender(**params).fit(X, y)
    b = MultiTaskRecommender(**params).fit(X, y)
    pred = a.predict(X)
    assert pred.shape == (600,) and np.all((pred >= 1) & (pred <= 5))
    np.testing.assert_array_equal(pred, b.predict(X))  # same random_state, same model
    recs = a.recommend([0, 1, 2], k=5)
    assert recs["rank"].tolist() == [1, 2, 3, 4, 5] * 3
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.predict(X), pred)
    assert 0.0 <= a.score(X, y) <= 1.0
    # side features and a cold-start item (id 99, in the frame only)
    items = pd.DataFrame({"movie_id": list(range(40)) + [99], "kind": ["a", "b"] * 20 + ["a"]})
    c = MultiTaskRecommender(**params).fit(X, y, items=items)
    assert 99 in set(c.items_) and list(c.item_feature_names_) == ["kind__kind_a", "kind__kind_b"]
    assert np.isfinite(c.predict(pd.DataFrame({"user_id": [0], "movie_id": [99]}))).all()
    # the per-id penalty's extra inputs (shares, the rows' own implicit-table ids) on the dense step
    d = MultiTaskRecommender(**params, l2_form="per_id", item_implicit_feedback=True).fit(X, y)
    assert np.isfinite(d.predict(X)).all() and d.history_["loss"][-1] < d.history_["loss"][0]
    print("tensorflow backend ok")
    """
)


def test_estimator_under_tensorflow_backend():
    if importlib.util.find_spec("tensorflow") is None:
        if os.environ.get("SKREC_REQUIRE_TENSORFLOW"):
            pytest.fail("SKREC_REQUIRE_TENSORFLOW is set but tensorflow is not installed")
        pytest.skip("tensorflow is not installed (pip install 'skrec-multitask[tensorflow]')")
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "tensorflow backend ok" in result.stdout


def test_import_prints_nothing_and_defaults_to_jax():
    code = "import skrec; skrec.MultiTaskRecommender; import keras; print(keras.backend.backend())"
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "jax\n"
    assert result.stderr == ""


@pytest.fixture
def jax_cache_config():
    """JAX's cache settings, restored after the test."""
    jax = pytest.importorskip("jax")
    names = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs", "jax_enable_compilation_cache")
    before = {name: getattr(jax.config, name) for name in names}
    yield jax
    for name, value in before.items():
        jax.config.update(name, value)


def test_compilation_cache_is_skrecs_folder_unless_the_caller_chose_one(jax_cache_config, tmp_path, monkeypatch):
    from skrec._keras import keras, use_compilation_cache

    if keras.backend.backend() != "jax":
        pytest.skip("JAX's cache")
    jax = jax_cache_config
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    jax.config.update("jax_compilation_cache_dir", None)
    use_compilation_cache()
    folder = tmp_path / "skrec" / "jax"
    assert jax.config.jax_compilation_cache_dir == str(folder)
    assert folder.stat().st_mode & 0o022 == 0  # nobody else may write what JAX will run
    # the caller's own folder, or the cache switched off, is left alone
    jax.config.update("jax_compilation_cache_dir", str(tmp_path / "mine"))
    use_compilation_cache()
    assert jax.config.jax_compilation_cache_dir == str(tmp_path / "mine")
    jax.config.update("jax_compilation_cache_dir", None)
    jax.config.update("jax_enable_compilation_cache", False)
    use_compilation_cache()
    assert jax.config.jax_compilation_cache_dir is None
    # a folder others may write to is not used
    jax.config.update("jax_enable_compilation_cache", True)
    shared = tmp_path / "shared" / "skrec" / "jax"
    shared.mkdir(parents=True)
    shared.chmod(0o777)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "shared"))
    use_compilation_cache()
    assert jax.config.jax_compilation_cache_dir is None
