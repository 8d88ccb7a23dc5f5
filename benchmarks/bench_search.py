"""Wall time of a GridSearchCV of the defaults over the loss weights, with and without JAX's compilation cache.

Part of the fit-speed work (issue 31). The search: ``GridSearchCV(MultiTaskRecommender(
random_state=0), {"retrieval_weight": [0.5, 1, 2], "ranking_weight": [1, 2]}, cv=PerUserKFold(3,
random_state=0))`` on MovieLens 100k's ``u1.base`` (80,000 ratings): 6 points x 3 folds, then
the refit on all rows, scored by the estimator's own ``score``. Each side runs in a fresh
process:

* **skrec's default**: JAX's persistent compilation cache in a new, empty folder
  (``XDG_CACHE_HOME`` points at a temporary folder), so that the first fit of each shape
  compiles and the others read the compiled step;
* **no cache**: ``jax_enable_compilation_cache`` off, every fit compiles its step.

The difference is the compilation that the cache saves; the table also gives the search's
mean seconds per fit.

    SKREC_DATA=/path/to/data python benchmarks/bench_search.py

Prints the table and writes it to ``benchmarks/results/search.csv`` and ``.json``.
"""

import os
import subprocess
import sys
import tempfile
import time

import pandas as pd
from _results import report

GRID = {"retrieval_weight": [0.5, 1.0, 2.0], "ranking_weight": [1.0, 2.0]}


def search_seconds(cache):
    """Wall seconds of the search in this process, the compilation cache on (skrec's default) or off."""
    import warnings

    import jax
    from sklearn.model_selection import GridSearchCV

    from skrec import MultiTaskRecommender
    from skrec.datasets import fetch_movielens_fold
    from skrec.model_selection import PerUserKFold

    if not cache:
        jax.config.update("jax_enable_compilation_cache", False)
    warnings.simplefilter("ignore")
    train, _ = fetch_movielens_fold("u1")
    X, y = train[["user_id", "movie_id"]], train["rating"]
    search = GridSearchCV(MultiTaskRecommender(random_state=0), GRID, cv=PerUserKFold(3, random_state=0))
    start = time.perf_counter()
    search.fit(X, y)
    return time.perf_counter() - start


def main():
    if len(sys.argv) > 1:  # the child process
        print(search_seconds(sys.argv[1] == "cache"))
        return
    rows = {}
    for side, label in (("cache", "skrec's default (compilation cache, empty at the start)"), ("none", "no compilation cache")):
        with tempfile.TemporaryDirectory() as folder:
            env = {**os.environ, "XDG_CACHE_HOME": folder}
            child = subprocess.run([sys.executable, __file__, side], env=env, check=True, capture_output=True, text=True)
        seconds = float(child.stdout.split()[-1])
        rows[label] = {"search s": seconds, "s per fit (19 fits)": seconds / 19}
    table = pd.DataFrame(rows).T
    report(table, "search", "GridSearchCV, 6 loss-weight points x 3 folds + refit, MovieLens 100k u1.base", lambda v: f"{v:.1f}")


if __name__ == "__main__":
    main()
