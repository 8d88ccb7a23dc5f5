"""Cross-validation splitters for rating data: per-user k-fold and splits along time.

Splitting rating rows at random (``KFold``) can put all of a light user's ratings in one test
fold, where the model has never seen that user. :class:`PerUserKFold` splits each user's
ratings across the folds instead, as MovieLens's per-user ``ua``/``ub`` splits do, so held-out
ratings are always scored against a model that knows the user's other ratings.

Random splits also let a model train on ratings given after the ones it is tested on. The
time-aware splitters read a timestamp column of ``X`` instead: :class:`GlobalTimeSplit` trains
on everything before a cut-off and tests on what follows (the deployment situation, where new
users and items appear), and :class:`LeaveLastNOut` tests each user's most recent ratings. Both
count the test users and items that their training part lacks, and warn with
:class:`~skrec.exceptions.ColdStartWarning`.

All splitters work as ``cv=`` in ``GridSearchCV``, ``cross_validate``, ``validation_curve``, ...
"""

import warnings
from numbers import Integral

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_float_dtype, is_numeric_dtype
from sklearn.model_selection import BaseCrossValidator, StratifiedKFold
from sklearn.utils.validation import check_consistent_length

from skrec._validation import check_interactions
from skrec._warnings import warn
from skrec.exceptions import ColdStartWarning

__all__ = ["GlobalTimeSplit", "LeaveLastNOut", "PerUserKFold"]

_COUNT_COLUMNS = [
    "n_train", "n_test", "n_test_users", "n_cold_users", "n_cold_user_rows",
    "n_test_items", "n_cold_items", "n_cold_item_rows",
]  # fmt: skip


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
        y : array-like of shape (n_samples,), default=None
            Ignored, but checked to have one value per row of ``X``; present for API
            compatibility.
        groups : array-like of shape (n_samples,), default=None
            User ids; if given they are used instead of the user column of ``X``.

        Yields
        ------
        train : ndarray of shape (n_train,)
            Positions (for ``X.iloc``) of the training rows.
        test : ndarray of shape (n_test,)
            Positions of the test rows.

        Raises
        ------
        ValueError
            If ``y`` or ``groups`` does not have one value per row of ``X`` (as scikit-learn's
            splitters, before the first fold), or ``X`` has no column ``user_col``.
        """
        check_consistent_length(X, y, groups)
        users = self._users(X, groups)
        counts = users.value_counts()
        light = int((counts < self.n_splits).sum())
        if light:
            warn(
                f"{light} user(s) have fewer than n_splits={self.n_splits} ratings: some test "
                f"folds hold their ratings while the training fold has none of them.",
                ColdStartWarning,
            )
        folds = StratifiedKFold(self.n_splits, shuffle=self.shuffle, random_state=self.random_state if self.shuffle else None)
        codes = pd.factorize(users)[0]
        with warnings.catch_warnings():
            # Replaced by the ColdStartWarning above, which speaks of users, not classes.
            warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
            yield from folds.split(np.zeros(len(codes)), codes)

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of folds, ``n_splits``.

        Parameters
        ----------
        X, y, groups : object, default=None
            Ignored; present for API compatibility.

        Returns
        -------
        n_splits : int
            The number of folds.
        """
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


# --------------------------------------------------------------------------------------------
# Splits along time
# --------------------------------------------------------------------------------------------


def _check_int_param(owner, name, value, low):
    if not isinstance(value, Integral) or isinstance(value, (bool, np.bool_)) or value < low:
        raise ValueError(
            f"The {name!r} parameter of {owner} must be an int in the range [{low}, inf). Got {value!r} instead."
        )
    return int(value)


def _check_columns(splitter):
    """The time column must differ from the id columns (for arrays, columns 0 and 1)."""
    owner, time_col = type(splitter).__name__, splitter.time_col
    if isinstance(time_col, (str, Integral)) and time_col in (splitter.user_col, splitter.item_col):
        raise ValueError(f"{owner}(time_col={time_col!r}) names the same column as user_col or item_col.")


