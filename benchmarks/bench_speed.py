"""Speed of skrec against a plain Keras script of the same model (BENCHMARK.md protocol S, part 1).

Measures, after equal warm-up, with repeats interleaved between the two sides:

* ``fit`` of protocol P3's multi-task configuration (the Keras-RS example's model, loss weights
  1 / 1, 80,000 ratings, 5 epochs): ``MultiTaskRecommender(**SEED_PARAMS)`` against the example's
  own ``keras.Model`` subclass trained with ``model.fit`` on NumPy arrays;
* ``recommend`` for all 943 users, k = 10, seen items excluded, against a plain-Keras top-k over
  the score matrix with the seen items masked;
* ``predict`` for 20,000 pairs, against the plain model's ``predict``;
* the import time of skrec, and the first fit (compilation included) of each side in its own
  fresh process, apart from later fits.

Prints a table of median seconds and the skrec / plain ratio and writes it to
``benchmarks/results/speed.csv`` and ``.json``.

    SKREC_DATA=/path/to/data python benchmarks/bench_speed.py [--repeats 7]
"""

import argparse
import gc
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd
from _results import report


def import_seconds():
    """Wall time of ``import skrec`` and of first use of the estimator, in fresh processes."""
    out = {}
    for name, code in {
        "import skrec": "import skrec",
        "import skrec + Keras (first use of the estimator)": "import skrec; skrec.MultiTaskRecommender",
    }.items():
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        out[name] = time.perf_counter() - start
    baseline = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    empty = time.perf_counter() - baseline
    return {name: max(seconds - empty, 0.0) for name, seconds in out.items()}


def first_fit_seconds():
    """Seconds of the first fit of skrec and of plain Keras, each in its own fresh process."""
    out = []
    for side in ("skrec", "plain"):
        child = subprocess.run(
            [sys.executable, __file__, "--first-fit", side], check=True, capture_output=True, text=True
        )
        out.append(float(child.stdout.split()[-1]))
    return out


def plain_keras_model(keras, n_users, n_items):
    """The Keras-RS example's model, as the example writes it (no estimator around it)."""
    ops = keras.ops

    class PlainMultiTask(keras.Model):
        def __init__(self):
            super().__init__()
            self.user_embedding = keras.layers.Embedding(n_users, 32)
            self.candidate_embedding = keras.layers.Embedding(n_items, 32)
            self.rating_model = keras.Sequential(
                [keras.layers.Dense(256, activation="relu"), keras.layers.Dense(128, activation="relu"), keras.layers.Dense(1)]
            )
            self.retrieval_loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True, reduction="sum")
            self.ranking_loss_fn = keras.losses.MeanSquaredError()

        def call(self, inputs):
            user, item = self.user_embedding(inputs["user_id"]), self.candidate_embedding(inputs["movie_id"])
            rating = self.rating_model(ops.concatenate([user, item], axis=1))
            return {"user": user, "item": item, "rating": rating}

        def compute_loss(self, x, y, y_pred, sample_weight, training=True):
            scores = ops.matmul(y_pred["user"], ops.transpose(y_pred["item"]))
            labels = ops.eye(ops.shape(scores)[0], ops.shape(scores)[1])
            retrieval = self.retrieval_loss_fn(labels, scores)
            ranking = self.ranking_loss_fn(ops.expand_dims(y, -1), y_pred["rating"])
            return retrieval + ranking

    return PlainMultiTask()


