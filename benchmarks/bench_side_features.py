"""Side features on MovieLens 100k: P1/P2 with and without the users and movies frames, P6 (new items) and P7 (new users).

P1/P2 (../shared/BENCHMARK.md) on the canonical folds u1..u5: the defaults fitted on
``uN.base`` alone, and with ``users=`` and ``items=`` (age, gender, occupation; genres, release
year and date, encoded by skrec's default rule).

P6, new items: on each fold, a seeded 10% of the movies is removed from training entirely
(its ratings in ``uN.base`` are dropped; the movies frame still lists it, so its features are
known). Every test user with a rating >= 4 of a held-out movie in ``uN.test`` gets a top-10
ranked among the held-out movies only; Recall@10 and NDCG@10 against those ratings. skrec
(with features) against two baselines built here from the training ratings: the popularity of
each movie's genres (training ratings per genre, averaged over the movie's genres) and the
user's own genre profile (the share of the user's training ratings in each of the movie's
genres, summed). LightFM runs when it is installed: it has no wheel for Python 3.11, and
``pip install lightfm`` fails to build 1.17 from source (its setup.py reads ``__builtins__`` as
a module, which build isolation breaks); ``pip install --no-build-isolation lightfm`` builds it.

    SKREC_DATA=/path/to/data python benchmarks/bench_side_features.py [--folds u1,u2] [--write]
        [--id-dropout 0,0.25] [--choose-id-dropout]

``--choose-id-dropout`` compares the ``--id-dropout`` values on new items of validation splits
of the training folds only (how the default was chosen; known ids' side of the trade-off is
``benchmarks/validate_defaults.py --side '{"id_dropout": 0.25}'``).
"""

import argparse
import importlib.util
import pathlib
import time
import warnings

import numpy as np
import pandas as pd

from skrec import MultiTaskRecommender, metrics
from skrec.datasets import fetch_movielens, fetch_movielens_fold
from skrec.exceptions import ColdStartWarning

K = 10
INTRO = """\
`MultiTaskRecommender(random_state=0)` with its default parameters. "+ users, items" passes
`users=ml.users` and `items=ml.movies` to `fit`, whose columns the default rule encodes (age
bins, gender, occupation; genres, release year and release date bins; titles, URLs and zip
codes are left out as identifiers). P1/P2 follow `../shared/BENCHMARK.md` on the canonical
folds; RMSE over all test pairs, Recall@10 and NDCG@10 of `recommend` (items rated in training
excluded) against each test user's ratings >= 4.

P6 (new items): on each fold a seeded 10% of the 1,682 movies (the same 168 on every fold) is
removed from training; the movies frame still lists them, so skrec knows them as cold-start
items from their features. Each test user with a rating >= 4 of one of them gets a top-10
among those movies only (`recommend(..., candidates=held_out)`). The baselines rank the same
movies by the training popularity of their genres (ratings per genre, averaged over the
movie's genres: the same list for every user) or by the user's own genre profile (the share of
the user's training ratings in each of the movie's genres, summed). LightFM, the issue's
suggested peer, has no wheel for Python 3.11 and `pip install lightfm` fails to build it
(`AttributeError: 'dict' object has no attribute '__LIGHTFM_SETUP__'` under build isolation);
`pip install --no-build-isolation lightfm` builds 1.17, and it runs here as WARP with 64
components and 30 epochs on the binary training matrix, with identity plus the same
default-encoded features as skrec (held-out movies: features only). `id_dropout` hides an id's own embedding in that share of training rows (DropoutNet);
both values are reported, the default (0) was not chosen on these test folds.

P7 (new users): on each fold a seeded 10% of the 943 users (the same 94 on every fold) is
removed from training; the users frame still lists them (age, gender, occupation), so skrec
knows them as cold-start users. Each of them with a rating >= 4 in `uN.test` gets a top-10
among the movies of the training data; Recall@10 and NDCG@10 against those ratings. Baselines:
the most popular movies, and the most popular among training users of the same gender and
10-year age band; LightFM as in P6, with the held-out users' identity features removed.
"""
DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"
KW = dict(k=K, user_col="user_id", item_col="movie_id")


def environment():
    """One line: the versions the figures were measured with, and the machine."""
    import platform

    import keras
    import sklearn

    import skrec

    return (
        f"Python {platform.python_version()}, skrec {skrec.__version__}, Keras {keras.__version__} "
        f"({keras.backend.backend()} backend), scikit-learn {sklearn.__version__}, pandas {pd.__version__}; "
        f"{platform.machine()}, {__import__('os').cpu_count()} cores"
    )


