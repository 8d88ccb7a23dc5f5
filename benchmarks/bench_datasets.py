"""Protocols D (Douban ratings) and L (Last.fm plays) of BENCHMARK.md: skrec's defaults beside the peers.

**D, Douban.** The fixed split of Monti et al. (2017): train on ``douban-monti/train.tsv``, test
on ``test.tsv`` (3,000 users x 3,000 items, ratings 1-5). Rating accuracy: RMSE of predictions
clipped to [1, 5], for skrec's defaults (``fit(X, y)``), myfm's Bayesian FM (rank 10, Gibbs
sampling, ids plus SVD++-like implicit blocks on both sides: each user's training items, each
item's training raters, scaled by 1/sqrt(their number)) and Surprise SVD. Ranking, as P2:
relevant = a user's test ratings of 4 or 5, candidates = every training item minus the user's
training items, Recall@10 and NDCG@10 (binary gains) over users with a relevant item, for skrec,
EASE (lambda chosen on a seeded 20% per-user holdout of ``train.tsv``, never on ``test.tsv``)
and most popular. Published test RMSE on this split: GLocal-K 0.7208, IGMC 0.721, GC-MC 0.734.

**L, Last.fm plays.** ``lastfm-2k/user_artists.dat`` (user, artist, play count), with artists of
at least 5 listeners and users of at least 5 of those artists kept (the two filters applied
three times), then each remaining pair sent to test where ``numpy.random.default_rng(0).random(n)
< 0.2`` over the rows in file order. Systems fit the training pairs without ratings: skrec's
defaults (``fit(X)``, and once more with ``sample_weight=log1p(plays)``), EASE (lambda chosen
on a seeded 20% per-user holdout of the training pairs), implicit's ALS (64 factors, binary
matrix) and most popular. Relevant = a user's test artists, candidates = every kept artist
minus the user's training artists; Recall@10 and NDCG@10 over users with a test artist. skrec
can only recommend artists of its training pairs; a kept artist seen only in test scores 0
for the other systems.

    SKREC_DATA=/path/to/data python benchmarks/bench_datasets.py [--protocols D,L]
        [--systems skrec,EASE] [--quick] [--write]

Prints one table per protocol with fit seconds (and the seconds spent choosing EASE's lambda),
writes them to ``benchmarks/results/datasets_<protocol>.{csv,json}`` and, with ``--write``, to
``docs/benchmark_datasets.md``. ``--quick`` keeps only the first 300 users (by sorted id) for a
smoke run. skrec's fitted ``recipe_`` is printed after each of its fits.
"""

import argparse
import contextlib
import importlib.util
import io
import os
import pathlib
import time
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from _results import report
from bench_movielens import (
    EASE_GRID,
    MYFM_GIBBS,
    ease_weights,
    environment,
    select_systems,
    validation_split,
)

from skrec import MultiTaskRecommender, metrics
from skrec.exceptions import ColdStartWarning

K = 10
QUICK_USERS = 300
COLS = {"user_col": "user_id", "item_col": "item_id"}
#: EASE's grid on Douban, extended downward (its flat, sparse catalogue chose the grid's least value).
EASE_GRID_D = [{"lam": lam} for lam in (5, 10, 20)] + EASE_GRID
#: EASE's grid on Last.fm, extended upward: its lambda grows with the interactions per item.
EASE_GRID_L = EASE_GRID + [{"lam": lam} for lam in (10000, 20000)]
DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"
INTRO = """\
Two data sets beyond MovieLens, each with `MultiTaskRecommender`'s default parameters (only the
id column names and `random_state=0` given) beside the peers that matter on it: protocol D
(Douban, ratings, a fixed split with published RMSE) and protocol L (Last.fm plays, implicit
feedback without ratings). The protocols, from BENCHMARK.md:
"""


# ------------------------------------------------------------------------- data
def data_file(*parts):
    """The path of a data file under ``$SKREC_DATA``; SystemExit with a clear message if missing."""
    root = os.environ.get("SKREC_DATA")
    if not root:
        raise SystemExit("Set SKREC_DATA to the data folder (the one holding douban-monti/ and lastfm-2k/).")
    path = pathlib.Path(root, *parts)
    if not path.is_file():
        raise SystemExit(f"Missing data file {path} (SKREC_DATA={root}): protocol needs {'/'.join(parts)}.")
    return path