def _time_column(X, time_col, owner):
    """Return the timestamp column of ``X`` as a Series with a default index."""
    if isinstance(X, pd.DataFrame):
        if time_col not in X.columns:
            raise ValueError(
                f"X has no column {time_col!r}; set {owner}(time_col=...) to the column of timestamps. "
                f"Its columns are {list(X.columns)}."
            )
        return X[time_col].reset_index(drop=True)
    array = np.asarray(X)
    if not isinstance(time_col, Integral) or isinstance(time_col, bool) or not 2 <= time_col < array.shape[1]:
        raise ValueError(
            f"X is an array of shape {array.shape}, so {owner}(time_col=...) must be the position of its "
            f"timestamp column, an int >= 2 (columns 0 and 1 hold the user and item ids); got {time_col!r}."
        )
    return pd.Series(array[:, time_col]).infer_objects()


def _check_times(times, time_col):
    """Return the timestamps as a 1-D int64 (ints; datetimes in their unit) or float64 array."""
    missing = times.isna().to_numpy()
    if missing.any():
        first = int(np.flatnonzero(missing)[0])
        raise ValueError(f"Column {time_col!r} of X has missing timestamps, first at row {first}.")
    if is_datetime64_any_dtype(times):
        return pd.DatetimeIndex(times).asi8  # tz-aware ones in UTC
    if not is_numeric_dtype(times) or is_bool_dtype(times):
        raise ValueError(
            f"Column {time_col!r} of X must hold numbers (e.g. unix seconds) or datetimes; got dtype {times.dtype}."
        )
    values = times.to_numpy(dtype=np.float64 if is_float_dtype(times) else np.int64)
    if is_float_dtype(values) and not np.isfinite(values).all():
        raise ValueError(f"Column {time_col!r} of X has infinite timestamps.")
    return values


def _fold_counts(users, items, train, test):
    """One row of ``cold_start_counts``: sizes, and test users/items missing from ``train``."""
    row = {"n_train": len(train), "n_test": len(test)}
    for kind, codes in (("user", users), ("item", items)):
        seen = np.zeros(codes.max() + 1, dtype=bool)
        seen[codes[train]] = True
        tested = codes[test]
        cold = ~seen[tested]
        row[f"n_test_{kind}s"] = len(np.unique(tested))
        row[f"n_cold_{kind}s"] = len(np.unique(tested[cold]))
        row[f"n_cold_{kind}_rows"] = int(cold.sum())
    return row


