"""Which feature groups carry myfm's Bayesian FM RMSE on MovieLens 100k: ids, and each side's implicit feedback.

Fits the benchmark's myfm peer (``bench_movielens.run_myfm``: rank 10, 200 Gibbs iterations, one
prior per feature group) on the validation splits of ``validate_defaults.py`` (a seeded 10% of
each user's training ratings held out; the test folds are never read) with feature groups
dropped, and prints the RMSE per fold and its mean:

    SKREC_DATA=/path/to/data python benchmarks/ablate_myfm.py --folds u1,u2

docs/defaults.md, "Item-side implicit feedback", quotes its table. Needs ``myfm`` (the
benchmark extra).
"""

import argparse

import pandas as pd
from validate_defaults import validation_split

import bench_movielens
from skrec.datasets import fetch_movielens, fetch_movielens_fold

#: Feature groups kept: (each user's movies, each movie's users) besides the ids.
VARIANTS = {
    "user and movie ids": (False, False),
    "ids + each user's movies": (True, False),
    "ids + each movie's users": (False, True),
    "ids + both (the benchmark's peer)": (True, True),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", default="u1,u2")
    folds = parser.parse_args(argv).folds.split(",")
    data = fetch_movielens()
    side = (data.users, data.movies)
    table = {}
    for fold in folds:
        fit_part, held = validation_split(fetch_movielens_fold(fold)[0])
        table[fold] = {name: bench_movielens.run_myfm(fit_part, held, side, False, kept)["rmse"] for name, kept in VARIANTS.items()}
        print(fold, {name: round(v, 4) for name, v in table[fold].items()}, flush=True)
    frame = pd.DataFrame(table)
    frame["mean"] = frame.mean(axis=1)
    print(frame.to_string(float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
