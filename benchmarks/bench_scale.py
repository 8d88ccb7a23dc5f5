"""How fit, recommend and memory grow with the data (BENCHMARK.md protocol S, part 2).

Trains ``MultiTaskRecommender`` on synthetic rating sets from
:func:`skrec.datasets.make_interactions` (power-law item popularity, skewed user activity,
ratings from a latent-factor model plus noise) of 10^5, 10^6 and 10^7 ratings, with catalogues
of 10^4 to 10^5 items and up to 10^6 users, and reports for each size:

* seconds of one training epoch: the fit of one epoch minus the first fit of one batch, which
  compiles the same training step (its time is the "compile s" column); and the same per
  million training ratings, so that linear growth shows as a flat column;
* peak resident memory of the process that generated the data and trained (``ru_maxrss``);
* ``recommend`` latency per user (k = 10, seen items excluded) over 2,000 random users;
* held-out RMSE (1% of the ratings) next to the RMSE of the training mean, so that speed is
  not bought with a model that learned nothing.

Each size runs in a fresh process, so peak memory is its own. The scale configuration is the
default estimator (Adam, batch 1024) with ``embedding_dim=32`` and without the two settings
whose cost per step grows with the data: ``implicit_feedback=False`` (the SVD++ term sums over
every training rating at each step) and ``retrieval_negatives="in_batch"`` (the catalogue
softmax scores every item at each step). The in-batch retrieval loss is summed over the batch
(the Keras-RS example's convention), so its weight is the default's divided by the batch
size. A dense users x items matrix at the largest size would take 100 GB of booleans: the run
finishing on a 24 GB machine shows none is built.

Prints a table and writes ``benchmarks/results/scale.csv`` and ``.json``.

    python benchmarks/bench_scale.py                    # both series (about 13 min on 2 cores)
    python benchmarks/bench_scale.py --max-ratings 1e6  # the smaller sizes only
"""

import argparse
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
PARAMS = {
    "embedding_dim": 32,
    "implicit_feedback": False,
    "retrieval_negatives": "in_batch",
    "retrieval_weight": 1e-4,  # the in-batch loss is a sum over the batch: 0.1 / 1024
    "epochs": 1,
}
NOISE = 0.5
N_REQUEST = 2000


def run_one(n_ratings, n_users, n_items):
    """Measure one size in this process; returns a dict of figures."""
    from skrec import MultiTaskRecommender
    from skrec._keras import keras
    from skrec.datasets import make_interactions

    start = time.perf_counter()
    ratings = make_interactions(n_users, n_items, n_ratings, noise=NOISE, random_state=0)
    generate = time.perf_counter() - start
    held = np.zeros(len(ratings), dtype=bool)
    held[: len(ratings) // 100] = True  # rows come in random order
    train, test = ratings[~held], ratings[held]
    X, y = train[["user_id", "movie_id"]], train["rating"]

    # Compilation: a first fit on one batch of ratings compiles the training step (and the
    # second fit, whose model is new, compiles it again: "epoch s" subtracts this).
    keras.ops.convert_to_numpy(keras.ops.ones(2) + 1)
    batch = MultiTaskRecommender().batch_size
    start = time.perf_counter()
    MultiTaskRecommender(**PARAMS, random_state=0).fit(X.iloc[:batch], y.iloc[:batch])
    compile_s = time.perf_counter() - start

    est = MultiTaskRecommender(**PARAMS, random_state=0)
    start = time.perf_counter()
    est.fit(X, y)
    fit_s = time.perf_counter() - start

    users = np.random.default_rng(0).choice(est.users_, size=min(N_REQUEST, len(est.users_)), replace=False)
    est.recommend(users, k=10)  # warm-up: compiles the kernels for these shapes
    start = time.perf_counter()
    recs = est.recommend(users, k=10)
    recommend_s = time.perf_counter() - start
    assert len(recs) == 10 * len(users)

    known = test["user_id"].isin(est.users_) & test["movie_id"].isin(est.items_)
    test = test[known]
    rmse = float(np.sqrt(np.mean((est.predict(test[["user_id", "movie_id"]]) - test["rating"]) ** 2)))
    mean_rmse = float(np.sqrt(np.mean((y.mean() - test["rating"]) ** 2)))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    epoch_s = fit_s - compile_s
    return {
        "ratings": n_ratings,
        "users": n_users,
        "items": n_items,
        "generate s": generate,
        "compile s": compile_s,
        "fit s": fit_s,
        "epoch s": epoch_s,
        "epoch s per 1M ratings": epoch_s / (len(X) / 1e6),
        "recommend ms/user": 1000 * recommend_s / len(users),
        "peak RSS MB": peak_mb,
        "RMSE": rmse,
        "RMSE of the mean": mean_rmse,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", nargs="+", choices=sorted(SERIES), default=["fixed", "growing"])
    parser.add_argument("--max-ratings", type=float, default=1e7, help="skip larger sizes")
    parser.add_argument("--one", type=int, nargs=3, help=argparse.SUPPRESS)  # child process: one size
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(*args.one)))
        return

    rows, done = [], {}
    for series in args.series:
        for size in SERIES[series]:
            if size[0] > args.max_ratings:
                continue
            if size not in done:  # the two series share their smallest size
                child = subprocess.run(
                    [sys.executable, __file__, "--one", *map(str, size)], check=True, stdout=subprocess.PIPE, text=True
                )
                done[size] = json.loads(child.stdout.strip().splitlines()[-1])
                print(f"done: {size}", file=sys.stderr, flush=True)
            rows.append({"series": series, **done[size]})
    table = pd.DataFrame(rows).set_index(["series", "ratings"])

    from skrec._keras import keras

    title = (
        f"Protocol S (scale), make_interactions(noise={NOISE}), Keras {keras.__version__} "
        f"({keras.backend.backend()}), one epoch, {PARAMS}"
    )
    report(table, "scale", title, lambda v: f"{v:,.3f}")


if __name__ == "__main__":
    main()
