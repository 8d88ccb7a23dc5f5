"""Public data set loaders: MovieLens 100k as pandas DataFrames, and the data folder they use.

Nothing here imports Keras, so ``import skrec.datasets`` stays cheap.
"""

from ._base import get_data_home
from ._movielens import fetch_movielens, fetch_movielens_fold

__all__ = ["fetch_movielens", "fetch_movielens_fold", "get_data_home"]
