"""Choose default settings on validation splits of MovieLens 100k's training folds, never on a test fold.

For each canonical fold uN (N = 1..5) this holds out a seeded 10% of each user's ratings in
``uN.base`` (users with fewer than 5 ratings keep theirs), fits the given configurations on the
rest, and scores them on the held-out part with the P1/P2 metrics (RMSE; Recall@10 and NDCG@10
of the ratings >= 4, items of the fitted part excluded). ``uN.test`` is never read. The means
over the five folds are what the defaults were chosen by (docs/benchmark_movielens.md says
which settings were compared).

    SKREC_DATA=/path/to/data python benchmarks/validate_defaults.py \\
        '{}' '{"max_history": 64}' '{"learning_rate": 0.005}'

Each argument is a dict of parameters over the defaults (Python literal syntax). ``--side``
passes the users and movies frames to ``fit`` (their features are then used by default).

``--thinned FRACTION`` validates on small sparse sets instead: the rated rows of protocol P4 (a)
(``bench_interactions.scarce``: a seeded FRACTION of each training fold's rows keeps its
rating), of which a seeded 20% is held out. ``l2="auto"``'s reference count was chosen so
(``--folds u1,u2,u3 --thinned 0.1``, then 0.25 and 0.5, with ``--l2-reference`` 48, 64, 80).
``--synthetic USERS,ITEMS,RATINGS,SEED`` validates on one split of ``make_interactions`` data
instead (noise 0.5, a seeded 20% of the rows held out), e.g. ``--synthetic 610,9742,100836,0``
(MovieLens latest-small's shape: many interactions per user, few per item). ``--implicit
FRACTION`` validates on implicit feedback: a seeded FRACTION of each training fold's rows
without their ratings, a seeded 20% of them held out, every held-out row relevant (Recall@10
and NDCG@10 only). ``--user-holdout FRACTION`` holds out FRACTION of the ratings of a seeded
half of each fold's users instead of 10% of everyone's: shaped like the canonical folds u1-u3,
whose test sets hold 22-38% of the ratings of some of the users (u1: users 1-462 only), so that
those users' training histories are short. These four exclude one another and ``--side``.
``--seeds N`` scores ``SeedEnsemble(MultiTaskRecommender(...), n_estimators=N, random_state=0)``
instead of one fit.
"""

import argparse
import ast
import time
import warnings

import numpy as np
import pandas as pd
from bench_interactions import scarce

import skrec._recipe
from skrec import MultiTaskRecommender, SeedEnsemble, metrics
from skrec.datasets import fetch_movielens, fetch_movielens_fold, make_interactions
from skrec.exceptions import ColdStartWarning

FOLDS = ("u1", "u2", "u3", "u4", "u5")


def validation_split(train, fraction=0.1, seed=0):
    """Per user, a seeded ``fraction`` of the ratings held out (users with < 5 ratings keep all)."""
    rng = np.random.default_rng(seed)
    key = rng.random(len(train))
    rank = pd.Series(key, index=train.index).groupby(train["user_id"]).rank(method="first")
    size = train.groupby("user_id")["user_id"].transform("size")
    held = (size >= 5) & (rank <= np.floor(fraction * size))
    return train[~held], train[held]