def p1_p2(model, train, test, side):
    """RMSE on ``test`` and Recall/NDCG@10 of the users' ratings >= 4, seen items excluded."""
    start = time.perf_counter()
    model.fit(train[["user_id", "movie_id"]], train["rating"], **side)
    seconds = time.perf_counter() - start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdStartWarning)
        predicted = model.predict(test)
    relevant = test.loc[test["rating"] >= 4, ["user_id", "movie_id"]]
    top = model.recommend(relevant["user_id"].unique(), k=K)
    return {
        "RMSE": float(np.sqrt(np.mean((np.clip(predicted, 1, 5) - test["rating"]) ** 2))),
        "Recall@10": metrics.recall_at_k(relevant, top, **KW),
        "NDCG@10": metrics.ndcg_at_k(relevant, top, **KW),
        "fit s": seconds,
    }


def new_items_split(train, test, movies, seed=0, fraction=0.1):
    """P6: ``(training ratings without the held-out movies, relevant test pairs of them, held-out ids)``."""
    rng = np.random.default_rng(seed)
    held = np.sort(rng.choice(movies["movie_id"].to_numpy(), int(round(fraction * len(movies))), replace=False))
    fit_part = train[~train["movie_id"].isin(held)]
    relevant = test[test["movie_id"].isin(held) & (test["rating"] >= 4)][["user_id", "movie_id"]]
    relevant = relevant[relevant["user_id"].isin(fit_part["user_id"])]
    return fit_part, relevant, held


def new_users_split(train, test, users, seed=0, fraction=0.1):
    """P7: ``(training ratings without the held-out users, their relevant test pairs, held-out ids)``."""
    rng = np.random.default_rng([seed, 7])
    held = np.sort(rng.choice(users["user_id"].to_numpy(), int(round(fraction * len(users))), replace=False))
    fit_part = train[~train["user_id"].isin(held)]
    relevant = test[test["user_id"].isin(held) & (test["rating"] >= 4)][["user_id", "movie_id"]]
    return fit_part, relevant, held


