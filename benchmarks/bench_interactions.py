"""Protocols P4 (scarce ratings) and P5 (new users at serving time) on MovieLens 100k (BENCHMARK.md).

**P4, scarce ratings.** On the five canonical folds, each training fold keeps the rating of a
random 10% (and 25%) of its rows, drawn with ``numpy.random.default_rng(fold number).random(n) <
fraction``; the other rows stay as interactions without a rating (NaN). Systems: (a) skrec's
defaults on the rated rows alone, (b) skrec's defaults on all rows, the unrated ones as NaN,
(c) Surprise SVD++ on the rated rows (when installed: it cannot use unrated rows). Reported:
P1 RMSE on the unchanged test fold and P2 Recall@10 / NDCG@10, five-fold means.

**P5, new users.** All of ``u.data``; 10% of the users (``numpy.random.default_rng(0).choice``
over the sorted user ids) are held out of training entirely. For each, the earliest half of
their ratings by timestamp (ties by row order) is the history given at recommendation time,
the later half the test set (relevant: rated 4 or 5). Candidates: the catalogue minus the
history. Systems, none refitted: most popular (by training count), implicit's ALS (64 factors,
binary training matrix) with ``recalculate_user=True`` (when installed), skrec's fold-in
(``recommend(..., history=...)``). P2 metrics at k = 10; for skrec also the RMSE of the test
ratings predicted with the history (``predict(..., history=...)``) and without it (the items'
mean ratings, ``predict``'s fallback for unknown users).

    SKREC_DATA=/path/to/data python benchmarks/bench_interactions.py [--protocols P4 P5] [--write]

Prints the tables; with ``--write`` also writes ``docs/interaction_data.md``.

``--choose FRACTION CONFIG [CONFIG ...]`` compares skrec configurations (dicts of parameters over
the defaults) and SVD++ on validation splits of P4's scarce training folds only: a seeded 20% of
each fold's rated rows is held out, the rest (rated and unrated) fitted; RMSE on the held-out
ratings, Recall@10 / NDCG@10 of those rated >= 4. ``uN.test`` is never read::

    python benchmarks/bench_interactions.py --choose 0.1 '{}' '{"max_history": 128}' --folds u1,u2,u3
"""

import argparse
import ast
import importlib.util
import pathlib
import time
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from bench_movielens import environment, p1, p2

from skrec import MultiTaskRecommender
from skrec.datasets import fetch_movielens, fetch_movielens_fold
from skrec.exceptions import ColdStartWarning

K = 10
N_ITEMS = 1682
DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


# ------------------------------------------------------------------------------ P4
def scarce(train, fold_number, fraction):
    """The training fold with the rating of all but a seeded ``fraction`` of rows removed."""
    keep = np.random.default_rng(fold_number).random(len(train)) < fraction
    return train.assign(rating=train["rating"].where(keep))


def skrec_p4(train, test, params=None):
    model = MultiTaskRecommender(random_state=0, **(params or {}))
    start = time.perf_counter()
    model.fit(train[["user_id", "movie_id"]], train["rating"])
    seconds = time.perf_counter() - start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdStartWarning)
        predicted = model.predict(test)
        users = test.loc[test["rating"] >= 4, "user_id"].unique()
        recommended = model.recommend(users, k=K)
    return {**p1(predicted, test), **p2(recommended, test, N_ITEMS), "fit_s": seconds}


def svdpp_p4(train, test):
    import surprise

    rated = train.dropna(subset=["rating"])
    data = surprise.Dataset.load_from_df(rated[["user_id", "movie_id", "rating"]], surprise.Reader(rating_scale=(1, 5)))
    algo = surprise.SVDpp(random_state=0)
    start = time.perf_counter()
    algo.fit(data.build_full_trainset())
    seconds = time.perf_counter() - start
    predicted = np.array([algo.predict(u, i).est for u, i in zip(test["user_id"], test["movie_id"])])
    return {**p1(predicted, test), "fit_s": seconds}


