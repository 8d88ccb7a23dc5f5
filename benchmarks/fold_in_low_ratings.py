"""What a history's ratings change in a folded-in user's list (the user guide's "What a low rating does").

Fits the default model on all of MovieLens 100k (seed 0), folds in one new user from a history
of films 50, 181 and 100 rated 1/1/1, 5/4/1, 5/5/5, 1/1/5 or without ratings, and prints each
top 10 and how many items every two lists share.

    SKREC_DATA=../shared/data python benchmarks/fold_in_low_ratings.py
"""

import os

import numpy as np
import pandas as pd

import skrec
from skrec.datasets import fetch_movielens

HISTORY = [50, 181, 100]
RATINGS = {"1/1/1": [1, 1, 1], "5/4/1": [5, 4, 1], "5/5/5": [5, 5, 5], "1/1/5": [1, 1, 5], "none": None}


def top_lists(rec):
    out = {}
    for name, stars in RATINGS.items():
        history = pd.DataFrame({"user_id": [-1] * len(HISTORY), "movie_id": HISTORY})
        if stars is not None:
            history["rating"] = stars
        out[name] = rec.recommend([-1], k=10, history=history)["movie_id"].tolist()
    return out


def main():
    ratings = fetch_movielens(data_home=os.environ.get("SKREC_DATA")).ratings
    rec = skrec.MultiTaskRecommender(random_state=0).fit(ratings[["user_id", "movie_id"]], ratings["rating"])
    lists = top_lists(rec)
    for name, items in lists.items():
        print(f"{name:>6}  {items}")
    shared = pd.DataFrame({a: [len(set(lists[a]) & set(lists[b])) for b in lists] for a in lists}, index=list(lists))
    print("\nitems shared by two top-10 lists\n" + shared.to_string())
    return np.asarray(shared)


if __name__ == "__main__":
    main()