def demographic_baselines(fit_part, relevant, users):
    """Top-10 frames of "most popular" and "most popular among users of the same gender and age band"."""
    targets = relevant["user_id"].unique()
    band = users.set_index("user_id").assign(band=lambda f: f["gender"].astype(str) + (f["age"] // 10).astype(str))["band"]
    items = np.sort(fit_part["movie_id"].unique())
    overall = fit_part["movie_id"].value_counts().reindex(items, fill_value=0).to_numpy()
    counts = pd.crosstab(band[fit_part["user_id"]].to_numpy(), fit_part["movie_id"].to_numpy()).reindex(columns=items, fill_value=0)
    group = np.stack([counts.loc[b].to_numpy() if b in counts.index else overall for b in band[targets]])
    return {
        "most popular": _top(targets, np.tile(overall, (len(targets), 1)), items),
        "most popular in the user's gender and age band": _top(targets, group + overall / (overall.sum() + 1), items),
    }


def lightfm_p7(fit_part, relevant, held, movies, users):
    """LightFM WARP (64, 30 epochs), identity + default-encoded features; held-out users: features only."""
    import scipy.sparse as sp
    from lightfm import LightFM

    from skrec._features import encode_features

    movie_frame, user_frame = movies.set_index("movie_id"), users.set_index("user_id")
    item_index, user_index = movie_frame.index, user_frame.index
    items_matrix = sp.hstack([sp.identity(len(item_index), dtype="float32"), encode_features(movie_frame, "auto").rows(item_index)]).tocsr()
    identity = sp.diags((~user_index.isin(held)).astype("float32"))
    users_matrix = sp.hstack([identity, encode_features(user_frame, "auto").rows(user_index)]).tocsr()
    rows, cols = user_index.get_indexer(fit_part["user_id"]), item_index.get_indexer(fit_part["movie_id"])
    interactions = sp.coo_matrix((np.ones(len(rows), "float32"), (rows, cols)), shape=(len(user_index), len(item_index)))
    model = LightFM(loss="warp", no_components=64, random_state=0)
    model.fit(interactions, user_features=users_matrix, item_features=items_matrix, epochs=30, num_threads=2)
    targets = relevant["user_id"].unique()
    known = np.sort(fit_part["movie_id"].unique())
    codes = item_index.get_indexer(known)
    scores = np.stack([
        model.predict(int(u), codes, user_features=users_matrix, item_features=items_matrix, num_threads=2)
        for u in user_index.get_indexer(targets)
    ])
    return _top(targets, scores, known)


def p7(fit_part, relevant, side, id_dropout):
    model = MultiTaskRecommender(random_state=0, id_dropout=id_dropout)
    start = time.perf_counter()
    model.fit(fit_part[["user_id", "movie_id"]], fit_part["rating"], **side)
    seconds = time.perf_counter() - start
    known = np.sort(fit_part["movie_id"].unique())  # the same catalogue as the baselines
    return model.recommend(relevant["user_id"].unique(), k=K, candidates=known), seconds


def genre_matrix(movies):
    """Movies x genres 0/1 frame indexed by movie id."""
    return movies.set_index("movie_id")["genres"].str.get_dummies(sep="|")


def genre_baselines(fit_part, relevant, held, genres):
    """Top-10 frames of the two genre baselines over the ``held`` movies."""
    held_genres = genres.loc[held]
    rated = genres.loc[fit_part["movie_id"]].to_numpy()
    popularity = rated.sum(axis=0)
    n_genres = held_genres.sum(axis=1).clip(lower=1).to_numpy()
    global_score = held_genres.to_numpy() @ popularity / n_genres
    users = relevant["user_id"].unique()
    profile = pd.DataFrame(rated, index=fit_part["user_id"].to_numpy()).groupby(level=0).mean().loc[users].to_numpy()
    personal_score = profile @ held_genres.to_numpy().T
    return {
        "popularity of the genres": _top(users, np.tile(global_score, (len(users), 1)), held),
        "user's genre profile": _top(users, personal_score, held),
    }


def _top(users, scores, items):
    order = np.argsort(-scores, axis=1, kind="stable")[:, :K]
    return pd.DataFrame(
        {"user_id": np.repeat(users, order.shape[1]), "rank": np.tile(np.arange(1, order.shape[1] + 1), len(users)), "movie_id": np.asarray(items)[order].ravel()}
    )


def lightfm_p6(fit_part, relevant, held, movies, users):
    """LightFM WARP (64 components, 30 epochs) with identity + feature columns; held-out movies keep features only.

    The feature columns are skrec's default encoding of the frames (the same features skrec
    sees), so the comparison is of the models, not of the encodings. Returns the top-10 frame.
    """
    import scipy.sparse as sp
    from lightfm import LightFM

    from skrec._features import encode_features

    movie_frame = movies.set_index("movie_id")
    user_frame = users.set_index("user_id")
    item_index, user_index = movie_frame.index, user_frame.index
    item_features = encode_features(movie_frame, "auto").rows(item_index)
    user_features = encode_features(user_frame, "auto").rows(user_index)
    identity = sp.diags((~item_index.isin(held)).astype("float32"))  # cold items: features only
    items_matrix = sp.hstack([identity, item_features]).tocsr()
    users_matrix = sp.hstack([sp.identity(len(user_index), dtype="float32"), user_features]).tocsr()
    rows, cols = user_index.get_indexer(fit_part["user_id"]), item_index.get_indexer(fit_part["movie_id"])
    interactions = sp.coo_matrix((np.ones(len(rows), "float32"), (rows, cols)), shape=(len(user_index), len(item_index)))
    model = LightFM(loss="warp", no_components=64, random_state=0)
    model.fit(interactions, user_features=users_matrix, item_features=items_matrix, epochs=30, num_threads=2)
    test_users = relevant["user_id"].unique()
    held_codes = item_index.get_indexer(held)
    scores = np.stack([
        model.predict(int(u), held_codes, user_features=users_matrix, item_features=items_matrix, num_threads=2)
        for u in user_index.get_indexer(test_users)
    ])
    return _top(test_users, scores, held)


def p6(fit_part, relevant, held, side, id_dropout):
    model = MultiTaskRecommender(random_state=0, id_dropout=id_dropout)
    start = time.perf_counter()
    model.fit(fit_part[["user_id", "movie_id"]], fit_part["rating"], **side)
    seconds = time.perf_counter() - start
    top = model.recommend(relevant["user_id"].unique(), k=K, candidates=held)
    return top, seconds


def _ranking(relevant, top):
    return {"Recall@10": metrics.recall_at_k(relevant, top, **KW), "NDCG@10": metrics.ndcg_at_k(relevant, top, **KW)}


def choose_id_dropout(folds, rates, side, movies):
    """NDCG@10 of new items on validation splits of the training folds only (how ``id_dropout`` was chosen).

    In each ``uN.base``, a seeded 10% of the movies (another draw than P6's) is held out of
    fitting; its ratings >= 4 in ``uN.base`` by the remaining users are the relevant items,
    ranked among the held-out movies. ``uN.test`` is never read.
    """
    rows = []
    for fold in folds:
        base, _ = fetch_movielens_fold(fold)
        held = np.sort(np.random.default_rng(1).choice(movies["movie_id"].to_numpy(), int(round(0.1 * len(movies))), replace=False))
        fit_part = base[~base["movie_id"].isin(held)]
        relevant = base[base["movie_id"].isin(held) & (base["rating"] >= 4)][["user_id", "movie_id"]]
        relevant = relevant[relevant["user_id"].isin(fit_part["user_id"])]
        for rate in rates:
            top, _ = p6(fit_part, relevant, held, side, rate)
            rows.append({"id_dropout": rate, "fold": fold, **_ranking(relevant, top)})
            print(rows[-1], flush=True)
    return pd.DataFrame(rows).drop(columns="fold").groupby("id_dropout").mean()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", default="u1,u2,u3,u4,u5")
    parser.add_argument("--id-dropout", default="0,0.25", help="id_dropout values to compare (comma-separated)")
    parser.add_argument("--skip-p1p2", action="store_true")
    parser.add_argument("--write", action="store_true", help="write the tables to docs/side_features.md")
    parser.add_argument("--choose-id-dropout", action="store_true",
                        help="only compare the --id-dropout values on new items of validation splits of the training folds")
    args = parser.parse_args(argv)
    data = fetch_movielens()
    side = {"users": data.users, "items": data.movies}
    if args.choose_id_dropout:
        table = choose_id_dropout(args.folds.split(","), [float(v) for v in args.id_dropout.split(",")], side, data.movies)
        print(table.to_string(float_format=lambda v: f"{v:.4f}"))
        return
    genres = genre_matrix(data.movies)
    rates = [float(v) for v in args.id_dropout.split(",")]
    rows_p12, rows_p6, rows_p7 = [], [], []
    for fold in args.folds.split(","):
        train, test = fetch_movielens_fold(fold)
        if not args.skip_p1p2:
            for name, kwargs, frames in (("skrec defaults, no frames", {}, {}), ("skrec defaults + users, items", {}, side)):
                rows_p12.append({"system": name, "fold": fold, **p1_p2(MultiTaskRecommender(random_state=0, **kwargs), train, test, frames)})
                print(rows_p12[-1], flush=True)
        fit_part, relevant, held = new_items_split(train, test, data.movies)
        for name, top in genre_baselines(fit_part, relevant, held, genres).items():
            rows_p6.append({"system": name, "fold": fold, **_ranking(relevant, top), "fit s": 0.0})
        n_before = len(rows_p6)
        if importlib.util.find_spec("lightfm"):
            start = time.perf_counter()
            top = lightfm_p6(fit_part, relevant, held, data.movies, data.users)
            rows_p6.append({"system": "LightFM WARP + features (64, 30 epochs)", "fold": fold, **_ranking(relevant, top), "fit s": time.perf_counter() - start})
        for rate in rates:
            top, seconds = p6(fit_part, relevant, held, side, rate)
            rows_p6.append({"system": f"skrec + features, id_dropout={rate:g}", "fold": fold, **_ranking(relevant, top), "fit s": seconds})
        for row in rows_p6[n_before - 2 :]:
            print(row, flush=True)
        fit_part, relevant, held = new_users_split(train, test, data.users)
        n_before = len(rows_p7)
        for name, top in demographic_baselines(fit_part, relevant, data.users).items():
            rows_p7.append({"system": name, "fold": fold, **_ranking(relevant, top), "fit s": 0.0})
        if importlib.util.find_spec("lightfm"):
            start = time.perf_counter()
            top = lightfm_p7(fit_part, relevant, held, data.movies, data.users)
            rows_p7.append({"system": "LightFM WARP + features (64, 30 epochs)", "fold": fold, **_ranking(relevant, top), "fit s": time.perf_counter() - start})
        for rate in rates:
            top, seconds = p7(fit_part, relevant, side, rate)
            rows_p7.append({"system": f"skrec + features, id_dropout={rate:g}", "fold": fold, **_ranking(relevant, top), "fit s": seconds})
        for row in rows_p7[n_before:]:
            print(row, flush=True)
    tables = []
    if rows_p12:
        tables.append(("P1 + P2 with and without the side frames", pd.DataFrame(rows_p12)))
    tables.append(("P6, new items (ranked among the held-out 10% of movies)", pd.DataFrame(rows_p6)))
    tables.append(("P7, new users known only by their demographics (ranked among all movies)", pd.DataFrame(rows_p7)))
    text = []
    for title, frame in tables:
        mean = frame.drop(columns="fold").groupby("system", sort=False).mean()
        print(f"\n{title}, means over folds {args.folds}:\n{mean.to_string(float_format=lambda v: f'{v:.4f}')}")
        text.append(f"## {title}\n\nMeans over folds {args.folds.replace(',', ', ')}.\n\n{mean.to_markdown(floatfmt='.4f')}\n")
    if args.write:
        header = f"# Side features on MovieLens 100k (P1, P2, P6 and P7)\n\nMeasured by `python benchmarks/bench_side_features.py --write`.\n\n{environment()}\n\n{INTRO}\n"
        (DOCS / "side_features.md").write_text(header + "\n".join(text))


if __name__ == "__main__":
    main()
