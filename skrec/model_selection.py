"""Cross-validation splitters for rating data that keep every user in every training fold.

Splitting rating rows at random (``KFold``) can put all of a light user's ratings in one test
fold, where the model has never seen that user. :class:`PerUserKFold` splits each user's
ratings across the folds instead, as MovieLens's per-user ``ua``/``ub`` splits do, so held-out
ratings are always scored against a model that knows the user's other ratings.
"""

import warnings

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator, StratifiedKFold

from skrec.exceptions import ColdStartWarning

__all__ = ["PerUserKFold"]


class PerUserKFold(BaseCrossValidator):
    """K-fold over ratings, each user's ratings spread evenly over the folds.

    Every rating is in exactly one test fold. A user with at least ``n_splits`` ratings has
    ratings in every test fold and in every training fold; a user with fewer ratings cannot
    be in all of them, and a :class:`~skrec.exceptions.ColdStartWarning` gives their count.
    This is scikit-learn's ``StratifiedKFold`` with the user id as the stratum.

    Use it as ``cv=`` in ``GridSearchCV``, ``cross_validate``, ``validation_curve``, ...

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2.
    user_col : str, default="user_id"
        Column of ``X`` with the user ids. If ``X`` is an array, its column 0 holds them.
    shuffle : bool, default=True
        Shuffle each user's ratings before splitting them into folds.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffle when ``shuffle=True``.

    Examples
    --------
    >>> import pandas as pd
    >>> from skrec.model_selection import PerUserKFold
    >>> X = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 2], "movie_id": [1, 2, 3, 1, 2, 4]})
    >>> for train, test in PerUserKFold(3, random_state=0).split(X):
    ...     print(sorted(X["user_id"].iloc[test]))
    [1, 2]
    [1, 2]
    [1, 2]
    """

    def __init__(self, n_splits=5, *, user_col="user_id", shuffle=True, random_state=None):
        self.n_splits = n_splits
        self.user_col = user_col
        self.shuffle = shuffle
        self.random_state = random_state

    def split(self, X, y=None, groups=None):
        """Yield ``(train, test)`` row indices for each fold.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, 2)
            The ratings' (user, item) pairs.
        y : array-like, default=None
            Ignored; present for API compatibility.
        groups : array-like of shape (n_samples,), default=None
            User ids; if given they are used instead of the user column of ``X``.
        """
        users = self._users(X, groups)
        counts = users.value_counts()
        light = int((counts < self.n_splits).sum())
        if light:
            warnings.warn(
                f"{light} user(s) have fewer than n_splits={self.n_splits} ratings: some test "
                f"folds hold their ratings while the training fold has none of them.",
                ColdStartWarning,
                stacklevel=2,
            )
        folds = StratifiedKFold(self.n_splits, shuffle=self.shuffle, random_state=self.random_state if self.shuffle else None)
        codes = pd.factorize(users)[0]
        with warnings.catch_warnings():
            # Replaced by the ColdStartWarning above, which speaks of users, not classes.
            warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
            yield from folds.split(np.zeros(len(codes)), codes)

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of folds, ``n_splits``."""
        return self.n_splits

    def _users(self, X, groups):
        if groups is not None:
            return pd.Series(np.asarray(groups))
        if isinstance(X, pd.DataFrame):
            if self.user_col not in X.columns:
                raise ValueError(
                    f"X has no column {self.user_col!r}; set PerUserKFold(user_col=...) to the user id column."
                )
            return X[self.user_col].reset_index(drop=True)
        return pd.Series(np.asarray(X)[:, 0])