class _TimeSplitter(BaseCrossValidator):
    """What the time-aware splitters share: reading ``X``, cold-start counts and the warning.

    Subclasses define ``_check_params()`` and ``_folds(users, times)``, which returns the list of
    ``(train, test)`` row positions from integer user codes and the timestamps.
    """

    def split(self, X, y=None, groups=None):
        """Yield ``(train, test)`` row positions for each fold, in row order.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, n_columns)
            One row per interaction. A DataFrame must hold the columns ``user_col``,
            ``item_col`` and ``time_col``; other columns are ignored. An array must have user
            ids in column 0, item ids in column 1, and the timestamps in column ``time_col``
            (then an int >= 2). Timestamps are numbers (e.g. unix seconds) or datetimes.
        y : array-like of shape (n_samples,), default=None
            Ignored, but checked to have one value per row of ``X``; present for API
            compatibility.
        groups : array-like of shape (n_samples,), default=None
            Ignored, but checked to have one value per row of ``X``; present for API
            compatibility.

        Yields
        ------
        train : ndarray of shape (n_train,)
            Positions (for ``X.iloc``) of the training rows, ascending.
        test : ndarray of shape (n_test,)
            Positions of the test rows, ascending.

        Raises
        ------
        ValueError
            If a parameter is invalid, a column is missing, ``y`` or ``groups`` does not have one
            value per row of ``X``, the timestamps are missing or not numbers or datetimes, or
            the data cannot be split as asked (the message says why).

        Warns
        -----
        ColdStartWarning
            If a test part holds users or items absent from its training part; the message
            gives their counts per fold (see :meth:`cold_start_counts`).
        """
        users, items, times = self._read(X, y, groups)
        folds = self._folds(users, times)
        self._warn_cold_start(self._counts(users, items, folds))
        yield from folds

    def cold_start_counts(self, X, y=None, groups=None):
        """Count, per fold, the test users and items that the training part lacks.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, n_columns)
            As in :meth:`split`.
        y, groups : array-like of shape (n_samples,), default=None
            Ignored, but checked to have one value per row of ``X``, as in :meth:`split`.

        Returns
        -------
        counts : pandas.DataFrame of shape (n_splits, 8)
            One row per fold (index ``fold``) with the columns ``n_train`` and ``n_test``
            (rows), ``n_test_users``, ``n_cold_users`` (test users without training rows),
            ``n_cold_user_rows`` (their test rows), and ``n_test_items``, ``n_cold_items``,
            ``n_cold_item_rows``, the same for items.
        """
        users, items, times = self._read(X, y, groups)
        return self._counts(users, items, self._folds(users, times))

    def _read(self, X, y=None, groups=None):
        self._check_params()
        _check_columns(self)
        users, items = check_interactions(X, self.user_col, self.item_col)
        check_consistent_length(X, y, groups)  # y and groups are ignored, but must align with X
        times = _check_times(_time_column(X, self.time_col, type(self).__name__), self.time_col)
        return pd.factorize(users)[0], pd.factorize(items)[0], times

    @staticmethod
    def _counts(users, items, folds):
        rows = [_fold_counts(users, items, train, test) for train, test in folds]
        return pd.DataFrame(rows, columns=_COUNT_COLUMNS).rename_axis("fold")

    def _warn_cold_start(self, counts):
        if not counts[["n_cold_users", "n_cold_items"]].to_numpy().any():
            return
        warn(
            f"{type(self).__name__}: test folds hold users or items absent from their training part "
            f"(cold start). Per fold, new users: {counts['n_cold_users'].tolist()} (test rows: "
            f"{counts['n_cold_user_rows'].tolist()}); new items: {counts['n_cold_items'].tolist()} (test rows: "
            f"{counts['n_cold_item_rows'].tolist()}). cold_start_counts(X) gives the table.",
            ColdStartWarning,
        )