def timed(functions, repeats):
    """Median wall time of each function, run in turn ``repeats`` times (interleaved, so that
    both sides see the same machine state). As in ``timeit``, the garbage collector is off
    while a function runs, so that neither pays for the other's garbage."""
    seconds = [[] for _ in functions]
    for _ in range(repeats):
        for function, out in zip(functions, seconds):
            gc.collect()
            gc.disable()
            try:
                start = time.perf_counter()
                function()
                out.append(time.perf_counter() - start)
            finally:
                gc.enable()
    return [statistics.median(out) for out in seconds]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--first-fit", choices=["skrec", "plain"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    imports = {} if args.first_fit else import_seconds()
    from skrec import SEED_PARAMS, MultiTaskRecommender
    from skrec._keras import keras
    from skrec.datasets import fetch_movielens
    from skrec.exceptions import ColdStartWarning

    ratings = fetch_movielens().ratings
    order = np.random.default_rng(42).permutation(len(ratings))
    train, test = ratings.iloc[order[:80_000]], ratings.iloc[order[80_000:]]
    X, y = train[["user_id", "movie_id"]], train["rating"]
    n_users, n_items = int(ratings["user_id"].max()) + 1, int(ratings["movie_id"].max()) + 1
    arrays = {"user_id": X["user_id"].to_numpy("int32"), "movie_id": X["movie_id"].to_numpy("int32")}
    scaled = ((y.to_numpy("float32") - 1.0) / 4.0)

    def fit_skrec(X=X, y=y):
        return MultiTaskRecommender(**SEED_PARAMS, random_state=0).fit(X, y)

    def fit_plain(arrays=arrays, scaled=scaled):
        model = plain_keras_model(keras, n_users, n_items)
        model.compile(optimizer=keras.optimizers.Adagrad(0.1))
        model.fit(arrays, scaled, batch_size=1000, epochs=5, verbose=0)
        return model

    if args.first_fit:  # child process of `first_fit_seconds`: one fit in a fresh process
        keras.ops.convert_to_numpy(keras.ops.ones(2) + 1)  # start the backend outside the timing
        start = time.perf_counter()
        (fit_skrec if args.first_fit == "skrec" else fit_plain)()
        print(time.perf_counter() - start)
        return

    rows = [("fit, first in a fresh process (compile included)", *first_fit_seconds())]
    fit_skrec(), fit_plain()  # warm-up
    rows.append(("fit P3 multi-task, 80k ratings x 5 epochs", *timed([fit_skrec, fit_plain], args.repeats)))
    # 79,999 ratings: the last batch of each epoch is one short. Keras compiles a second train
    # step for that shape; skrec completes the batch and compiles once.
    short = {"user_id": arrays["user_id"][:-1], "movie_id": arrays["movie_id"][:-1]}
    rows.append((
        "fit P3, 79,999 ratings (last batch partial)",
        *timed([lambda: fit_skrec(X.iloc[:-1], y.iloc[:-1]), lambda: fit_plain(short, scaled[:-1])], args.repeats),
    ))

    est, plain = fit_skrec(), fit_plain()
    users = np.sort(train["user_id"].unique())
    seen = np.zeros((n_users, n_items), dtype=bool)  # plain Keras: a dense mask, as a script would
    seen[train["user_id"], train["movie_id"]] = True

    def recommend_plain():
        queries = plain.user_embedding(users)
        scores = keras.ops.matmul(queries, keras.ops.transpose(plain.candidate_embedding.embeddings))
        scores = keras.ops.where(seen[users], -np.inf, scores)
        return keras.ops.convert_to_numpy(keras.ops.top_k(scores, k=10)[1])

    est.recommend(users, k=10), recommend_plain()  # warm-up
    t_skrec, t_plain = timed([lambda: est.recommend(users, k=10), recommend_plain], args.repeats)
    rows.append((f"recommend {len(users)} users, k=10, seen excluded", t_skrec, t_plain))
    rows.append(("  per user (ms)", 1000 * t_skrec / len(users), 1000 * t_plain / len(users)))

    pairs = test[["user_id", "movie_id"]]
    pair_arrays = {"user_id": pairs["user_id"].to_numpy("int32"), "movie_id": pairs["movie_id"].to_numpy("int32")}
    warnings.simplefilter("ignore", ColdStartWarning)  # 34 test pairs have unseen movies
    est.predict(pairs), plain.predict(pair_arrays, batch_size=20_000, verbose=0)  # warm-up
    rows.append((
        f"predict {len(pairs):,} pairs",
        *timed([lambda: est.predict(pairs), lambda: plain.predict(pair_arrays, batch_size=20_000, verbose=0)], args.repeats),
    ))
    table = pd.DataFrame(rows, columns=["task", "skrec s", "plain Keras s"]).set_index("task")
    table["ratio"] = table["skrec s"] / table["plain Keras s"]
    for name, seconds in imports.items():
        table.loc[name] = [seconds, np.nan, np.nan]

    title = (
        f"Protocol S (speed), MovieLens 100k, Keras {keras.__version__} ({keras.backend.backend()}), "
        f"median of {args.repeats} after warm-up"
    )
    report(table, "speed", title, lambda v: f"{v:.3f}")


if __name__ == "__main__":
    main()