def first_users(frames, n_users):
    """Each frame restricted to the first ``n_users`` user ids (sorted) of the first frame."""
    keep = np.sort(frames[0]["user_id"].unique())[:n_users]
    return [frame[frame["user_id"].isin(keep)].reset_index(drop=True) for frame in frames]


def load_douban(quick):
    """Douban's fixed train and test frames (``user_id``, ``item_id``, ``rating``)."""
    train, test = (pd.read_csv(data_file("douban-monti", f"{part}.tsv"), sep="\t") for part in ("train", "test"))
    return first_users([train, test], QUICK_USERS) if quick else [train, test]


def filter_lastfm(pairs, min_count=5, rounds=3):
    """Keep artists with ``min_count`` listeners, then users with ``min_count`` of them; ``rounds`` times."""
    for _ in range(rounds):
        pairs = pairs[pairs.groupby("item_id")["user_id"].transform("size") >= min_count]
        pairs = pairs[pairs.groupby("user_id")["item_id"].transform("size") >= min_count]
    return pairs.reset_index(drop=True)


def load_lastfm(quick):
    """Last.fm's filtered pairs split 80/20 in file order; (train, test, kept artists, shape summary)."""
    raw = pd.read_csv(data_file("lastfm-2k", "user_artists.dat"), sep="\t")
    pairs = filter_lastfm(raw.rename(columns={"userID": "user_id", "artistID": "item_id", "weight": "plays"}))
    in_test = np.random.default_rng(0).random(len(pairs)) < 0.2
    train, test = pairs[~in_test].reset_index(drop=True), pairs[in_test].reset_index(drop=True)
    shape = {"users": pairs["user_id"].nunique(), "artists": pairs["item_id"].nunique(), "pairs": len(pairs),
             "train rows": len(train), "test rows": len(test),
             "artists only in test": int((~test["item_id"].drop_duplicates().isin(train["item_id"])).sum())}
    if quick:
        train, test = first_users([train, test], QUICK_USERS)
    return train, test, np.sort(pairs["item_id"].unique()), shape


# ------------------------------------------------------------------- evaluation
def rmse(predicted, test):
    """RMSE of predictions clipped to [1, 5]."""
    return float(np.sqrt(np.mean((np.clip(predicted, 1, 5) - test["rating"].to_numpy()) ** 2)))


def ranking(relevant, recommended):
    """Recall@10 and NDCG@10 (binary gains) of ``recommended`` against the ``relevant`` pairs."""
    kw = dict(k=K, **COLS)
    return {"recall": metrics.recall_at_k(relevant, recommended, **kw), "ndcg": metrics.ndcg_at_k(relevant, recommended, **kw)}


def seen_matrix(pairs, users, items):
    """Binary sparse (users x items) matrix of ``pairs``; pairs outside ``users`` or ``items`` are dropped."""
    rows = pd.Index(users).get_indexer(pairs["user_id"])
    cols = pd.Index(items).get_indexer(pairs["item_id"])
    keep = (rows >= 0) & (cols >= 0)
    return sp.csr_matrix((np.ones(keep.sum()), (rows[keep], cols[keep])), shape=(len(users), len(items)))


def top_k_frame(users, scores, items):
    """Long top-k frame from a dense (users x items) score block."""
    top = np.argsort(-scores, axis=1, kind="stable")[:, :K]
    return pd.DataFrame({"user_id": np.repeat(users, K), "rank": np.tile(np.arange(1, K + 1), len(users)),
                         "item_id": np.asarray(items)[top].ravel()})


def masked_top_k(train, users, items, score_fn):
    """Top-k of ``score_fn(X, X_users)`` for ``users``, their training items masked; X is ``train`` binarised."""
    known = np.sort(train["user_id"].unique())
    X = seen_matrix(train, known, items)
    seen = X[pd.Index(known).get_indexer(users)]
    scores = np.asarray(score_fn(X, seen), dtype=np.float64)
    scores[seen.nonzero()] = -np.inf
    return top_k_frame(users, scores, items)


class Task:
    """One protocol's data: training and test frames, the candidate items, and which test rows are relevant."""

    def __init__(self, name, train, test, items, relevant_fn):
        self.name, self.train, self.test, self.items, self.relevant_fn = name, train, test, items, relevant_fn

    def relevant(self, frame=None):
        """The relevant (user, item) pairs of ``frame`` (default: the test frame)."""
        frame = self.test if frame is None else frame
        return frame.loc[self.relevant_fn(frame), ["user_id", "item_id"]]

    def users(self, train=None, frame=None):
        """Users with a relevant pair in ``frame`` that have training rows in ``train``."""
        train = self.train if train is None else train
        return np.intersect1d(self.relevant(frame)["user_id"].unique(), train["user_id"].unique())


