"""Side features: turns the ``users`` and ``items`` frames into the sparse feature rows the model embeds.

Each id of a side frame gets a row of feature values (a SciPy CSR matrix, one column per
feature: a category, a genre, an age band). The model adds to each user's and item's own
embedding the sum of its features' embeddings weighted by these values (LightFM's design,
Kula, "Metadata embeddings for user and item cold-start recommendations", 2015), so that an
id never seen in training is scored from its features alone.

The encoding is a scikit-learn transformer: the one the caller passes, or the default of
:func:`default_encoder`, which picks an encoder per column by its dtype. Nothing here knows the
model or the estimator.
"""

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pandas.api import types as ptypes
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, KBinsDiscretizer, OneHotEncoder, normalize

__all__ = ["FeatureEncoder", "SideFeatures", "default_encoder", "encode_features", "padded_features", "unpadded_features", "SEPARATOR", "N_BINS"]

# A string column whose values hold this separator is multi-valued ("Action|Comedy").
SEPARATOR = "|"
# Quantile bins of a numeric column (fewer when it has fewer distinct values).
N_BINS = 10
# A string or categorical column in which more than this share of the rows hold a value no other
# row holds is an identifier or free text (a title, a URL, a zip code), not a feature.
MAX_SINGLETON_SHARE = 0.5


def default_encoder(frame):
    """The default feature encoder of a side frame: one scikit-learn encoder per column by dtype.

    * bool columns, and numeric columns holding only 0 and 1 (indicator groups such as
      genres), are used as they are (missing values count 0);
    * other numeric columns (nullable ones too) are cut into up to ``N_BINS`` quantile bins,
      one indicator per bin (``KBinsDiscretizer``), after filling missing values with the median;
    * datetimes are turned into their year, then binned like numbers;
    * string and categorical columns get one indicator per value held by at least two rows
      (``OneHotEncoder(min_frequency=2)``: rarer values share one "infrequent" indicator;
      missing values are a value), or, when some value holds ``SEPARATOR``
      (``"Action|Comedy"``), one per token (``CountVectorizer``); a column in which more than
      half the rows hold a value of their own (an identifier or free text: titles, URLs, zip
      codes) is not used;
    * other columns (complex numbers, timedeltas, objects other than strings) are not used.

    Parameters
    ----------
    frame : pandas.DataFrame
        The side frame without its id column.

    Returns
    -------
    sklearn.compose.ColumnTransformer or None
        Unfitted; None when no column is usable.
    """
    steps = [step for name, column in frame.items() if (step := _column_step(str(name), column)) is not None]
    if not steps:
        return None
    return ColumnTransformer(steps, sparse_threshold=1.0, verbose_feature_names_out=True)


def _column_step(name, column):
    """``(name, encoder, column)`` for one column by the rule of :func:`default_encoder`, or None."""
    if ptypes.is_complex_dtype(column.dtype):
        return None
    if ptypes.is_bool_dtype(column.dtype) or (ptypes.is_numeric_dtype(column.dtype) and _is_indicator(column)):
        return name, make_pipeline(FunctionTransformer(_as_float, feature_names_out="one-to-one"), SimpleImputer(strategy="constant", fill_value=0.0)), [column.name]
    if ptypes.is_datetime64_any_dtype(column.dtype):
        return name, make_pipeline(FunctionTransformer(_year, feature_names_out="one-to-one"), _binner(column.dt.year)), [column.name]
    if ptypes.is_numeric_dtype(column.dtype):
        return name, _binner(column), [column.name]
    if isinstance(column.dtype, pd.CategoricalDtype) or ptypes.is_string_dtype(column.dtype):
        return _categorical_step(name, column)
    return None


def _categorical_step(name, column):
    values = column.dropna()
    if not isinstance(column.dtype, pd.CategoricalDtype) and pd.api.types.infer_dtype(values) not in ("string", "empty"):
        return None
    if values.astype(str).str.contains(SEPARATOR, regex=False).any():
        tokens = CountVectorizer(tokenizer=_split, token_pattern=None, lowercase=False, binary=True)
        return name, make_pipeline(FunctionTransformer(_as_text, feature_names_out="one-to-one"), tokens), column.name
    if (column.value_counts() == 1).sum() > MAX_SINGLETON_SHARE * len(column):
        return None
    encoder = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=2)
    return name, make_pipeline(FunctionTransformer(_as_object, feature_names_out="one-to-one"), encoder), [column.name]


