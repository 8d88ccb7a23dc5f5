"""Input checks for MultiTaskRecommender: parameters, interaction frames, ratings and side frames.

Every check raises an error that names the argument, column or value at fault, and none of
them modifies what the caller passed in: they return new objects.
"""

import collections.abc
import numbers

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pandas.api.types import infer_dtype, is_bool_dtype, is_numeric_dtype
from sklearn.exceptions import DataConversionWarning

from skrec._warnings import warn

__all__ = [
    "check_params",
    "check_interactions",
    "check_ratings",
    "check_sample_weight",
    "check_side_frame",
    "check_k",
    "check_history",
    "rating_name",
    "check_item_list",
    "check_exclusions",
    "check_id_list",
    "check_trusted",
    "warn_if_sliced",
    "input_features",
    "read_ids",
    "check_side_frames",
]


class _Interval:
    """Numbers of one kind (``Integral`` or ``Real``, never bool) in an interval."""

    def __init__(self, kind, low, high=None, closed="both"):
        self.kind, self.low, self.high, self.closed = kind, low, high, closed

    def accepts(self, value):
        if not isinstance(value, self.kind) or isinstance(value, (bool, np.bool_)) or not np.isfinite(value):
            return False
        above = value > self.low or (value == self.low and self.closed in ("both", "left"))
        below = self.high is None or value < self.high or (value == self.high and self.closed in ("both", "right"))
        return above and below

    def __str__(self):
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        what = "an int" if self.kind is numbers.Integral else "a float"
        return f"{what} in the range {left}{self.low}, {'inf' if self.high is None else self.high}{right}"


class _Options:
    """One of a set of values (compared by type and value, so True is not 1)."""

    def __init__(self, *options):
        self.options = options

    def accepts(self, value):
        return any(type(value) is type(o) and value == o for o in self.options) or (
            isinstance(value, np.bool_) and bool(value) in [o for o in self.options if isinstance(o, bool)]
        )

    def __str__(self):
        return "one of {" + ", ".join(repr(o) for o in self.options) + "}"


class _Check:
    """A value accepted by a predicate, described in words."""

    def __init__(self, predicate, description):
        self.accepts, self.description = predicate, description

    def __str__(self):
        return self.description


def _positive_ints(value):
    return (
        not isinstance(value, (str, bytes, dict))
        and np.iterable(value)
        and all(_Interval(numbers.Integral, 1).accepts(v) for v in value)
    )


def _random_state(value):
    return value is None or isinstance(value, np.random.RandomState) or _Interval(numbers.Integral, 0, 2**32 - 1).accepts(value)


def _feature_spec(value):
    return value is None or (isinstance(value, str) and value == "auto") or (
        not isinstance(value, (str, type)) and all(callable(getattr(value, m, None)) for m in ("fit", "transform"))
    )


def _auto_or(constraint):
    """``"auto"`` or a value ``constraint`` accepts."""
    return _Check(lambda v: (isinstance(v, str) and v == "auto") or constraint.accepts(v), f"'auto' or {constraint}")


_FEATURES = _Check(_feature_spec, "'auto', None or a scikit-learn transformer (an object with fit and transform)")
_BOOL = _Options(True, False)
_WEIGHT = _Interval(numbers.Real, 0.0)
_RATE = _Interval(numbers.Real, 0.0, closed="right")
_FRACTION = _Interval(numbers.Real, 0.0, 1.0, closed="both")
_COLUMN = _Check(lambda v: isinstance(v, str) and bool(v), "a non-empty str")

