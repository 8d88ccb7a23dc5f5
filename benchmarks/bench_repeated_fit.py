"""Memory of repeated fits in one process: does refitting MultiTaskRecommender grow the RSS?

Fits the default estimator ``--fits`` times on a synthetic rating set (skrec.datasets
.make_interactions) and prints the resident set size after each block of fits, with and
without ``keras.utils.clear_session()`` between fits.

    python benchmarks/bench_repeated_fit.py [--fits 40] [--ratings 20000]
"""

import argparse
import gc
import resource

from skrec import MultiTaskRecommender
from skrec.datasets import make_interactions


def rss_mb():
    """Current resident set size in MB (Linux /proc; elsewhere the peak so far)."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fits", type=int, default=40)
    parser.add_argument("--ratings", type=int, default=20_000)
    args = parser.parse_args(argv)
    from skrec._keras import keras

    data = make_interactions(n_users=1000, n_items=500, n_ratings=args.ratings, random_state=0)
    X, y = data[["user_id", "movie_id"]], data["rating"]
    print(f"{args.fits} fits of the default MultiTaskRecommender (epochs=2) on {args.ratings:,} ratings")
    print(f"{'fits':>5} {'RSS MB':>8} {'RSS MB (clear_session)':>24}")
    rows = {}
    for clear in (False, True):
        for n in range(1, args.fits + 1):
            MultiTaskRecommender(epochs=2, random_state=n).fit(X, y)
            if clear:
                keras.utils.clear_session()
            gc.collect()
            if n == 1 or n % 10 == 0:
                rows.setdefault(n, []).append(rss_mb())
    for n, (plain, cleared) in rows.items():
        print(f"{n:>5} {plain:>8.0f} {cleared:>24.0f}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