def _is_indicator(column):
    values = pd.unique(column.dropna())
    return len(values) > 0 and set(np.asarray(values, dtype=float).tolist()) <= {0.0, 1.0}


def _binner(column):
    n_bins = int(max(2, min(N_BINS, column.nunique())))
    bins = KBinsDiscretizer(n_bins=n_bins, encode="onehot", strategy="quantile", quantile_method="averaged_inverted_cdf", subsample=None)
    return make_pipeline(FunctionTransformer(_as_float, feature_names_out="one-to-one"), SimpleImputer(strategy="median", keep_empty_features=True), bins)


def _as_float(frame):
    return pd.DataFrame(frame).astype("float64").to_numpy()


def _as_object(frame):
    """Strings (categories included) as an object array; missing values become ``"missing"``, a value of their own."""
    frame = pd.DataFrame(frame).astype(object)
    return frame.where(frame.notna(), "missing").astype(str).to_numpy()


def _as_text(column):
    column = pd.Series(column).astype(object)
    return column.where(column.notna(), "").astype(str).tolist()


def _split(text):
    return [token for token in text.split(SEPARATOR) if token]


def _year(frame):
    return pd.DataFrame(frame).apply(_year_of).astype("float64").to_numpy()


def _year_of(column):
    """The year of each datetime of ``column``; ValueError naming it if it holds no datetimes."""
    if not ptypes.is_datetime64_any_dtype(column.dtype):
        raise ValueError(
            f"column {column.name!r} held datetimes in fit but has dtype {column.dtype} here; "
            f"convert it, e.g. with pd.to_datetime"
        )
    return column.dt.year


@dataclass
class FeatureEncoder:
    """A fitted feature transformer and the side-frame columns it reads.

    Kept by the fitted estimator so that ids first met at serving time (in the frames given
    to ``predict`` or ``recommend``) get their features by the same encoding as in ``fit``.

    Attributes
    ----------
    transformer : scikit-learn transformer
        Fitted on the side frame of ``fit``.
    columns : list
        The side frame's columns at fit (without the id column), in order.
    names : ndarray of str, shape (n_features,)
        The features, as the transformer's ``get_feature_names_out`` names them.
    string_columns : bool
        Whether the transformer reads the columns under ``str`` names (the default encoder).
    """

    transformer: object
    columns: list
    names: np.ndarray
    string_columns: bool = False

    def transform(self, frame, name="the side frame"):
        """Feature rows of ``frame`` (indexed by id), CSR float32 of shape ``(len(frame), n_features)``.

        Raises
        ------
        ValueError
            If ``frame`` (called ``name`` in messages) lacks a column of ``fit``'s frame, holds
            values the fitted transformer cannot encode (text in a numeric column), or the
            transformer's output has another number of rows or values that are not finite.
        """
        missing = [column for column in self.columns if column not in frame.columns]
        if missing:
            raise ValueError(f"{name} lacks the column(s) {missing} that its features were fitted on.")
        frame = frame[self.columns]
        if self.string_columns:
            frame = frame.set_axis([str(column) for column in frame.columns], axis=1)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Found unknown categories", category=UserWarning)
                values = sp.csr_matrix(self.transformer.transform(frame), dtype=np.float32)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{name} cannot be encoded by the features fitted in fit ({type(exc).__name__}: {exc}).") from None
        _check_output(values, frame, self.transformer, len(self.names))
        return values


@dataclass
class SideFeatures:
    """The features of one side frame (users or items), fitted on it.

    Attributes
    ----------
    values : scipy.sparse.csr_matrix of float32, shape (len(index), n_features)
        Feature values of each row of the frame.
    index : pandas.Index
        The ids of the frame's rows.
    encoder : FeatureEncoder
        The fitted encoding, for frames met later.
    """

    values: sp.csr_matrix
    index: pd.Index
    encoder: FeatureEncoder

    @property
    def names(self):
        return self.encoder.names

    @classmethod
    def of(cls, frame, encoder, name="the side frame"):
        """The features of ``frame`` (indexed by id; None: no row) by an already fitted ``encoder``."""
        if frame is None:
            return cls(sp.csr_matrix((0, len(encoder.names)), dtype=np.float32), pd.Index([]), encoder)
        return cls(encoder.transform(frame, name), frame.index, encoder)

    def rows(self, ids):
        """Feature rows of ``ids`` (an id absent from the frame gets an empty row), CSR float32."""
        position = self.index.get_indexer(ids)
        if not len(self.index):
            return sp.csr_matrix((len(position), self.values.shape[1]), dtype=np.float32)
        out = sp.diags((position >= 0).astype(np.float32)) @ self.values[np.maximum(position, 0)]
        out = sp.csr_matrix(out, dtype=np.float32)
        out.eliminate_zeros()
        return out