def thinned_split(train, fold, fraction):
    """P4 (a)'s rated rows of ``fold`` at ``fraction`` (renumbered), a seeded 20% of them held out."""
    number = int(fold[1:])
    part = train.pipe(scarce, number, fraction).dropna(subset=["rating"]).reset_index(drop=True)
    held = np.random.default_rng(100 + number).choice(len(part), len(part) // 5, replace=False)
    return part.drop(part.index[held]), part.iloc[held]


def user_holdout_split(train, fold, fraction):
    """``fraction`` of the ratings of a seeded half of ``fold``'s users held out."""
    rng = np.random.default_rng(300 + int(fold[1:]))
    users = train["user_id"].unique()
    chosen = rng.choice(users, len(users) // 2, replace=False)
    held = train["user_id"].isin(chosen).to_numpy() & (rng.random(len(train)) < fraction)
    return train[~held], train[held]


def synthetic_split(text):
    """``make_interactions`` data of the shape ``"USERS,ITEMS,RATINGS,SEED"``, a seeded 20% of its rows held out."""
    n_users, n_items, n_ratings, seed = (int(v) for v in text.split(","))
    ratings = make_interactions(n_users, n_items, n_ratings, noise=0.5, random_state=seed)
    held = np.random.default_rng(0).random(len(ratings)) < 0.2
    return ratings[~held], ratings[held]


def implicit_split(train, fold, fraction):
    """A seeded ``fraction`` of ``fold``'s rows without their ratings, a seeded 20% of them held out."""
    number = int(fold[1:])
    rng = np.random.default_rng(200 + number)
    part = train.iloc[np.sort(rng.choice(len(train), int(fraction * len(train)), replace=False))]
    part = part.assign(rating=np.nan).reset_index(drop=True)
    held = rng.random(len(part)) < 0.2
    return part[~held], part[held]


def ranking(model, relevant):
    """Recall@10 and NDCG@10 of ``model``'s recommendations against the ``relevant`` pairs."""
    recommended = model.recommend(relevant["user_id"].unique(), k=10)
    kw = dict(k=10, user_col="user_id", item_col="movie_id")
    return {"recall": metrics.recall_at_k(relevant, recommended, **kw), "ndcg": metrics.ndcg_at_k(relevant, recommended, **kw)}


def score(params, fit_part, held_out, side=None, n_seeds=None):
    """RMSE, Recall@10 and NDCG@10 of one configuration on one validation split.

    ``side`` holds the ``users`` and ``items`` frames to pass to ``fit``, if any. Without any
    rating (``--implicit``) the model is an implicit-feedback one: no RMSE, and every held-out
    row of a fitted user is relevant. With ``n_seeds``, a ``SeedEnsemble`` of that many fits is scored.
    """
    if n_seeds:
        model = SeedEnsemble(MultiTaskRecommender(**params), n_estimators=n_seeds, random_state=0)
    else:
        model = MultiTaskRecommender(**{"random_state": 0, **params})  # a config may name another seed
    start = time.perf_counter()
    model.fit(fit_part[["user_id", "movie_id"]], fit_part["rating"], **(side or {}))
    seconds = time.perf_counter() - start
    if model.rating_range_ is None:
        relevant = held_out.loc[held_out["user_id"].isin(model.users_), ["user_id", "movie_id"]]
        return {**ranking(model, relevant), "fit_s": seconds}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdStartWarning)
        predicted = model.predict(held_out)
    relevant = held_out.loc[held_out["rating"] >= 4, ["user_id", "movie_id"]]
    rmse = float(np.sqrt(np.mean((np.clip(predicted, 1, 5) - held_out["rating"]) ** 2)))
    return {"rmse": rmse, **ranking(model, relevant), "fit_s": seconds}


def make_splits(args):
    """The validation splits the options ask for, by name."""
    if args.synthetic is not None:
        return {"synthetic": synthetic_split(args.synthetic)}
    splits = {}
    for fold in args.folds.split(","):
        train = fetch_movielens_fold(fold)[0]
        if args.thinned is not None:
            splits[fold] = thinned_split(train, fold, args.thinned)
        elif args.implicit is not None:
            splits[fold] = implicit_split(train, fold, args.implicit)
        elif args.user_holdout is not None:
            splits[fold] = user_holdout_split(train, fold, args.user_holdout)
        else:
            splits[fold] = validation_split(train)
    return splits


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+", help="parameter dicts over the defaults")
    parser.add_argument("--folds", default=",".join(FOLDS))
    parser.add_argument("--side", action="store_true", help="pass the users and movies frames to fit")
    other = parser.add_mutually_exclusive_group()
    other.add_argument("--thinned", type=float, help="validate on P4 (a)'s rated rows at this fraction")
    other.add_argument("--synthetic", help="validate on make_interactions data: USERS,ITEMS,RATINGS,SEED")
    other.add_argument("--implicit", type=float, help="validate on this fraction of the rows, without ratings")
    other.add_argument("--user-holdout", type=float, help="hold out this fraction of the ratings of half the users")
    parser.add_argument("--seeds", type=int, help="score a SeedEnsemble of this many fits")
    parser.add_argument("--l2-reference", type=float,
                        help=f"the reference count of l2='auto' (default {skrec._recipe.L2_RULES['per_interaction'][1]:g})")
    args = parser.parse_args(argv)
    if args.side and (args.thinned or args.synthetic or args.implicit or args.user_holdout):
        parser.error("--side goes with the default splits only")
    if args.l2_reference is not None:
        base = skrec._recipe.L2_RULES["per_interaction"][0]
        skrec._recipe.L2_RULES["per_interaction"] = (base, args.l2_reference)
    side = None
    if args.side:
        data = fetch_movielens()
        side = {"users": data.users, "items": data.movies}
    splits = make_splits(args)
    rows = []
    for text in args.configs:
        params = ast.literal_eval(text)
        results = [score(params, *split, side, args.seeds) for split in splits.values()]
        mean = {key: float(np.mean([r[key] for r in results])) for key in results[0]}
        rows.append({"config": text, **mean})
        print(f"{text:60s} " + "  ".join(f"{k}={v:.4f}" for k, v in mean.items()), flush=True)
    print(pd.DataFrame(rows).set_index("config").to_string(float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
