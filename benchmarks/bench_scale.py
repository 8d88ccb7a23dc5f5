"""How fit, recommend, memory and quality grow with the data, with the default estimator (BENCHMARK.md protocol S).

Trains ``MultiTaskRecommender()`` -- the defaults, only ``epochs`` lowered for the per-epoch
timing -- on synthetic rating sets from :func:`skrec.datasets.make_interactions` (power-law item
popularity, skewed user activity, ratings from a latent-factor model plus noise) of 10^5, 10^6
and 10^7 ratings, with catalogues of 10^4 to 10^5 items and up to 10^6 users. 1% of the ratings
are held out. Two tables:

**Speed** (each size in a fresh process, so peak memory is its own):

* ``epoch s``: the shorter wall time of epochs 2 and 3 of a three-epoch fit, timed by a Keras
  callback (added through skrec's private ``_training._callbacks``; the first epoch compiles
  the training step; as ``timeit`` does, the minimum of repeats is the figure least disturbed
  by other work on the machine): one epoch of training, without data preparation, model
  creation or compilation; and the same per million training ratings, so that linear growth
  shows as a flat column;
* peak resident memory of the process (``ru_maxrss``);
* ``recommend`` latency per user (k = 10, seen items excluded) over 2,000 random users.

**Quality at scale** (10^6 and 10^7 ratings of the "growing" series, full default fits with all
epochs): fit wall time and peak memory; held-out RMSE next to the RMSE of the training mean; and
Recall@10 / NDCG@10 of ``recommend`` (seen items excluded) against each held-out user's ratings
of 4 or 5. implicit's ALS (64 factors, fitted on the binary training matrix, its own
already-liked filter), when installed (``pip install ".[benchmark]"``), is scored on the same
split.

Prints both tables and writes ``benchmarks/results/scale.csv``/``.json`` and
``scale_quality.csv``/``.json``.

    python benchmarks/bench_scale.py                     # everything (about an hour on 2 cores)
    python benchmarks/bench_scale.py --max-ratings 1e6   # the smaller sizes only
    python benchmarks/bench_scale.py --tables speed      # one table
"""

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import time

import numpy as np
import pandas as pd
from _results import report

# (n_ratings, n_users, n_items). "fixed": the same users and catalogue, more ratings, which
# isolates the growth in ratings; "growing": users and catalogue grow with the ratings, up to
# 10^6 users and 10^5 items.
SERIES = {
    "fixed": [(10**5, 10**4, 10**4), (10**6, 10**4, 10**4), (10**7, 10**4, 10**4)],
    "growing": [(10**5, 10**4, 10**4), (10**6, 10**5, 3 * 10**4), (10**7, 10**6, 10**5)],
}
QUALITY = [(10**6, 10**5, 3 * 10**4), (10**7, 10**6, 10**5)]
NOISE = 0.5
N_REQUEST = 2000
K = 10