#: Each parameter of MultiTaskRecommender and the values it accepts, checked at ``fit`` by
#: :func:`check_params`. Ints accept any ``numbers.Integral`` (NumPy's too), floats any
#: ``numbers.Real``; neither accepts bool.
PARAMETER_CONSTRAINTS = {
    "embedding_dim": _Interval(numbers.Integral, 1),
    "layer_sizes": _Check(_positive_ints, "a sequence of ints >= 1, e.g. (256, 128)"),
    "rating_head": _Options("dot", "mlp"),
    "implicit_feedback": _BOOL,
    "max_history": _Interval(numbers.Integral, 1),
    "item_implicit_feedback": _BOOL,
    "max_raters": _Interval(numbers.Integral, 1),
    "retrieval_negatives": _Options("auto", "catalogue", "sampled", "in_batch"),
    "n_negatives": _Interval(numbers.Integral, 1),
    "retrieval_weight": _WEIGHT,
    "ranking_weight": _WEIGHT,
    "l2": _auto_or(_WEIGHT),
    "l2_form": _Options("auto", "per_interaction", "per_id"),
    "rating_blend": _WEIGHT,
    "item_item": _Options("auto", "ease", None),
    "item_item_weight": _auto_or(_WEIGHT),
    "item_item_l2": _auto_or(_Interval(numbers.Real, 0.0, closed="neither")),
    "optimizer": _Check(lambda v: isinstance(v, str) and bool(v), "the name of a Keras optimizer, e.g. 'adam'"),
    "optimizer_params": _Check(lambda v: v is None or isinstance(v, dict), "a dict or None"),
    "learning_rate": _auto_or(_RATE),
    "lr_schedule": _Options("auto", "cosine", "constant"),
    "batch_size": _auto_or(_Interval(numbers.Integral, 1)),
    "epochs": _Interval(numbers.Integral, 1),
    "early_stopping": _BOOL,
    "validation_fraction": _Interval(numbers.Real, 0.0, 1.0, closed="neither"),
    "n_iter_no_change": _Interval(numbers.Integral, 1),
    "warm_start": _BOOL,
    "unknown_users": _Options("popular", "error"),
    "user_features": _FEATURES,
    "item_features": _FEATURES,
    "id_dropout": _Interval(numbers.Real, 0.0, 1.0, closed="left"),
    "swa_fraction": _Check(lambda v: (isinstance(v, str) and v == "auto") or _FRACTION.accepts(v), f"'auto' or {_FRACTION}"),
    "user_col": _COLUMN,
    "item_col": _COLUMN,
    "random_state": _Check(_random_state, "an int in [0, 2**32 - 1], a numpy.random.RandomState or None"),
    "verbose": _Interval(numbers.Integral, 0, 2),
}


#: The parameters of SeedEnsemble other than its ``estimator`` (checked by the ensemble).
ENSEMBLE_CONSTRAINTS = {
    "n_estimators": _Interval(numbers.Integral, 1),
    "random_state": PARAMETER_CONSTRAINTS["random_state"],
}


def check_params(est, constraints=None):
    """Check the estimator's parameters against :data:`PARAMETER_CONSTRAINTS` (``__init__`` only stores).

    ``constraints`` replaces them (and the checks of their combinations) for another estimator.

    Raises
    ------
    InvalidParameterError
        Naming the first parameter at fault, what it accepts and the value it got.
    """
    from skrec.exceptions import InvalidParameterError

    for name, constraint in (constraints or PARAMETER_CONSTRAINTS).items():
        value = getattr(est, name)
        if not constraint.accepts(value):
            raise InvalidParameterError(
                f"The {name!r} parameter of {type(est).__name__} must be {constraint}. Got {value!r} instead."
            )
    if constraints is None:
        _check_combinations(est)


def _check_combinations(est):
    from skrec.exceptions import InvalidParameterError

    if est.rating_blend and est.rating_head != "dot":
        raise InvalidParameterError(
            f"`rating_blend`={est.rating_blend!r} adds the predicted rating to the retrieval score, "
            f"which needs rating_head='dot'; got rating_head={est.rating_head!r}."
        )
    if est.user_col == est.item_col:
        raise InvalidParameterError(f"`user_col` and `item_col` must differ; both are {est.user_col!r}.")


def check_interactions(X, user_col, item_col, *, name="X", positions=(0, 1)):
    """Return the user and item id columns of ``X`` as two pandas Series (copies).

    ``X`` is a DataFrame holding ``user_col`` and ``item_col``, or an array-like of shape
    ``(n_samples, n_columns)`` whose columns ``positions`` hold the users and the items (0 and
    1 unless the estimator was fitted on a frame with other column positions). A DataFrame
    whose column labels are not strings (e.g. ``0, 1, ...``) is read like an array. Other
    columns are ignored in all cases.
    """
    if isinstance(X, pd.DataFrame) and not any(isinstance(c, str) for c in X.columns):
        X = X.to_numpy()
    if isinstance(X, pd.DataFrame):
        missing = [c for c in (user_col, item_col) if c not in X.columns]
        if missing:
            raise ValueError(
                f"{name} has no column {missing[0]!r}; its columns are {list(X.columns)}. "
                f"Set `user_col` and `item_col` to the names of the user and item id columns "
                f"(now user_col={user_col!r}, item_col={item_col!r})."
            )
        users, items = X[user_col], X[item_col]
    else:
        array = _as_array(X, user_col, item_col, name, max(positions) + 1)
        users = pd.Series(array[:, positions[0]], name=user_col)
        items = pd.Series(array[:, positions[1]], name=item_col)
    if len(users) == 0:
        raise ValueError(f"{name} is empty: at least one (user, item) pair is needed.")
    return (
        _check_ids(users.reset_index(drop=True), user_col, name),
        _check_ids(items.reset_index(drop=True), item_col, name),
    )


