"""Data sets as pandas DataFrames: MovieLens 100k, 1M, 20M, 25M, latest-small (downloaded) and synthetic ratings.

Nothing here imports Keras, so ``import skrec.datasets`` stays cheap.
"""

from ._base import get_data_home
from ._movielens import fetch_movielens, fetch_movielens_fold
from ._synthetic import make_interactions

__all__ = ["fetch_movielens", "fetch_movielens_fold", "get_data_home", "make_interactions"]
