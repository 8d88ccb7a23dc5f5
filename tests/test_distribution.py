"""Data-parallel training with Keras's own distribution API, on two virtual CPU devices."""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import os
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    os.environ["KERAS_BACKEND"] = "jax"
    import sys
    sys.path.insert(0, sys.argv[1])
    import keras, numpy as np, pandas as pd
    from test_estimator import make_ratings
    from skrec import MultiTaskRecommender

    assert len(keras.distribution.list_devices()) == 2
    ratings = make_ratings()
    # Under a distribution skrec uses Keras's dense step; with Adagrad the single-device
    # row-sparse step computes the same update, so the two models must agree.
    params = dict(epochs=3, batch_size=64, random_state=0, optimizer="adagrad", learning_rate=0.05)
    single = MultiTaskRecommender(**params).fit(ratings, ratings["rating"])
    distribution = keras.distribution.DataParallel(devices=keras.distribution.list_devices())
    with distribution.scope():
        parallel = MultiTaskRecommender(**params).fit(ratings, ratings["rating"])
    mesh = parallel.model_.user_embedding.embeddings.value.sharding.mesh
    assert mesh.size == 2, mesh  # the weights live on both devices
    difference = np.abs(single.predict(ratings) - parallel.predict(ratings)).max()
    assert difference < 1e-4, difference
    pd.testing.assert_frame_equal(
        single.recommend(single.users_, k=5)[["user_id", "rank", "movie_id"]],
        parallel.recommend(parallel.users_, k=5)[["user_id", "rank", "movie_id"]],
    )
    # Side features (keras-rs EmbedReduce over the padded feature rows) train the same way.
    items = pd.DataFrame({"movie_id": np.unique(ratings["movie_id"])})
    items["kind"] = np.where(items["movie_id"] % 3 == 0, "a", "b")
    single = MultiTaskRecommender(**params).fit(ratings, ratings["rating"], items=items)
    with distribution.scope():
        parallel = MultiTaskRecommender(**params).fit(ratings, ratings["rating"], items=items)
    assert len(parallel.item_feature_names_) == 2
    featured = np.abs(single.predict(ratings) - parallel.predict(ratings)).max()
    assert featured < 1e-4, featured
    # Batches must split evenly over the devices: a clear error up front, not one from JAX.
    with distribution.scope():
        try:
            MultiTaskRecommender(batch_size=255, epochs=1).fit(ratings, ratings["rating"])
        except ValueError as error:
            assert "batch_size=255 cannot be split evenly over the 2 devices" in str(error), error
        else:
            raise AssertionError("batch_size=255 was accepted on 2 devices")
        # A data set smaller than one batch (101 ratings): its batch is padded with rows of
        # weight zero to a multiple of the device count.
        small = MultiTaskRecommender(batch_size=256, epochs=2, random_state=0).fit(ratings.iloc[:101], ratings["rating"].iloc[:101])
        assert np.isfinite(small.history_["loss"]).all()
    print("data parallel ok", difference)
    """
)


def test_data_parallel_training_matches_single_device():
    tests = os.path.dirname(os.path.abspath(__file__))
    result = subprocess.run([sys.executable, "-c", SCRIPT, tests], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "data parallel ok" in result.stdout