# ---------------------------------------------------------------------- systems
def run_skrec(task, sample_weight=None):
    """skrec's defaults (column names and seed only): RMSE on rated data, top-10 lists, the fitted recipe."""
    model = MultiTaskRecommender(**COLS, random_state=0)
    y = task.train.get("rating")
    weight = None if sample_weight is None else sample_weight(task.train)
    start = time.perf_counter()
    model.fit(task.train[["user_id", "item_id"]], y, sample_weight=weight)
    fit_s = time.perf_counter() - start
    result = ranking(task.relevant(), model.recommend(task.users(), k=K))
    if y is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ColdStartWarning)
            result["rmse"] = rmse(model.predict(task.test[["user_id", "item_id"]]), task.test)
    print(f"  skrec's recipe_ on {task.name}:\n" + "\n".join("    " + line for line in str(model.recipe_).splitlines()))
    return {**result, "fit_s": fit_s, "recipe": str(model.recipe_)}


def run_most_popular(task):
    """Items ranked by their number of training users."""
    start = time.perf_counter()
    popularity = task.train["item_id"].value_counts().reindex(task.items, fill_value=0).to_numpy(dtype=np.float64)
    fit_s = time.perf_counter() - start
    recommended = masked_top_k(task.train, task.users(), task.items, lambda X, seen: np.tile(popularity, (seen.shape[0], 1)))
    return {**ranking(task.relevant(), recommended), "fit_s": fit_s}


def ease_top_k(train, users, items, lam):
    """EASE's top-k lists for ``users`` from binarised ``train``, and the seconds its solve took."""
    timing = {}

    def score(X, seen):
        start = time.perf_counter()
        weights = ease_weights(X, lam)
        timing["fit_s"] = time.perf_counter() - start
        return seen @ weights

    return masked_top_k(train, users, items, score), timing["fit_s"]


def run_ease(task, grid):
    """EASE with lambda chosen by NDCG@10 on a per-user holdout of the training rows, refitted on all of them."""
    start = time.perf_counter()
    fit_part, held_out = validation_split(task.train)
    users = task.users(fit_part, held_out)
    ndcg = [metrics.ndcg_at_k(task.relevant(held_out), ease_top_k(fit_part, users, task.items, p["lam"])[0], k=K, **COLS)
            for p in grid]
    lam = grid[int(np.argmax(ndcg))]["lam"]
    tune_s = time.perf_counter() - start
    recommended, fit_s = ease_top_k(task.train, task.users(), task.items, lam)
    return {**ranking(task.relevant(), recommended), "fit_s": fit_s, "tune_s": tune_s, "chosen": f"lambda={lam:g}"}


def run_implicit_als(task):
    """implicit's ALS, 64 factors, on the binary training matrix (BLAS limited to one thread, as implicit advises)."""
    from implicit.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    known = np.sort(task.train["user_id"].unique())
    matrix = seen_matrix(task.train, known, task.items).astype(np.float32)
    with threadpool_limits(1, "blas"):  # implicit's advice: BLAS threads fight its own
        model = AlternatingLeastSquares(factors=64, random_state=0)
        start = time.perf_counter()
        model.fit(matrix, show_progress=False)
        fit_s = time.perf_counter() - start
    users = task.users()
    rows = pd.Index(known).get_indexer(users)
    ids, _ = model.recommend(rows, matrix[rows], N=K, filter_already_liked_items=True)
    recommended = pd.DataFrame({"user_id": np.repeat(users, K), "rank": np.tile(np.arange(1, K + 1), len(users)),
                                "item_id": task.items[ids.ravel()]})
    return {**ranking(task.relevant(), recommended), "fit_s": fit_s}


def run_surprise_svd(task):
    """Surprise's SVD with its defaults (seed 0): RMSE."""
    import surprise

    data = surprise.Dataset.load_from_df(task.train[["user_id", "item_id", "rating"]], surprise.Reader(rating_scale=(1, 5)))
    algo = surprise.SVD(random_state=0)
    start = time.perf_counter()
    algo.fit(data.build_full_trainset())
    fit_s = time.perf_counter() - start
    predicted = np.array([algo.predict(u, i).est for u, i in zip(task.test["user_id"], task.test["item_id"])])
    return {"rmse": rmse(predicted, task.test), "fit_s": fit_s}