def _as_array(X, user_col, item_col, name, n_columns=2):
    if sp.issparse(X):
        raise TypeError(
            f"Sparse data was passed for {name}, but dense data is required: pass a DataFrame with "
            f"columns {user_col!r} and {item_col!r} or a dense array."
        )
    if isinstance(X, (str, bytes)) or not (hasattr(X, "__len__") or hasattr(X, "__array__")):
        raise TypeError(
            f"{name} must be a pandas DataFrame with columns {user_col!r} and {item_col!r} "
            f"or a 2-D array; got {type(X).__name__}."
        )
    array = np.asarray(X) if hasattr(X, "__array__") else np.asarray(X, dtype=object)
    if np.iscomplexobj(array):
        raise ValueError(f"Complex data not supported: {name} holds complex numbers, ids must be ints or strings.")
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be a DataFrame or a 2-D array with user ids in column 0 and item ids in "
            f"column 1; got an array of shape {array.shape}. Reshape your data, e.g. with "
            f"np.column_stack([users, items])."
        )
    if array.shape[1] < n_columns:
        raise ValueError(
            f"{name} has {array.shape[1]} feature(s) (shape={array.shape}) while a minimum of {n_columns} is "
            f"required: user ids in column 0 and item ids in column 1, or at the positions of "
            f"`user_col` and `item_col` in the frame given to fit."
        )
    return array


def _check_ids(ids, col, name):
    if isinstance(ids.dtype, pd.CategoricalDtype):
        ids = ids.astype(ids.cat.categories.dtype)
    if ids.isna().any():
        position = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise ValueError(f"{name}[{col!r}] has missing ids (NaN/None), first at row {position}.")
    kind = infer_dtype(ids, skipna=False)
    if kind.startswith("mixed"):
        raise TypeError(
            f"{name}[{col!r}] mixes id types ({kind}); use one type for all ids, "
            f"e.g. {name}[{col!r}].astype(str)."
        )
    if kind == "floating":
        values = ids.to_numpy(dtype=float)
        if not np.isfinite(values).all():
            raise ValueError(f"{name}[{col!r}] has infinite ids, first at row {int(np.flatnonzero(~np.isfinite(values))[0])}.")
        # Integral floats (ids of a column that once held NaN) become ints; other floats are
        # used as exact labels.
        integral = np.all(values == np.round(values)) and np.all(np.abs(values) < 2.0**63)
        ids = ids.astype("int64") if integral else ids.astype("float64")
    elif is_numeric_dtype(ids.dtype) and not is_bool_dtype(ids.dtype) and kind == "integer":
        ids = _exact_integers(ids)
    return ids.copy()


def _exact_integers(ids):
    """Integer ids as int64, or as uint64 when they exceed int64's range: values stay exact."""
    return ids.astype("uint64") if ids.max() > np.iinfo(np.int64).max else ids.astype("int64")