def encode_features(frame, encoder):
    """Fit ``encoder`` (cloned) on ``frame`` and return its features, or None without any.

    Parameters
    ----------
    frame : pandas.DataFrame
        The side frame indexed by id, without its id column (as ``check_side_frame`` gives it).
    encoder : scikit-learn transformer or "auto"
        ``"auto"`` for :func:`default_encoder`; otherwise any object with ``fit`` and
        ``transform`` whose output has one row per row of ``frame`` (dense or sparse), cloned
        with ``sklearn.base.clone`` (deep-copied if it is not a scikit-learn estimator).

    Returns
    -------
    SideFeatures or None
        None when no column is usable (``"auto"``) or the output has no column.

    Raises
    ------
    ValueError
        If the transformer's output has another number of rows than ``frame`` or holds
        values that are not finite.
    """
    columns, auto = list(frame.columns), isinstance(encoder, str)
    if auto:
        frame = frame.set_axis([str(name) for name in frame.columns], axis=1)  # scikit-learn wants str names
    fitted = default_encoder(frame) if auto else clone(encoder, safe=False)
    if fitted is None:
        return None
    with warnings.catch_warnings():
        # Quantile bins of columns with few distinct values: KBinsDiscretizer merges the empty ones.
        warnings.filterwarnings("ignore", message="Bins whose width are too small", category=UserWarning)
        warnings.filterwarnings("ignore", message="Feature .* is constant", category=UserWarning)
        values = fitted.fit_transform(frame) if hasattr(fitted, "fit_transform") else fitted.fit(frame).transform(frame)
        values = sp.csr_matrix(values, dtype=np.float32)
    _check_output(values, frame, fitted)
    if not values.shape[1]:
        return None
    names = _feature_names(fitted, values.shape[1])
    return SideFeatures(values, frame.index, FeatureEncoder(fitted, columns, names, auto))


def _check_output(values, frame, fitted, n_features=None):
    if values.shape[0] != len(frame):
        raise ValueError(f"The feature transformer {type(fitted).__name__} returned {values.shape[0]} rows for a frame of {len(frame)}.")
    if n_features is not None and values.shape[1] != n_features:
        raise ValueError(f"The feature transformer {type(fitted).__name__} returned {values.shape[1]} features; it was fitted with {n_features}.")
    if not np.isfinite(values.data).all():
        raise ValueError(f"The feature transformer {type(fitted).__name__} returned values that are not finite (NaN or inf).")


def _feature_names(fitted, n):
    try:
        return np.asarray(fitted.get_feature_names_out(), dtype=object)
    except (AttributeError, ValueError, TypeError):
        return np.asarray([f"feature{j}" for j in range(n)], dtype=object)


def padded_features(features):
    """Feature rows as padded ``(ids, weights)`` arrays of shape ``(n_rows, width)``.

    Each row's weights are scaled to unit Euclidean norm (so a row's feature sum has the scale
    of one embedding whatever its number of features; keras-rs ``EmbedReduce``'s ``"sqrtn"``
    for 0/1 values); padding has id 0 and weight 0. ``width`` is the largest number of nonzero
    features of a row (at least 1).
    """
    features = normalize(sp.csr_matrix(features, dtype=np.float32), norm="l2")
    lengths = np.diff(features.indptr)
    width = max(1, int(lengths.max(initial=0)))
    rows = np.repeat(np.arange(features.shape[0]), lengths)
    position = np.arange(features.nnz) - np.repeat(features.indptr[:-1], lengths)
    ids = np.zeros((features.shape[0], width), dtype=np.int32)
    weights = np.zeros((features.shape[0], width), dtype=np.float32)
    ids[rows, position] = features.indices
    weights[rows, position] = features.data
    return ids, weights


def unpadded_features(ids, weights, n_features):
    """The CSR feature rows of padded ``(ids, weights)``: :func:`padded_features` undone (rows stay unit norm)."""
    rows = np.repeat(np.arange(ids.shape[0]), ids.shape[1])
    out = sp.csr_matrix((np.asarray(weights, np.float32).ravel(), (rows, np.asarray(ids).ravel())), shape=(ids.shape[0], n_features))
    out.eliminate_zeros()
    return out
