"""Compare two feature towers on validation splits: LightFM's feature sum (skrec's) against an MLP over it.

skrec's user and item vectors are their own embedding plus the sum of their side features'
embeddings (LightFM's design). The alternative measured here passes that sum through a
residual MLP first (``sum + Dense(width)(Dense(hidden, relu)(sum))``, the last layer
initialised to zero so training starts from the sum): an "MLP over the features", as
TensorFlow Recommenders' feature towers do. The MLP variant is experiment code, patched into
the model class here only; the library keeps the sum (docs/side_features.md says why).

Both are scored on validation splits of MovieLens 100k's training folds only (``uN.test`` is
never read), with the users and movies frames given to ``fit``:

* known users and items: RMSE, Recall@10 and NDCG@10 on a seeded 10% of each user's ratings
  (``benchmarks/validate_defaults.py --side``);
* new items: NDCG@10 and Recall@10 of a seeded 10% of the movies held out of fitting, ranked
  among themselves (``benchmarks/bench_side_features.py --choose-id-dropout``).

    SKREC_DATA=/path/to/data python benchmarks/compare_feature_towers.py [--hidden 64] [--folds u1,u2]
"""

import argparse
import contextlib

import numpy as np
import pandas as pd
from bench_side_features import choose_id_dropout
from validate_defaults import FOLDS, score, validation_split

from skrec._keras import keras
from skrec._model import MultiTaskModel
from skrec.datasets import fetch_movielens, fetch_movielens_fold


@contextlib.contextmanager
def mlp_tower(hidden):
    """Patch ``MultiTaskModel`` so that each feature sum goes through a residual MLP."""
    originals = {name: getattr(MultiTaskModel, name) for name in ("_build_features", "_with_features")}

    def build_features(self):
        originals["_build_features"](self)
        for space in ("user", "item"):
            if self.feature_names[space]:
                width = int(getattr(self, f"{space}_embedding").embeddings.shape[1])
                mlp = keras.Sequential(
                    [keras.layers.Dense(hidden, activation="relu", kernel_initializer=keras.initializers.GlorotUniform(seed=0)), keras.layers.Dense(width, kernel_initializer="zeros")],
                    name=f"{space}_feature_mlp",
                )
                mlp.build((None, width))
                setattr(self, f"{space}_feature_mlp", mlp)

    def with_features(self, space, table_rows, ids):
        plain = originals["_with_features"](self, space, table_rows, ids)
        if not self.feature_names[space]:
            return plain
        summed = plain - table_rows
        return plain + getattr(self, f"{space}_feature_mlp")(summed)

    MultiTaskModel._build_features, MultiTaskModel._with_features = build_features, with_features
    try:
        yield
    finally:
        MultiTaskModel._build_features, MultiTaskModel._with_features = originals.values()


def known_pairs(folds, side):
    results = [score({}, *validation_split(fetch_movielens_fold(fold)[0]), side) for fold in folds]
    return {key: float(np.mean([r[key] for r in results])) for key in ("rmse", "recall", "ndcg")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", default=",".join(FOLDS))
    parser.add_argument("--hidden", type=int, default=64)
    args = parser.parse_args(argv)
    data = fetch_movielens()
    side, folds = {"users": data.users, "items": data.movies}, args.folds.split(",")
    rows = []
    for name, context in (("feature sum (LightFM)", contextlib.nullcontext()), (f"MLP over the sum ({args.hidden})", mlp_tower(args.hidden))):
        with context:
            known = known_pairs(folds, side)
            new = choose_id_dropout(folds, [0.0], side, data.movies).iloc[0]
        rows.append({"tower": name, "known RMSE": known["rmse"], "known Recall@10": known["recall"], "known NDCG@10": known["ndcg"],
                     "new items Recall@10": new["Recall@10"], "new items NDCG@10": new["NDCG@10"]})
        print(rows[-1], flush=True)
    print(pd.DataFrame(rows).set_index("tower").to_string(float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