def check_ratings(y, n_samples, *, name="y"):
    """Return ``y`` as a 1-D float64 array, NaN marking interactions without a rating.

    ``None`` means no row has a rating. NaN, ``None`` and ``pd.NA`` mark single rows without
    one. Infinite values, non-numeric values and booleans raise.

    Raises
    ------
    TypeError
        If ``y`` is boolean or holds values that are not numbers.
    ValueError
        If its shape does not match ``X`` or it holds infinite values.
    """
    if y is None:
        return np.full(n_samples, np.nan)
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise ValueError(f"{name} must be one column of ratings; got a DataFrame with {y.shape[1]} columns.")
        y = y.iloc[:, 0]
    values = _as_float_ratings(y, name)
    if values.ndim == 2 and values.shape[1] == 1:
        warn(
            f"A column-vector {name} was passed when a 1d array was expected; it was raveled.",
            DataConversionWarning,
        )
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one rating per row); got shape {values.shape}.")
    if len(values) != n_samples:
        raise ValueError(f"X has {n_samples} rows but {name} has {len(values)} ratings; they must match.")
    infinite = np.isinf(values)
    if infinite.any():
        raise ValueError(
            f"{name} holds {int(infinite.sum())} infinite ratings (first at row {int(np.flatnonzero(infinite)[0])}); "
            f"use NaN for an interaction without a rating."
        )
    return values


def _as_float_ratings(y, name):
    """``y`` as float64, missing values (NaN, None, pd.NA) as NaN; TypeError for the rest."""
    dtype = getattr(y, "dtype", None)
    if is_bool_dtype(dtype):
        raise TypeError(
            f"{name} must hold numeric ratings; got dtype {dtype}. For interactions without a rating "
            f"pass y=None, or NaN in the rows without one."
        )
    if isinstance(y, pd.Series) and not is_numeric_dtype(dtype) and dtype != object:
        raise TypeError(f"{name} must hold numeric ratings; got dtype {dtype}.")
    try:
        values = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        values = _with_missing(y, name)
    return values.copy()


def _with_missing(y, name):
    """Ratings with None or pd.NA in them, as float64 with NaN; TypeError naming a bad value."""
    flat = pd.Series(np.asarray(y, dtype=object).ravel())
    missing = flat.isna()
    numeric = pd.to_numeric(flat[~missing], errors="coerce")
    bad = numeric.isna() | flat[~missing].map(lambda v: isinstance(v, (bool, np.bool_)))
    if bad.any():
        position = int(bad[bad].index[0])
        raise TypeError(f"{name} must hold numeric ratings; row {position} holds {flat[position]!r}.")
    values = np.full(len(flat), np.nan)
    values[~missing.to_numpy()] = numeric.to_numpy(dtype=np.float64)
    return values.reshape(np.shape(y))


def check_sample_weight(sample_weight, n_samples):
    """Return per-row weights as a float64 array (ones for None), checked as scikit-learn does.

    Raises
    ------
    ValueError
        If the weights are not one finite, non-negative number per row, or all zero.
    """
    if sample_weight is None:
        return np.ones(n_samples)
    weights = np.asarray(sample_weight, dtype=np.float64)
    if weights.ndim == 0:
        weights = np.full(n_samples, weights)
    if weights.ndim != 1 or len(weights) != n_samples:
        raise ValueError(f"sample_weight.shape == {weights.shape}, expected ({n_samples},)!")
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("sample_weight must hold finite, non-negative numbers (one weight per row of X).")
    if not weights.any():
        raise ValueError("sample_weight is zero for every row: nothing would be trained on.")
    return weights.copy()


def check_side_frame(frame, col, *, name):
    """Check a ``users``/``items`` frame keyed by ``col``; return it indexed by that column."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"`{name}` must be a pandas DataFrame keyed by {col!r}; got {type(frame).__name__}.")
    if col not in frame.columns:
        raise ValueError(f"`{name}` has no column {col!r}; its columns are {list(frame.columns)}.")
    repeated = frame.columns[frame.columns.duplicated()]
    if len(repeated):
        raise ValueError(f"`{name}` has more than one column named {repeated[0]!r}; column names must be unique.")
    ids = _check_ids(frame[col].reset_index(drop=True), col, f"`{name}`")
    duplicated = ids[ids.duplicated()]
    if len(duplicated):
        raise ValueError(
            f"`{name}` lists {col}={duplicated.tolist()[0]!r} more than once; ids must be unique."
        )
    out = frame.drop(columns=[col]).reset_index(drop=True)
    out.index = pd.Index(ids, name=col)
    return out


def check_side_frames(users, items, user_col, item_col, ids):
    """Validate ``fit``'s side frames; return them indexed by id, ``{"user": ..., "item": ...}`` (None if absent).

    ``ids`` is ``(user ids, item ids)`` of ``X``.
    """
    frames = {"user": None, "item": None}
    if users is not None:
        frames["user"] = check_side_frame(users, user_col, name="users")
        warn_if_sliced(frames["user"], ids[0], "users")
    if items is not None:
        frames["item"] = check_side_frame(items, item_col, name="items")
        _check_no_output_clash(frames["item"], user_col)
        warn_if_sliced(frames["item"], ids[1], "items")
    return frames


def _check_no_output_clash(item_frame, user_col):
    """Refuse an ``items`` column that ``recommend``'s output already has (the user column, ``rank``, ``score``)."""
    clash = [column for column in item_frame.columns if column in (user_col, "rank", "score")]
    if clash:
        raise ValueError(
            f"`items` has a column {clash[0]!r}, which `recommend` writes itself (its frame has {user_col!r}, "
            f"'rank', the item column and 'score', then the columns of `items`): rename it, e.g. "
            f"items.rename(columns={{{clash[0]!r}: 'item_{clash[0]}'}})."
        )


