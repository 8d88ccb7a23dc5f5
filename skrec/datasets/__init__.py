"""Data sets as pandas DataFrames: MovieLens 100k (downloaded) and synthetic rating sets of any size.

Nothing here imports Keras, so ``import skrec.datasets`` stays cheap.
"""

from ._base import get_data_home
from ._movielens import fetch_movielens, fetch_movielens_fold
from ._synthetic import make_interactions

__all__ = ["fetch_movielens", "fetch_movielens_fold", "get_data_home", "make_interactions"]
