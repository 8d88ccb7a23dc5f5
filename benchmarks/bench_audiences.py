"""Time of ``recommend_users`` (audiences): every item of MovieLens 100k, and items against 10^6 users.

* **MovieLens 100k**: a default ``MultiTaskRecommender(random_state=0)`` fitted on ``u1.base``;
  the audiences (k = 10, seen users left out) of all its items, and, for comparison, the
  ``recommend`` lists (k = 10) of all its users.
* **10^6 users**: the defaults fitted for one epoch on ``make_interactions(10**6, 10**4,
  2 * 10**6)`` (the time is of serving, not of the model's quality); the audiences (k = 100)
  of 100 items, and of 1,000.

Each time is the median of ``--repeats`` calls after one warm-up call.

    SKREC_DATA=/path/to/data python benchmarks/bench_audiences.py [--repeats 3] [--no-scale]

Prints the table and writes it to ``benchmarks/results/audiences.csv`` and ``.json``.
"""

import argparse
import statistics
import time
import warnings

import pandas as pd
from _results import report


def seconds(call, repeats):
    """Median wall seconds of ``call()`` over ``repeats`` calls, after one call to warm up."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def movielens_rows(repeats):
    from skrec import MultiTaskRecommender
    from skrec.datasets import fetch_movielens_fold

    train, _ = fetch_movielens_fold("u1")
    rec = MultiTaskRecommender(random_state=0).fit(train[["user_id", "movie_id"]], train["rating"])
    n_users, n_items = len(rec.users_), len(rec.items_)
    return {
        f"MovieLens 100k u1: recommend_users, all {n_items:,} items x {n_users:,} users, k=10": seconds(lambda: rec.recommend_users(rec.items_, k=10), repeats),
        f"MovieLens 100k u1: recommend, all {n_users:,} users x {n_items:,} items, k=10": seconds(lambda: rec.recommend(rec.users_, k=10), repeats),
    }


def scale_rows(repeats):
    from skrec import MultiTaskRecommender
    from skrec.datasets import make_interactions

    data = make_interactions(10**6, 10**4, 2 * 10**6, random_state=0)
    rec = MultiTaskRecommender(epochs=1, random_state=0).fit(data[["user_id", "movie_id"]], data["rating"])
    n_users = len(rec.users_)
    return {
        f"make_interactions: recommend_users, {n} items x {n_users:,} users, k=100": seconds(lambda n=n: rec.recommend_users(rec.items_[:n], k=100), repeats)
        for n in (100, 1000)
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-scale", action="store_true", help="skip the 10^6-user part")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    rows = movielens_rows(args.repeats)
    if not args.no_scale:
        rows.update(scale_rows(args.repeats))
    table = pd.DataFrame({"seconds": rows})
    report(table, "audiences", "Audiences (recommend_users) against recommend, wall seconds", lambda v: f"{v:.2f}")


if __name__ == "__main__":
    main()