def split(n_ratings, n_users, n_items):
    """The synthetic ratings, 99% to train on and 1% held out (rows come in random order)."""
    from skrec.datasets import make_interactions

    ratings = make_interactions(n_users, n_items, n_ratings, noise=NOISE, random_state=0)
    held = np.zeros(len(ratings), dtype=bool)
    held[: len(ratings) // 100] = True
    return ratings[~held], ratings[held]


def timed_fit(train, **params):
    from skrec import MultiTaskRecommender

    start = time.perf_counter()
    est = MultiTaskRecommender(random_state=0, **params).fit(train[["user_id", "movie_id"]], train["rating"])
    return est, time.perf_counter() - start


def peak_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # kB on Linux


def epoch_times(train):
    """A three-epoch default fit, and the wall seconds of each of its epochs."""
    import skrec._training as training
    from skrec._keras import keras

    times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    callbacks = training._callbacks
    training._callbacks = lambda *args: [*callbacks(*args), Timer()]
    try:
        est, _ = timed_fit(train, epochs=3)
    finally:
        training._callbacks = callbacks
    return est, times


def run_speed(n_ratings, n_users, n_items):
    """One size of the speed table, in this process."""
    train, _ = split(n_ratings, n_users, n_items)
    est, times = epoch_times(train)
    users = np.random.default_rng(0).choice(est.users_, size=min(N_REQUEST, len(est.users_)), replace=False)
    est.recommend(users, k=K)  # warm-up: compiles the kernels for these shapes
    start = time.perf_counter()
    est.recommend(users, k=K)
    recommend_s = time.perf_counter() - start
    epoch = min(times[1:])
    return {
        "ratings": n_ratings, "users": n_users, "items": n_items, "negatives": est.retrieval_negatives_,
        "epoch s": epoch, "epoch s per 1M ratings": epoch / (len(train) / 1e6),
        "recommend ms/user": 1000 * recommend_s / len(users), "peak RSS GB": peak_gb(),
    }


def ranking(recommended, relevant):
    from skrec import metrics

    kw = dict(k=K, user_col="user_id", item_col="movie_id")
    return {"Recall@10": metrics.recall_at_k(relevant, recommended, **kw), "NDCG@10": metrics.ndcg_at_k(relevant, recommended, **kw)}


def run_quality(n_ratings, n_users, n_items):
    """The quality rows of one size (skrec's full default fit, then ALS), in this process."""
    train, test = split(n_ratings, n_users, n_items)
    est, fit_s = timed_fit(train)
    peak = peak_gb()
    known = test["user_id"].isin(est.users_) & test["movie_id"].isin(est.items_)
    rmse = float(np.sqrt(np.mean((est.predict(test.loc[known, ["user_id", "movie_id"]]) - test.loc[known, "rating"]) ** 2)))
    mean_rmse = float(np.sqrt(np.mean((train["rating"].mean() - test.loc[known, "rating"]) ** 2)))
    relevant = test.loc[known & (test["rating"] >= 4), ["user_id", "movie_id"]]
    users = relevant["user_id"].unique()
    size = {"ratings": n_ratings, "users": n_users, "items": n_items, "evaluated users": len(users)}
    rows = [{**size, "system": "skrec defaults", "fit s": fit_s, "peak RSS GB": peak, "RMSE": rmse,
             "RMSE of the mean": mean_rmse, **ranking(est.recommend(users, k=K), relevant)}]
    if importlib.util.find_spec("implicit"):
        rows.append({**size, "system": "implicit ALS (64 factors)", **run_als(train, users, relevant)})
    return rows


def run_als(train, users, relevant):
    """implicit's ALS on the binary training matrix, scored like skrec."""
    import scipy.sparse as sp
    from implicit.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    user_index, item_index = pd.Index(train["user_id"].unique()), pd.Index(train["movie_id"].unique())
    matrix = sp.csr_matrix(
        (np.ones(len(train), dtype=np.float32), (user_index.get_indexer(train["user_id"]), item_index.get_indexer(train["movie_id"]))),
        shape=(len(user_index), len(item_index)),
    )
    model = AlternatingLeastSquares(factors=64, random_state=0)
    start = time.perf_counter()
    with threadpool_limits(1, "blas"):  # implicit's advice: BLAS threads fight its own
        model.fit(matrix, show_progress=False)
    fit_s = time.perf_counter() - start
    rows = user_index.get_indexer(users)
    ids, _ = model.recommend(rows, matrix[rows], N=K, filter_already_liked_items=True)
    recommended = pd.DataFrame({
        "user_id": np.repeat(users, K), "rank": np.tile(np.arange(1, K + 1), len(users)), "movie_id": item_index[ids.ravel()],
    })
    return {"fit s": fit_s, **ranking(recommended, relevant)}


def in_child(kind, size):
    """Run one size of one table in a fresh process (its own peak memory)."""
    child = subprocess.run(
        [sys.executable, __file__, "--one", kind, *map(str, size)], check=True, stdout=subprocess.PIPE, text=True
    )
    print(f"done: {kind} {size}", file=sys.stderr, flush=True)
    return json.loads(child.stdout.strip().splitlines()[-1])


def speed_table(series, max_ratings):
    rows, done = [], {}
    for name in series:
        for size in SERIES[name]:
            if size[0] > max_ratings:
                continue
            if size not in done:  # the two series share their smallest size
                done[size] = in_child("speed", size)
            rows.append({"series": name, **done[size]})
    return pd.DataFrame(rows).set_index(["series", "ratings"])


def quality_table(max_ratings):
    rows = [row for size in QUALITY if size[0] <= max_ratings for row in in_child("quality", size)]
    return pd.DataFrame(rows).set_index(["ratings", "system"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", nargs="+", choices=sorted(SERIES), default=["fixed", "growing"])
    parser.add_argument("--tables", nargs="+", choices=["speed", "quality"], default=["speed", "quality"])
    parser.add_argument("--max-ratings", type=float, default=1e7, help="skip larger sizes")
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)  # child process: one table, one size
    args = parser.parse_args(argv)
    if args.one:
        kind, *size = args.one
        print(json.dumps((run_speed if kind == "speed" else run_quality)(*map(int, size))))
        return

    from skrec import MultiTaskRecommender
    from skrec._keras import keras

    setup = f"make_interactions(noise={NOISE}), Keras {keras.__version__} ({keras.backend.backend()}), defaults: {MultiTaskRecommender().get_params()}"
    if "speed" in args.tables:
        report(speed_table(args.series, args.max_ratings), "scale", f"Protocol S, speed: {setup}", lambda v: f"{v:,.3f}")
    if "quality" in args.tables:
        report(quality_table(args.max_ratings), "scale_quality", f"Protocol S, quality at scale: {setup}", lambda v: f"{v:,.3f}")


if __name__ == "__main__":
    main()
