"""Input checks for MultiTaskRecommender: parameters, interaction frames, ratings and side frames.

Every check raises an error that names the argument, column or value at fault, and none of
them modifies what the caller passed in: they return new objects.
"""

import numbers
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pandas.api.types import infer_dtype, is_bool_dtype, is_numeric_dtype
from sklearn.exceptions import DataConversionWarning

__all__ = [
    "check_params",
    "check_interactions",
    "check_ratings",
    "check_side_frame",
    "check_k",
]


def check_params(est):
    """Check the estimator's constructor parameters at ``fit`` time (``__init__`` only stores)."""
    _check_int(est, "embedding_dim", low=1)
    _check_int(est, "batch_size", low=1)
    _check_int(est, "epochs", low=0)
    _check_int(est, "verbose", low=0, high=2)
    for name in ("retrieval_weight", "ranking_weight", "l2", "rating_blend"):
        _check_real(est, name, low=0.0)
    _check_options(est, "rating_head", ("dot", "mlp"))
    _check_options(est, "retrieval_negatives", ("auto", "catalogue", "sampled", "in_batch"))
    _check_int(est, "max_history", low=1)
    _check_int(est, "n_negatives", low=0)
    _check_options(est, "lr_schedule", ("constant", "cosine"))
    _check_options(est, "implicit_feedback", (True, False))
    _check_options(est, "early_stopping", (True, False))
    _check_options(est, "warm_start", (True, False))
    _check_int(est, "n_iter_no_change", low=1)
    _check_real(est, "validation_fraction", low=0.0, low_inclusive=False)
    if est.validation_fraction >= 1:
        raise ValueError(f"`validation_fraction` must be < 1; got {est.validation_fraction!r}.")
    if est.rating_blend and est.rating_head != "dot":
        raise ValueError(
            f"`rating_blend`={est.rating_blend!r} adds the predicted rating to the retrieval score, "
            f"which needs rating_head='dot'; got rating_head={est.rating_head!r}."
        )
    _check_real(est, "learning_rate", low=0.0, low_inclusive=False)
    sizes = est.layer_sizes
    if isinstance(sizes, (str, bytes)) or not np.iterable(sizes) or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1 for s in sizes
    ):
        raise ValueError(
            f"`layer_sizes` must be a sequence of positive ints, e.g. (256, 128); got {sizes!r}."
        )
    if est.optimizer_params is not None and not isinstance(est.optimizer_params, dict):
        raise TypeError(f"`optimizer_params` must be a dict or None; got {type(est.optimizer_params).__name__}.")
    for name in ("user_col", "item_col"):
        if not isinstance(getattr(est, name), str) or not getattr(est, name):
            raise ValueError(f"`{name}` must be a non-empty column name (str); got {getattr(est, name)!r}.")
    if est.user_col == est.item_col:
        raise ValueError(f"`user_col` and `item_col` must differ; both are {est.user_col!r}.")


def _check_options(est, name, options):
    value = getattr(est, name)
    if not any(value is option or (type(value) is type(option) and value == option) for option in options):
        raise ValueError(f"`{name}` must be one of {list(options)}; got {value!r}.")


def _check_int(est, name, low, high=None):
    value = getattr(est, name)
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"`{name}` must be an int; got {value!r} of type {type(value).__name__}.")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"`{name}` must be {bound}; got {value!r}.")


def _check_real(est, name, low, low_inclusive=True):
    value = getattr(est, name)
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not np.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number; got {value!r}.")
    if value < low or (value == low and not low_inclusive):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"`{name}` must be {op} {low}; got {value!r}.")


def check_interactions(X, user_col, item_col, *, name="X"):
    """Return the user and item id columns of ``X`` as two pandas Series (copies).

    ``X`` is a DataFrame holding ``user_col`` and ``item_col``, or an array-like of shape
    ``(n_samples, n_columns)`` with ``n_columns >= 2`` whose column 0 holds the users and
    column 1 the items. Other columns are ignored in both cases.
    """
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
        array = _as_array(X, user_col, item_col, name)
        users = pd.Series(array[:, 0], name=user_col)
        items = pd.Series(array[:, 1], name=item_col)
    if len(users) == 0:
        raise ValueError(f"{name} is empty: at least one (user, item) pair is needed.")
    return (
        _check_ids(users.reset_index(drop=True), user_col, name),
        _check_ids(items.reset_index(drop=True), item_col, name),
    )


def _as_array(X, user_col, item_col, name):
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
    if array.shape[1] < 2:
        raise ValueError(
            f"{name} has {array.shape[1]} feature(s) (shape={array.shape}) while a minimum of 2 is "
            f"required: user ids in column 0 and item ids in column 1."
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
        ids = ids.astype("int64") if np.all(values == np.round(values)) else ids.astype("float64")
    elif is_numeric_dtype(ids.dtype) and not is_bool_dtype(ids.dtype):
        ids = ids.astype("int64") if kind == "integer" else ids
    return ids.copy()


def check_ratings(y, n_samples, *, name="y"):
    """Return ``y`` as a 1-D float64 array after checking its length and that it is finite."""
    if y is None:
        raise ValueError(
            "MultiTaskRecommender requires y to be passed, but the target y is None: give the ratings."
        )
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise ValueError(f"{name} must be one column of ratings; got a DataFrame with {y.shape[1]} columns.")
        y = y.iloc[:, 0]
    dtype = getattr(y, "dtype", None)
    if (isinstance(y, pd.Series) and not is_numeric_dtype(dtype)) or is_bool_dtype(dtype):
        raise TypeError(f"{name} must hold numeric ratings; got dtype {dtype}.")
    try:
        values = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must hold numeric ratings: {exc}") from None
    if values.ndim == 2 and values.shape[1] == 1:
        warnings.warn(
            f"A column-vector {name} was passed when a 1d array was expected; it was raveled.",
            DataConversionWarning,
            stacklevel=3,
        )
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one rating per row); got shape {values.shape}.")
    if len(values) != n_samples:
        raise ValueError(f"X has {n_samples} rows but {name} has {len(values)} ratings; they must match.")
    bad = ~np.isfinite(values)
    if bad.any():
        raise ValueError(
            f"{name} holds {int(bad.sum())} NaN or infinite ratings (first at row "
            f"{int(np.flatnonzero(bad)[0])}); drop or impute them before fit."
        )
    return values.copy()


def check_side_frame(frame, col, *, name):
    """Check a ``users``/``items`` frame keyed by ``col``; return it indexed by that column."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"`{name}` must be a pandas DataFrame keyed by {col!r}; got {type(frame).__name__}.")
    if col not in frame.columns:
        raise ValueError(f"`{name}` has no column {col!r}; its columns are {list(frame.columns)}.")
    ids = _check_ids(frame[col].reset_index(drop=True), col, f"`{name}`")
    duplicated = ids[ids.duplicated()]
    if len(duplicated):
        raise ValueError(
            f"`{name}` lists {col}={duplicated.tolist()[0]!r} more than once; ids must be unique."
        )
    out = frame.drop(columns=[col]).reset_index(drop=True)
    out.index = pd.Index(ids, name=col)
    return out


def check_k(k, n_items):
    """Check the ``k`` of ``recommend``: an int in ``[1, n_items]``."""
    if not isinstance(k, numbers.Integral) or isinstance(k, bool):
        raise TypeError(f"`k` must be an int; got {k!r} of type {type(k).__name__}.")
    if k < 1:
        raise ValueError(f"`k` must be >= 1; got {k}.")
    if k > n_items:
        raise ValueError(f"`k`={k} is larger than the catalogue: the model knows {n_items} items.")
    return int(k)