class GlobalTimeSplit(_TimeSplitter):
    """Train on the interactions before a cut-off time, test on the next period: expanding windows.

    The interactions are cut, by their timestamps, into ``n_splits + 1`` consecutive periods
    holding about the same number of rows. Fold ``k`` (from 0) trains on periods ``0..k`` and
    tests on period ``k + 1``, as scikit-learn's ``TimeSeriesSplit`` does with row positions:
    every training row is strictly earlier than every test row, the training part grows from
    fold to fold, and each row after the first period is tested exactly once.

    **Cut-offs.** With ``n`` rows, the cut-off of fold ``k`` is the timestamp at position
    ``(k + 1) * n // (n_splits + 1)`` of the sorted timestamps (a quantile). A row stamped
    exactly at a cut-off is on the **test** side: fold ``k`` trains on ``t < cutoff[k]`` and
    tests on ``cutoff[k] <= t < cutoff[k + 1]`` (no upper bound in the last fold). Ties can
    therefore make the periods uneven; if two cut-offs coincide, or the first equals the
    earliest timestamp, a fold would be empty and :meth:`split` raises ``ValueError``.

    **Cold start.** Users who start, and items that appear, after a cut-off are in that fold's
    test part but not in its training part: this is what a deployed model meets, and it is
    common (on MovieLens 100k, ``GlobalTimeSplit(3)`` gives 83 to 90 % of each test
    period's ratings to users absent from training, as most users rate in one sitting).
    :meth:`split` counts them and warns with :class:`~skrec.exceptions.ColdStartWarning`;
    :meth:`cold_start_counts` returns the table. ``MultiTaskRecommender`` predicts their ratings with its cold-start
    rule, and its ``score`` leaves unknown users out of the NDCG. To test known users only,
    use :class:`LeaveLastNOut`.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 1 (1 trains on the first half of the time range and tests
        on the second).
    time_col : str or int, default="timestamp"
        Column of ``X`` with the timestamps: numbers (e.g. unix seconds) or datetimes. If ``X``
        is an array, its position (an int >= 2).
    user_col : str, default="user_id"
        Column of ``X`` with the user ids (column 0 if ``X`` is an array). Used for the
        cold-start counts.
    item_col : str, default="movie_id"
        Column of ``X`` with the item ids (column 1 if ``X`` is an array). Used for the
        cold-start counts.

    See Also
    --------
    LeaveLastNOut : Each user's last interactions as the test set.
    PerUserKFold : Each user's ratings spread over k folds, ignoring time.
    sklearn.model_selection.TimeSeriesSplit : The same scheme over row positions.

    Notes
    -----
    Finding the cut-offs takes one partial sort (``np.partition``) of the timestamps.

    References
    ----------
    Z. Meng, R. McCreadie, C. Macdonald and I. Ounis. 2020. Exploring Data Splitting Strategies
    for the Evaluation of Recommendation Models. RecSys '20, 681-686.
    https://doi.org/10.1145/3383313.3418479 (the "temporal global" split).

    Examples
    --------
    >>> import pandas as pd
    >>> from skrec.model_selection import GlobalTimeSplit
    >>> X = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3], "movie_id": [10, 11, 10, 12, 11, 12],
    ...                   "timestamp": [1, 2, 3, 4, 5, 6]})
    >>> cv = GlobalTimeSplit(n_splits=2)
    >>> cv.cold_start_counts(X)[["n_train", "n_test", "n_cold_users", "n_cold_items"]]
          n_train  n_test  n_cold_users  n_cold_items
    fold
    0           2       2             1             1
    1           4       2             1             0
    >>> import warnings
    >>> with warnings.catch_warnings(record=True):  # the ColdStartWarning giving those counts
    ...     for train, test in cv.split(X):
    ...         print(train, test)
    [0 1] [2 3]
    [0 1 2 3] [4 5]
    """

    def __init__(self, n_splits=5, *, time_col="timestamp", user_col="user_id", item_col="movie_id"):
        self.n_splits = n_splits
        self.time_col = time_col
        self.user_col = user_col
        self.item_col = item_col

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of folds, ``n_splits``.

        Parameters
        ----------
        X, y, groups : object, default=None
            Ignored; present for API compatibility.

        Returns
        -------
        n_splits : int
            The number of folds.

        Raises
        ------
        ValueError
            If ``n_splits`` is not an int >= 1.
        """
        return _check_int_param("GlobalTimeSplit", "n_splits", self.n_splits, 1)

    def _check_params(self):
        self.get_n_splits()

    def _folds(self, users, times):
        cutoffs = self._cutoffs(times)
        folds = []
        for k, cutoff in enumerate(cutoffs):
            test = times >= cutoff
            if k + 1 < len(cutoffs):
                test &= times < cutoffs[k + 1]
            folds.append((np.flatnonzero(times < cutoff), np.flatnonzero(test)))
        return folds

    def _cutoffs(self, times):
        n_periods = self.n_splits + 1
        if len(times) < n_periods:
            raise ValueError(
                f"GlobalTimeSplit(n_splits={self.n_splits}) cuts X into {n_periods} periods, but X has "
                f"only {len(times)} rows."
            )
        positions = np.arange(1, n_periods) * len(times) // n_periods
        ordered = np.partition(times, np.r_[0, positions])
        cutoffs = ordered[positions]
        if cutoffs[0] == ordered[0] or (np.diff(cutoffs) == 0).any():
            raise ValueError(
                f"GlobalTimeSplit(n_splits={self.n_splits}) would leave a fold empty: too many rows share "
                f"a timestamp in column {self.time_col!r}. The cut-offs (quantiles k/{n_periods}) are "
                f"{cutoffs.tolist()} and the earliest timestamp is {ordered[0]}; use fewer splits."
            )
        return cutoffs


class LeaveLastNOut(_TimeSplitter):
    """Test on each user's last ``n`` interactions by time, train on all the others.

    One split (``get_n_splits() == 1``). A user's interactions are ordered by timestamp, and
    interactions with the same timestamp by row order (a later row counts as more recent).
    The last ``n`` of each user are the test set. A user with ``n`` or fewer interactions is
    kept **entirely in training** and not tested, so every test user has at least one
    training interaction and no test user is cold.

    **Cold start.** Test users are all known, but an item rated only in test rows (e.g. a new
    release that users rated last) is absent from training. :meth:`split` counts such items
    and warns with :class:`~skrec.exceptions.ColdStartWarning`; :meth:`cold_start_counts`
    returns the table.

    **Leakage.** The split is per user, not global: the training part holds other users'
    interactions made after a user's test interactions, so the model can learn from "the
    future" (e.g. an item's later popularity). :class:`GlobalTimeSplit` avoids that.

    Parameters
    ----------
    n : int, default=1
        Number of test interactions per user, at least 1.
    time_col : str or int, default="timestamp"
        Column of ``X`` with the timestamps: numbers (e.g. unix seconds) or datetimes. If ``X``
        is an array, its position (an int >= 2).
    user_col : str, default="user_id"
        Column of ``X`` with the user ids (column 0 if ``X`` is an array).
    item_col : str, default="movie_id"
        Column of ``X`` with the item ids (column 1 if ``X`` is an array). Used for the
        cold-start counts.

    See Also
    --------
    GlobalTimeSplit : One cut-off time for all users.
    PerUserKFold : Each user's ratings spread over k folds, ignoring time.

    Notes
    -----
    One stable sort (``np.lexsort`` on user, time and row) of the interactions.

    References
    ----------
    The leave-one-out protocol of X. He, L. Liao, H. Zhang, L. Nie, X. Hu and T.-S. Chua. 2017.
    Neural Collaborative Filtering. WWW '17, 173-182. https://doi.org/10.1145/3038912.3052569.
    Its leakage: Y. Ji, A. Sun, J. Zhang and C. Li. 2023. A Critical Study on Data Leakage in
    Recommender System Offline Evaluation. ACM TOIS 41, 3, Article 75.
    https://doi.org/10.1145/3569930

    Examples
    --------
    User 1's latest rating is row 1; user 2's two ratings tie, so the later row (4) is tested;
    user 3 has a single rating and stays in training:

    >>> import pandas as pd
    >>> from skrec.model_selection import LeaveLastNOut
    >>> X = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 3], "movie_id": [10, 11, 12, 10, 12, 11],
    ...                   "timestamp": [5, 9, 7, 3, 3, 8]})
    >>> train, test = next(LeaveLastNOut(n=1).split(X))
    >>> train.tolist(), test.tolist()
    ([0, 2, 3, 5], [1, 4])
    """

    def __init__(self, n=1, *, time_col="timestamp", user_col="user_id", item_col="movie_id"):
        self.n = n
        self.time_col = time_col
        self.user_col = user_col
        self.item_col = item_col

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of splits, always 1.

        Parameters
        ----------
        X, y, groups : object, default=None
            Ignored; present for API compatibility.

        Returns
        -------
        n_splits : int
            1: one split, each user's last ``n`` interactions against the rest.
        """
        return 1

    def _check_params(self):
        _check_int_param("LeaveLastNOut", "n", self.n, 1)

    def _folds(self, users, times):
        rows = np.arange(len(users))
        order = np.lexsort((rows, times, users))  # by user, then time, then row
        counts = np.bincount(users)
        by_user = users[order]
        first = np.cumsum(counts) - counts  # where each user's run starts in `order`
        from_end = counts[by_user] - (rows - first[by_user])  # 1 for a user's latest row
        is_test = np.zeros(len(users), dtype=bool)
        is_test[order] = (from_end <= self.n) & (counts[by_user] > self.n)
        if not is_test.any():
            raise ValueError(
                f"LeaveLastNOut(n={self.n}) has nothing to test: no user has more than {self.n} interactions."
            )
        return [(np.flatnonzero(~is_test), np.flatnonzero(is_test))]
