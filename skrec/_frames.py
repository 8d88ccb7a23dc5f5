"""Side frames to and from plain NumPy arrays and JSON, exactly, so that a model file needs no pickle.

:func:`encode_frame` turns a DataFrame into a JSON-able description of its columns and a dict
of NumPy arrays (none of object dtype, so ``np.load(allow_pickle=False)`` reads them);
:func:`decode_frame` rebuilds the same frame (``pandas.testing.assert_frame_equal`` holds).
A column of a kind that cannot be stored that way -- periods, intervals, sparse columns, objects
other than strings, column names other than ``str`` or ``int`` -- raises ``ValueError`` naming
the column and its dtype, so that a caller can refuse to save before writing anything.

Stored dtype families: NumPy bool, integers, floats and complex numbers; ``datetime64`` and
``timedelta64`` of any unit, time-zone-aware datetimes; pandas' nullable integers, floats and
booleans; strings (``str``/``string`` dtypes, or object columns holding only strings and
missing values); categoricals of any of these.
"""

import numbers

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

__all__ = ["encode_frame", "decode_frame"]


def encode_frame(frame, name):
    """``(columns, arrays)``: a JSON-able list describing each column, and its arrays.

    Raises
    ------
    ValueError
        If a column or its name cannot be stored exactly; the message names it and its dtype.
    """
    columns, arrays = [], {}
    for position, (label, series) in enumerate(frame.items()):
        _check_label(label, name)
        spec = _encode_column(series, f"c{position}", arrays, f"{name}[{label!r}]")
        columns.append({"name": label.item() if isinstance(label, np.generic) else label, **spec})
    return columns, arrays


def decode_frame(columns, arrays, index):
    """The frame :func:`encode_frame` described, with ``index``."""
    data = {spec["name"]: _decode_column(spec, arrays, index) for spec in columns}
    frame = pd.DataFrame(data, index=index)
    frame.columns = pd.Index([spec["name"] for spec in columns])
    return frame


def _check_label(label, name):
    if isinstance(label, bool) or not isinstance(label, (str, numbers.Integral)):
        raise ValueError(
            f"`{name}` has a column named {label!r} ({type(label).__name__}); a model file stores column "
            f"names that are str or int. Rename it, e.g. {name}.rename(columns=str)."
        )


def _encode_column(series, key, arrays, where):
    dtype = series.dtype
    if isinstance(dtype, pd.SparseDtype):
        raise ValueError(f"{where} has dtype {dtype}; a skrec model file stores dense columns: convert it with .sparse.to_dense().")
    if isinstance(dtype, pd.CategoricalDtype):
        categories = _encode_column(pd.Series(dtype.categories), f"{key}_categories", arrays, f"{where} categories")
        arrays[key] = series.cat.codes.to_numpy()
        return {"key": key, "kind": "category", "ordered": bool(dtype.ordered), "categories": categories}
    if isinstance(dtype, pd.DatetimeTZDtype):
        arrays[key] = series.dt.tz_localize(None).to_numpy()
        return {"key": key, "kind": "datetime_tz", "tz": str(dtype.tz), "dtype": str(dtype)}
    if isinstance(dtype, np.dtype) and dtype.kind in "biufcmM":
        arrays[key] = series.to_numpy()
        return {"key": key, "kind": "numpy"}
    if ptypes.is_extension_array_dtype(dtype) and (ptypes.is_numeric_dtype(dtype) or ptypes.is_bool_dtype(dtype)):
        arrays[key], arrays[f"{key}_mask"] = _masked(series, dtype.numpy_dtype)
        return {"key": key, "kind": "masked", "dtype": str(dtype)}
    if ptypes.is_string_dtype(dtype) and _only_strings(series):
        arrays[key], arrays[f"{key}_mask"] = _masked(series, str)
        return {"key": key, "kind": "string", "dtype": str(dtype)}
    raise ValueError(
        f"{where} has dtype {dtype}, which a skrec model file cannot store exactly without pickle. "
        f"Convert it (e.g. periods or intervals to str) or drop the column before fit."
    )


def _only_strings(series):
    values = series.dropna()
    return values.map(type).eq(str).all() if series.dtype == object else True


def _masked(series, numpy_dtype):
    mask = series.isna().to_numpy()
    values = series.to_numpy(dtype=object, copy=True)
    values[mask] = "" if numpy_dtype is str else 0
    return np.asarray(values.tolist(), dtype=numpy_dtype) if len(values) else np.zeros(0, numpy_dtype), mask


def _decode_column(spec, arrays, index):
    values = _decode_values(spec, arrays)
    return pd.Series(values, index=index) if len(index) == len(values) else pd.Series(values)


def _decode_values(spec, arrays):
    key, kind = spec["key"], spec["kind"]
    if kind == "category":
        categories = pd.Index(_decode_values(spec["categories"], arrays))
        return pd.Categorical.from_codes(arrays[key], categories=categories, ordered=spec["ordered"])
    if kind == "datetime_tz":
        return pd.Series(arrays[key]).dt.tz_localize(spec["tz"]).astype(spec["dtype"]).array
    if kind == "numpy":
        return arrays[key]
    values = arrays[key].astype(object)
    values[arrays[f"{key}_mask"]] = None
    return values if spec["dtype"] == "object" else pd.array(values, dtype=spec["dtype"])