def run_p4(fractions=(0.1, 0.25)):
    rows = []
    for number, fold in enumerate(["u1", "u2", "u3", "u4", "u5"], start=1):
        train, test = fetch_movielens_fold(fold)
        for fraction in fractions:
            part = scarce(train, number, fraction)
            systems = {
                "(a) skrec, rated rows only": lambda: skrec_p4(part.dropna(subset=["rating"]), test),
                "(b) skrec, all rows (unrated as NaN)": lambda: skrec_p4(part, test),
            }
            if importlib.util.find_spec("surprise"):
                systems["(c) Surprise SVD++, rated rows"] = lambda: svdpp_p4(part, test)
            for name, run in systems.items():
                result = run()
                rows.append({"rated share": fraction, "system": name, "fold": fold, **result})
                print(f"  P4 {fraction:.0%} {name:<40} {fold}: " + ", ".join(f"{k}={v:.4f}" for k, v in result.items()), flush=True)
    table = pd.DataFrame(rows).groupby(["rated share", "system"], sort=False)[["rmse", "recall", "ndcg", "fit_s"]].mean()
    return table.rename(columns={"rmse": "P1 RMSE", "recall": "P2 Recall@10", "ndcg": "P2 NDCG@10", "fit_s": "fit s / fold"})


def choose_p4(fraction, configs, folds):
    """Mean validation RMSE, Recall@10 and NDCG@10 of ``configs`` (and SVD++) on P4's scarce training folds."""
    rows = []
    for number, fold in enumerate(["u1", "u2", "u3", "u4", "u5"], start=1):
        if fold not in folds:
            continue
        part = scarce(fetch_movielens_fold(fold)[0], number, fraction)
        rated = np.flatnonzero(part["rating"].notna())
        held = np.random.default_rng(100 + number).choice(rated, len(rated) // 5, replace=False)
        validation, fitted = part.iloc[held], part.drop(part.index[held])
        runs = {text: (lambda params=ast.literal_eval(text): skrec_p4(fitted, validation, params)) for text in configs}
        if importlib.util.find_spec("surprise"):
            runs["Surprise SVD++"] = lambda: svdpp_p4(fitted, validation)
        for name, run in runs.items():
            rows.append({"config": name, "fold": fold, **run()})
            print(f"  {fold} {name}: " + ", ".join(f"{k}={v:.4f}" for k, v in rows[-1].items() if k not in ("config", "fold")), flush=True)
    return pd.DataFrame(rows).groupby("config", sort=False)[["rmse", "recall", "ndcg", "fit_s"]].mean()


# ------------------------------------------------------------------------------ P5
def p5_split(ratings):
    """Training ratings, the held-out users' histories (earliest half) and test ratings."""
    users = np.sort(ratings["user_id"].unique())
    held = np.random.default_rng(0).choice(users, len(users) // 10, replace=False)
    new = ratings[ratings["user_id"].isin(held)].reset_index(drop=True)
    order = new.sort_values(["user_id", "timestamp"], kind="stable").index
    new = new.loc[order]
    position = new.groupby("user_id").cumcount()
    size = new.groupby("user_id")["user_id"].transform("size")
    history, test = new[position < size // 2], new[position >= size // 2]
    return ratings[~ratings["user_id"].isin(held)], history, test


def recommended_frame(users, items):
    return pd.DataFrame({"user_id": np.repeat(users, K), "rank": np.tile(np.arange(1, K + 1), len(users)), "movie_id": items.ravel()})


def popular_p5(train, history, test):
    popularity = train["movie_id"].value_counts().reindex(np.arange(1, N_ITEMS + 1), fill_value=0)
    users = test.loc[test["rating"] >= 4, "user_id"].unique()
    seen = history.groupby("user_id")["movie_id"].apply(set)
    ranked = popularity.sort_values(ascending=False, kind="stable").index.to_numpy()
    items = np.stack([[i for i in ranked if i not in seen.get(u, set())][:K] for u in users])
    return p2(recommended_frame(users, items), test, N_ITEMS)


def als_p5(train, history, test):
    from implicit.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    items = np.arange(1, N_ITEMS + 1)
    train_users = np.sort(train["user_id"].unique())
    matrix = _binary(train, train_users, items)
    model = AlternatingLeastSquares(factors=64, random_state=0)
    start = time.perf_counter()
    with threadpool_limits(1, "blas"):
        model.fit(matrix, show_progress=False)
    seconds = time.perf_counter() - start
    users = test.loc[test["rating"] >= 4, "user_id"].unique()
    new_items = _binary(history, users, items)
    ids, _ = model.recommend(np.arange(len(users)), new_items, N=K, filter_already_liked_items=True, recalculate_user=True)
    return {**p2(recommended_frame(users, items[ids]), test, N_ITEMS), "fit_s": seconds}


def _binary(frame, users, items):
    rows, cols = pd.Index(users).get_indexer(frame["user_id"]), pd.Index(items).get_indexer(frame["movie_id"])
    keep = rows >= 0
    return sp.csr_matrix((np.ones(keep.sum(), np.float32), (rows[keep], cols[keep])), shape=(len(users), len(items)))


def skrec_p5(train, history, test):
    model = MultiTaskRecommender(random_state=0)
    start = time.perf_counter()
    model.fit(train[["user_id", "movie_id"]], train["rating"])
    seconds = time.perf_counter() - start
    users = test.loc[test["rating"] >= 4, "user_id"].unique()
    recommended = model.recommend(users, k=K, history=history[["user_id", "movie_id", "rating"]])
    pairs = test[["user_id", "movie_id"]]
    rmse = lambda predicted: float(np.sqrt(np.mean((predicted - test["rating"].to_numpy()) ** 2)))  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fallback's ColdStartWarning
        fallback = rmse(model.predict(pairs))
    folded = rmse(model.predict(pairs, history=history[["user_id", "movie_id", "rating"]]))
    return {**p2(recommended, test, N_ITEMS), "fit_s": seconds, "rmse_history": folded, "rmse_item_means": fallback}


def run_p5():
    train, history, test = p5_split(fetch_movielens().ratings)
    print(f"  P5: {train['user_id'].nunique()} training users, {history['user_id'].nunique()} new users, "
          f"{len(history)} history and {len(test)} test ratings", flush=True)
    systems = {"most popular": popular_p5, "skrec fold-in (recommend(..., history=...))": skrec_p5}
    if importlib.util.find_spec("implicit"):
        systems["implicit ALS, recalculate_user=True"] = als_p5
    rows = []
    for name, run in systems.items():
        result = run(train, history, test)
        rows.append({"system": name, **result})
        print(f"  P5 {name:<48}: " + ", ".join(f"{k}={v:.4f}" for k, v in result.items()), flush=True)
    table = pd.DataFrame(rows).set_index("system")
    return table.rename(columns={"recall": "P2 Recall@10", "ndcg": "P2 NDCG@10", "precision": "P2 Precision@10",
                                 "hit_rate": "P2 HitRate@10", "coverage": "P2 Coverage@10", "fit_s": "fit s",
                                 "rmse_history": "RMSE, predict(history=)", "rmse_item_means": "RMSE, item means (no history)"})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocols", nargs="+", choices=["P4", "P5"], default=["P4", "P5"])
    parser.add_argument("--write", action="store_true", help="write docs/interaction_data.md")
    parser.add_argument("--choose", nargs="+", metavar=("FRACTION", "CONFIG"),
                        help="only compare configurations on validation splits of P4's scarce training folds")
    parser.add_argument("--folds", default="u1,u2,u3,u4,u5", help="folds of --choose")
    args = parser.parse_args(argv)
    print(environment(), flush=True)
    if args.choose:
        table = choose_p4(float(args.choose[0]), args.choose[1:] or ["{}"], args.folds.split(","))
        print(table.to_string(float_format=lambda v: f"{v:.4f}"))
        return
    sections = []
    for name, run in (("P4", run_p4), ("P5", run_p5)):
        if name in args.protocols:
            table = run()
            print(f"\n{name}:\n" + table.to_string(float_format=lambda v: f"{v:.3f}"), flush=True)
            sections.append((name, table))
    if args.write:
        write_docs(sections)


def write_docs(sections):
    text = ["# Real interaction data: scarce ratings (P4) and new users (P5)\n",
            f"Measured by `python benchmarks/bench_interactions.py --write` on {environment()}.\n",
            __doc__.split("\n\n", 1)[1].split("\n\n    SKREC_DATA")[0] + "\n"]
    for name, table in sections:
        text.append(f"## {name}\n\n{table.to_markdown(floatfmt='.3f')}\n")
    (DOCS / "interaction_data.md").write_text("\n".join(text))


if __name__ == "__main__":
    main()