def check_history(history, user_col, item_col, rating_col=None, *, name="history"):
    """``(user ids, item ids, ratings)`` of a history frame; ratings are NaN without a rating column.

    ``rating_col`` is the name of ``y`` in ``fit`` (ratings are read from it, else from
    ``"rating"``); None reads no ratings (a model fitted without them).

    Raises
    ------
    TypeError
        If ``history`` is not a DataFrame.
    ValueError
        If it lacks the user or item column, holds missing ids or infinite ratings, or has
        other columns but no rating column (ratings that would be ignored).
    """
    if not isinstance(history, pd.DataFrame):
        raise TypeError(f"`{name}` must be a pandas DataFrame with columns {user_col!r} and {item_col!r}; got {type(history).__name__}.")
    users, items = check_interactions(history, user_col, item_col, name=f"`{name}`")
    column = None if rating_col is None else _history_rating_column(history, (user_col, item_col), rating_col, name)
    ratings = check_ratings(None if column is None else history[column], len(users), name=f"`{name}`[{column!r}]")
    return users.to_numpy(), items.to_numpy(), ratings


def _history_rating_column(history, cols, rating_col, name):
    """The rating column of ``history``: ``rating_col``, else ``"rating"``; None when it has no other column."""
    for column in dict.fromkeys((rating_col, "rating")):
        if column in history.columns:
            return column
    extra = [column for column in history.columns if column not in cols]
    if extra:
        raise ValueError(
            f"`{name}` has the column(s) {extra[:5]} besides {cols[0]!r} and {cols[1]!r}, but no rating column "
            f"{rating_col!r} (the name of y in fit): rename its ratings to {rating_col!r}, or keep only the "
            f"two id columns to fold in without ratings."
        )
    return None


def rating_name(y):
    """The name ``history`` frames give ratings: that of ``y`` (a Series named by a str), else ``"rating"``."""
    name = getattr(y, "name", None) if isinstance(y, pd.Series) else None
    return name if isinstance(name, str) and name else "rating"


def check_item_list(items, *, name, of="item"):
    """A list-like of ``of`` ids (item ids unless said; not a string, not a frame) as a pandas Index, each id of its own type."""
    if isinstance(items, (str, bytes, pd.DataFrame)) or not np.iterable(items):
        raise TypeError(f"`{name}` must be a list-like of {of} ids; got {type(items).__name__}.")
    ids = pd.Index(list(items), dtype=object if not len(items) else None)
    _check_none_missing(ids, name)
    return ids


def check_exclusions(exclude_items, user_col, item_col):
    """``(user ids or None, item ids)`` of ``exclude_items``: a frame of pairs, or items for everyone."""
    if exclude_items is None:
        return None
    if isinstance(exclude_items, pd.DataFrame):
        users, items = check_interactions(exclude_items, user_col, item_col, name="`exclude_items`")
        return users.to_numpy(), items.to_numpy()
    return None, check_item_list(exclude_items, name="exclude_items")


def check_trusted(trusted):
    """``load``'s ``trusted`` as a tuple of type names: one str is one name, None is none."""
    if trusted is None:
        return ()
    if isinstance(trusted, str):
        return (trusted,)
    if not np.iterable(trusted) or not all(isinstance(name, str) for name in trusted):
        raise TypeError(f"`trusted` must be a type name (\"module.name\"), a list of them or None; got {trusted!r}.")
    return tuple(trusted)