# ------------------------------------------------------------- myfm Bayesian FM
def _id_block(ids, known):
    """One-hot rows of ``ids`` over the ``known`` ids; an unknown id gets an empty row."""
    codes = pd.Index(known).get_indexer(ids)
    rows = np.flatnonzero(codes >= 0)
    return sp.csr_matrix((np.ones(len(rows)), (rows, codes[rows])), shape=(len(ids), len(known)))


def _implicit_block(rated):
    """Rows of a binary matrix scaled by 1/sqrt(row count): SVD++'s normalised implicit feedback."""
    return sp.csr_matrix(sp.diags(1 / np.sqrt(np.maximum(rated.sum(axis=1).A1, 1))) @ rated)


def myfm_blocks(train):
    """Per-user and per-item feature rows (id, implicit feedback), over every id of ``train``."""
    users, items = np.sort(train["user_id"].unique()), np.sort(train["item_id"].unique())
    rated = seen_matrix(train, users, items)
    return {"user": (users, [_id_block(users, users), _implicit_block(rated)]),
            "item": (items, [_id_block(items, items), _implicit_block(rated.T.tocsr())])}


def _relations(frame, blocks):
    """myfm RelationBlocks mapping each row of ``frame`` to its user's and its item's feature rows."""
    from myfm import RelationBlock

    out = []
    for side in ("user", "item"):
        ids, features = blocks[side]
        rows = pd.Index(ids).get_indexer(frame[f"{side}_id"])
        table = sp.hstack(features, format="csr")
        if (rows < 0).any():  # a test id unseen in training: an empty feature row
            table, rows = sp.vstack([table, sp.csr_matrix((1, table.shape[1]))], format="csr"), np.where(rows < 0, len(ids), rows)
        out.append(RelationBlock(rows, table))
    return out


def run_myfm(task):
    """myfm's Gibbs-sampled FM regressor, rank 10, ids + implicit blocks on both sides: RMSE."""
    import myfm

    blocks = myfm_blocks(task.train)
    group_shapes = [block.shape[1] for side in ("user", "item") for block in blocks[side][1]]
    model = myfm.MyFMRegressor(rank=10, random_seed=0)
    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):  # myfm always draws a tqdm progress bar
        model.fit(None, task.train["rating"].to_numpy(dtype=np.float64), X_rel=_relations(task.train, blocks),
                  group_shapes=group_shapes, **MYFM_GIBBS)
    fit_s = time.perf_counter() - start
    return {"rmse": rmse(model.predict(None, _relations(task.test, blocks)), task.test), "fit_s": fit_s}


# ---------------------------------------------------------------------- protocols
def douban_task(quick):
    """Protocol D's task: relevant = test ratings of 4 or 5, candidates = the training items."""
    train, test = load_douban(quick)
    return Task("Douban", train, test, np.sort(train["item_id"].unique()), lambda frame: frame["rating"] >= 4)


def lastfm_task(quick):
    """Protocol L's task: relevant = every test pair, candidates = every kept artist; and the filtered shape."""
    train, test, artists, shape = load_lastfm(quick)
    return Task("Last.fm", train, test, artists, lambda frame: np.ones(len(frame), dtype=bool)), shape


def douban_systems():
    out = {"skrec default": run_skrec, "most popular": run_most_popular,
           "EASE (lambda by validation)": lambda task: run_ease(task, EASE_GRID_D)}
    if importlib.util.find_spec("surprise"):
        out["Surprise SVD"] = run_surprise_svd
    if importlib.util.find_spec("myfm"):
        out["myfm Bayesian FM, ids + implicit (rank 10)"] = run_myfm
    return out


def lastfm_systems():
    out = {"skrec default": run_skrec,
           "skrec, log plays as sample_weight": lambda task: run_skrec(task, lambda train: np.log1p(train["plays"].to_numpy())),
           "most popular": run_most_popular,
           "EASE (lambda by validation)": lambda task: run_ease(task, EASE_GRID_L)}
    if importlib.util.find_spec("implicit"):
        out["implicit ALS (64 factors)"] = run_implicit_als
    return out


PROTOCOLS = {
    "D": ("D, Douban (Monti et al. split)", "datasets_douban"),
    "L": ("L, Last.fm plays (filtered, 80/20 in file order)", "datasets_lastfm"),
}
COLUMNS = {"rmse": "RMSE", "recall": "Recall@10", "ndcg": "NDCG@10", "fit_s": "fit s", "tune_s": "tuning s",
           "chosen": "chosen"}