def check_k(k, n_items, *, others=False, users=False):
    """Check the ``k`` of ``recommend``: an int in ``[1, n_items]``.

    With ``others`` (``similar_items``), ``n_items`` counts the catalogue without the query item;
    with ``users`` (``recommend_users``), it counts the users that may be returned.
    """
    if not isinstance(k, numbers.Integral) or isinstance(k, bool):
        raise TypeError(f"`k` must be an int; got {k!r} of type {type(k).__name__}.")
    if k < 1:
        raise ValueError(f"`k` must be >= 1; got {k}.")
    if k > n_items and users:
        raise ValueError(f"`k`={k} is larger than the {n_items} users that may be returned.")
    if k > n_items and others:
        raise ValueError(f"`k`={k} is larger than the {n_items} other items: the model knows {n_items + 1} items, and an item is not similar to itself.")
    if k > n_items:
        raise ValueError(f"`k`={k} is larger than the catalogue: the model knows {n_items} items.")
    return int(k)


def check_id_list(ids, name):
    """One id (a str, a number, any non-iterable label) or any iterable of ids, as a list.

    Raises
    ------
    TypeError
        If ``ids`` is None, a DataFrame or an array of more than one dimension.
    ValueError
        If an id is missing (NaN, None, ``pd.NA``), which ``fit`` refuses too.
    """
    if ids is None:
        raise TypeError(f"`{name}` is None: give one id or an iterable of ids.")
    if isinstance(ids, (str, bytes)) or not isinstance(ids, collections.abc.Iterable):
        ids = [ids]
    elif isinstance(ids, np.ndarray) and ids.ndim == 0:
        ids = [ids.item()]
    elif isinstance(ids, pd.DataFrame) or (isinstance(ids, np.ndarray) and ids.ndim > 1):
        raise TypeError(
            f"`{name}` must be one id or an iterable of ids (list, array, Series, set, generator, ...); "
            f"got a {type(ids).__name__} of shape {np.shape(ids)}: pass one of its columns."
        )
    ids = list(ids)
    _check_none_missing(pd.Series(ids, dtype=object), name)
    return ids


def _check_none_missing(ids, name):
    """Raise ValueError at the first missing id (NaN, None, ``pd.NA``) of a request's ``ids``."""
    missing = np.asarray(pd.isna(ids))
    if missing.any():
        raise ValueError(f"`{name}` holds a missing id (NaN/None) at position {int(np.flatnonzero(missing)[0])}; ids cannot be missing.")


def warn_if_sliced(frame, ids, name):
    """Warn when a ``users`` or ``items`` frame (``name``) looks cut per fold by a scikit-learn search.

    Searches and ``cross_validate`` slice every fit parameter as long as ``X``, as if it were a
    per-row column: a side frame that happens to have ``len(X)`` rows then loses rows.
    """
    missing = pd.Index(pd.unique(ids)).difference(frame.index)
    if len(frame) == len(ids) and len(missing):
        warn(
            f"`{name}` has as many rows as X ({len(frame)}) and lacks {len(missing)} of X's {name}: a "
            f"scikit-learn search or cross_validate may have sliced it like a per-row column of X. "
            f"The {name} it lacks have no side information; see the user guide on side frames in searches.",
            UserWarning,
        )


def input_features(X):
    """``(n_features_in_, feature_names_in_)`` of ``X``: its columns, and their names if all are str (else None)."""
    n = X.shape[1] if hasattr(X, "shape") and len(X.shape) == 2 else 2
    names = getattr(X, "columns", None)
    if names is not None and all(isinstance(name, str) for name in names):
        return n, np.asarray(names, dtype=object)
    return n, None


def read_ids(X, user_col, item_col, fitted_names, estimator_name):
    """The user and item ids of ``X``: by name from a frame, by position from an array.

    Fitted on a frame (``fitted_names``) and given an array, the array's columns are read at the
    positions the user and item columns had in that frame, with scikit-learn's warning.
    """
    positions = (0, 1)
    if not isinstance(X, pd.DataFrame) and fitted_names is not None:
        warn(
            f"X does not have valid feature names, but {estimator_name} was fitted with feature names",
            UserWarning,
        )
        names = list(fitted_names)
        positions = (names.index(user_col), names.index(item_col))
    return check_interactions(X, user_col, item_col, positions=positions)