def evaluate(task, runners):
    """Run each system on ``task``; the results table and skrec's recipes by system."""
    rows, recipes = [], {}
    for name, run in runners.items():
        result = run(task)
        if "recipe" in result:
            recipes[name] = result.pop("recipe")
        rows.append({"system": name, **result})
        print(f"  {task.name} {name:<44}: " + ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                                                     for k, v in result.items()), flush=True)
    table = pd.DataFrame(rows).set_index("system")
    return table[[c for c in COLUMNS if c in table]].rename(columns=COLUMNS), recipes


def run_protocol(key, quick, patterns):
    """Load protocol ``key``'s data, run its selected systems; (title, table, recipes, notes)."""
    if key == "D":
        task, runners = douban_task(quick), douban_systems()
        notes = (f"{task.train['user_id'].nunique():,} users, {len(task.items):,} items, {len(task.train):,} training and "
                 f"{len(task.test):,} test ratings; {len(task.users()):,} users with a test rating of 4 or 5; the most "
                 f"rated item has {task.train['item_id'].value_counts().max():,} training ratings.")
    else:
        (task, shape), runners = lastfm_task(quick), lastfm_systems()
        notes = ("After filtering: " + ", ".join(f"{v:,} {k}" for k, v in shape.items())
                 + f"; {len(task.users()):,} users evaluated" + (" (--quick subsample)" if quick else "") + ".")
    print(f"\nProtocol {PROTOCOLS[key][0]}: {notes}", flush=True)
    table, recipes = evaluate(task, select_systems(runners, patterns))
    return PROTOCOLS[key][0], table, recipes, notes


def write_docs(sections, command):
    """``docs/benchmark_datasets.md``: intro, the protocols, one table per protocol, skrec's recipes."""
    protocols = __doc__.split("\n\n", 1)[1].split("\n\n    SKREC_DATA")[0]
    timing = ("Fit times are wall seconds on the machine above with other work running, so they are indicative "
              "(skrec's first fit of a run also compiles its training step); EASE's \"tuning s\" is its lambda "
              "search on the validation split, \"fit s\" the refit.")
    header = (f"# Douban and Last.fm benchmark (protocols D and L)\n\nMeasured by `{command}`.\n\n{environment()}\n\n"
              f"{INTRO}\n{protocols}\n\n{timing}\n")
    text = [header]
    for title, table, recipes, notes in sections:
        text.append(f"## {title}\n\n{notes}\n\n{table.to_markdown(floatfmt='.4f')}\n")
        for recipe in dict.fromkeys(recipes.values()):
            names = ", ".join(f"`{name}`" for name, text_ in recipes.items() if text_ == recipe)
            text.append(f"skrec's fitted `recipe_` ({names}):\n\n```text\n{recipe}\n```\n")
    (DOCS / "benchmark_datasets.md").write_text("\n".join(text))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocols", default="D,L", help="comma-separated protocols among D and L")
    parser.add_argument("--systems", help="run only the systems whose name contains one of these "
                        "comma-separated substrings (any case), e.g. skrec,EASE")
    parser.add_argument("--quick", action="store_true", help=f"keep only the first {QUICK_USERS} users (smoke run)")
    parser.add_argument("--write", action="store_true", help="write docs/benchmark_datasets.md")
    args = parser.parse_args(argv)
    keys = [key.strip().upper() for key in args.protocols.split(",") if key.strip()]
    if not keys or set(keys) - set(PROTOCOLS):
        raise SystemExit(f"--protocols {args.protocols!r}: choose among {', '.join(PROTOCOLS)}")
    print(environment(), flush=True)
    sections = []
    for key in keys:
        title, table, recipes, notes = run_protocol(key, args.quick, args.systems)
        suffix = "_quick" if args.quick else ""
        report(table, PROTOCOLS[key][1] + suffix, f"\nProtocol {title}{' (--quick)' if args.quick else ''}:", lambda v: f"{v:.4f}")
        sections.append((title, table, recipes, notes))
    if args.write:
        flags = "".join(f" {flag}" for flag, on in (("--quick", args.quick),) if on)
        write_docs(sections, f"python benchmarks/bench_datasets.py{flags} --write")
    return sections


if __name__ == "__main__":
    main()
