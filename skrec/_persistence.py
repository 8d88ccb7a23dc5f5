"""Save and load the parts of a fitted MultiTaskRecommender in a file that executes no code when loaded.

The file is a zip archive holding:

* ``metadata.json``: the format version, the skrec, Keras and backend versions that wrote it,
  the recipe (:class:`skrec._recipe.Recipe`),
  the estimator's parameters, the Keras model's configuration (``get_config``), its small
  fitted state (rating range, history) and the description of the ``items`` frame's columns;
* ``arrays.npz``: the model's weights, the id vocabularies, the seen (user, item) pairs, the
  rating sums behind the cold-start means and the ``items`` frame's columns
  (:mod:`skrec._frames`), read with ``allow_pickle=False``;
* ``features/user.skops``, ``features/item.skops`` (models with side features): the fitted
  feature transformers, and ``params/<name>.skops`` for a parameter that is a transformer, in
  the format of ``skops.io``, which rebuilds scikit-learn objects without ``pickle`` and
  refuses types it has not been told to trust.

Unlike ``pickle``, nothing in it can run code on ``load``. Writing is atomic: everything is
checked and encoded before a byte is written, the file is written next to its destination
under a temporary name and moved into place in one step, so a failed save leaves an existing
file untouched.
"""

import io
import json
import numbers
import os
import pathlib
import tempfile
import zipfile
import zlib
from collections import namedtuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from skrec._encoding import IdEncoder
from skrec._features import FeatureEncoder
from skrec._frames import decode_frame, encode_frame
from skrec._interactions import Interactions, RatingMeans
from skrec._model import model_from_state, model_state
from skrec._recipe import Recipe

__all__ = ["SavedState", "save", "load"]

FORMAT_VERSION = 3

#: Parameters added after the first files of this format, with the value that reproduces what
#: skrec did before they existed: a file without one of them gets that value, not today's default.
PARAMS_ADDED = {"swa_fraction": 0.0, "item_implicit_feedback": False, "max_raters": 16, "item_item": None, "item_item_weight": 4.0, "item_item_l2": 500.0, "l2_form": "per_interaction"}

# What skops.io is told to trust on load besides the scikit-learn, NumPy and SciPy types it
# trusts itself: NumPy dtypes (KBinsDiscretizer's parameter) and the functions of skrec's
# default feature encoding.
TRUSTED = ("numpy.dtype",)
TRUSTED_MODULES = ("skrec._features.",)

SavedState = namedtuple("SavedState", ["params", "model", "interactions", "history", "item_info", "encoders", "recipe", "rating_col"])
SavedState.__doc__ = """What a skrec model file holds: everything a fitted estimator is made of."""


def save(path, *, params, model, interactions, history, item_info, encoders, recipe, rating_col="rating"):
    """Write a fitted estimator's parts to ``path`` (see :meth:`MultiTaskRecommender.save`).

    Raises
    ------
    ValueError
        If a parameter, a feature transformer or a column of ``item_info`` cannot be stored;
        nothing is written then.
    """
    params, objects = _split_objects(params)
    metadata, arrays = _contents(params, interactions, history, item_info)
    config, weights = model_state(model)
    metadata["model"] = _plain(config, "model configuration")
    metadata["recipe"] = _plain(recipe.to_json(), "recipe")
    metadata["rating_col"] = rating_col
    metadata["features"] = {space: _encoder_metadata(encoder) for space, encoder in encoders.items()}
    arrays.update({f"weights/{n}": value for n, value in enumerate(weights)})
    members = {"metadata.json": json.dumps(metadata).encode(), "arrays.npz": _npz_bytes(arrays)}
    members.update({f"params/{name}.skops": _skops_bytes(value, f"the parameter {name}") for name, value in objects.items()})
    for space, encoder in encoders.items():
        if encoder is not None:
            members[f"features/{space}.skops"] = _skops_bytes(encoder.transformer, f"the fitted {space} feature transformer")
    _write_atomically(path, members)


def _split_objects(params):
    """``(plain params, transformer params)``: parameters that are objects go to their own skops member."""
    objects = {name: value for name, value in params.items() if hasattr(value, "fit") and hasattr(value, "transform")}
    return {name: value for name, value in params.items() if name not in objects}, objects


def _skops_bytes(obj, what):
    import skops.io

    try:
        data = skops.io.dumps(obj)
        # Read back here, where every type is known: a lambda or a local function is written
        # by name but cannot be found again on load.
        skops.io.loads(data, trusted=skops.io.get_untrusted_types(data=data))
    except Exception as exc:  # skops raises TypeError, AttributeError, ... on what it cannot store
        raise ValueError(
            f"{what} ({type(obj).__name__}) cannot be stored with skops.io ({type(exc).__name__}: {exc}); "
            f"nothing was written. Use functions defined at module level, or pickle the estimator."
        ) from None
    return data


def _encoder_metadata(encoder):
    if encoder is None:
        return None
    return {
        "columns": [_plain(column, "a side frame's column name") for column in encoder.columns],
        "names": [str(name) for name in encoder.names],
        "string_columns": bool(encoder.string_columns),
    }


def _contents(params, interactions, history, item_info):
    """The metadata and arrays of the file: everything is checked and encoded here."""
    from skrec import __version__
    from skrec._keras import keras

    metadata = {
        "format": FORMAT_VERSION,
        "skrec_version": __version__,
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "params": {name: _plain(value, name) for name, value in _storable_params(params).items()},
        "rating_range": None if interactions.rating_range is None else [float(v) for v in interactions.rating_range],
        "history": {name: [float(v) for v in values] for name, values in history.items()},
        "rating_total": [float(interactions.means.total), float(interactions.means.count)],
        "items": None,
    }
    arrays = {
        "users": _id_array(interactions.users.index),
        "items": _id_array(interactions.items.index),
        "seen_indptr": interactions.seen.indptr,
        "seen_indices": interactions.seen.indices,
        "user_sum": interactions.means.user_sum,
        "user_count": interactions.means.user_count,
        "item_sum": interactions.means.item_sum,
        "item_count": interactions.means.item_count,
    }
    if item_info is not None:
        columns, item_arrays = encode_frame(item_info, "items")
        metadata["items"] = columns
        arrays.update({f"items/{key}": value for key, value in item_arrays.items()})
    return metadata, arrays


def _write_atomically(path, members):
    """Write the zip archive of ``members`` to a temporary file beside ``path``, then move it there."""
    path = pathlib.Path(os.fspath(path))
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as file:
            with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for name, data in members.items():
                    archive.writestr(name, data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def load(path, trusted=()):
    """Read the parts of an estimator written by :func:`save` (see :func:`skrec.load`).

    ``trusted`` lists the types (``"module.name"``) a stored transformer may hold besides the
    ones ``skops.io``, :data:`TRUSTED` and :data:`TRUSTED_MODULES` trust.

    Returns
    -------
    SavedState

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If the file is not a skrec model file, is truncated or corrupt, was written by a
        version of skrec or Keras this one cannot read, or holds a transformer of a type that
        is not trusted.
    """
    from skrec._keras import keras

    if not os.path.isfile(path):
        raise FileNotFoundError(2, f"No skrec model file at {os.fspath(path)!r}", os.fspath(path))
    try:
        with zipfile.ZipFile(path) as archive:
            metadata = json.loads(archive.read("metadata.json"))
            _check_versions(metadata, path, keras)
            arrays = dict(np.load(io.BytesIO(archive.read("arrays.npz")), allow_pickle=False))
            objects = {name: archive.read(name) for name in archive.namelist() if name.endswith(".skops")}
    except (zipfile.BadZipFile, KeyError, EOFError, OSError, ValueError, zlib.error) as exc:
        if isinstance(exc, ValueError) and str(exc).startswith(str(path)):
            raise  # a version mismatch, already explained
        raise ValueError(f"{path} is not a skrec model file, or it is truncated or corrupt ({exc}).") from None

    params = {**PARAMS_ADDED, **metadata["params"], "layer_sizes": tuple(metadata["params"]["layer_sizes"])}
    params.update({name[len("params/") : -len(".skops")]: _from_skops(data, path, trusted) for name, data in objects.items() if name.startswith("params/")})
    encoders = {space: _encoder(meta, objects.get(f"features/{space}.skops"), path, trusted) for space, meta in metadata["features"].items()}
    model = _model(metadata, arrays, path)
    interactions = _interactions(params, metadata, arrays)
    item_info = None
    if metadata["items"] is not None:
        item_arrays = {key[len("items/") :]: value for key, value in arrays.items() if key.startswith("items/")}
        item_info = decode_frame(metadata["items"], item_arrays, interactions.items.index)
    recipe = None if metadata.get("recipe") is None else Recipe.from_json(metadata["recipe"])
    return SavedState(params, model, interactions, metadata["history"], item_info, encoders, recipe, metadata.get("rating_col", "rating"))


def _encoder(meta, data, path, trusted):
    if meta is None:
        return None
    transformer = _from_skops(data, path, trusted)
    return FeatureEncoder(transformer, list(meta["columns"]), np.asarray(meta["names"], dtype=object), meta["string_columns"])


def _from_skops(data, path, trusted):
    """The object of a skops.io member, if every type it holds is trusted."""
    import skops.io

    untrusted = skops.io.get_untrusted_types(data=data)
    refused = [name for name in untrusted if not (name in TRUSTED or name.startswith(TRUSTED_MODULES) or name in trusted)]
    if refused:
        raise ValueError(
            f"{path} holds a transformer with types that are not trusted by default: {refused}. If you trust "
            f"the file, load it with skrec.load(path, trusted={refused!r})."
        )
    try:
        return skops.io.loads(data, trusted=untrusted)
    except Exception as exc:  # a trusted type that this environment cannot import or rebuild
        raise ValueError(f"{path}: a stored transformer cannot be rebuilt here ({type(exc).__name__}: {exc}).") from None


def _interactions(params, metadata, arrays):
    users = IdEncoder.from_index(pd.Index(arrays["users"], name=params["user_col"]))
    items = IdEncoder.from_index(pd.Index(arrays["items"], name=params["item_col"]))
    seen = sp.csr_matrix(
        (np.ones(len(arrays["seen_indices"]), dtype=bool), arrays["seen_indices"], arrays["seen_indptr"]),
        shape=(len(users), len(items)),
    )
    total, count = metadata["rating_total"]
    means = RatingMeans(total, count, arrays["user_sum"], arrays["user_count"], arrays["item_sum"], arrays["item_count"])
    rating_range = None if metadata["rating_range"] is None else tuple(metadata["rating_range"])
    return Interactions(users, items, rating_range, seen, means)


def _model(metadata, arrays, path):
    weights = [arrays[f"weights/{n}"] for n in range(sum(key.startswith("weights/") for key in arrays))]
    try:
        return model_from_state(metadata["model"], weights)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{path}: its model cannot be rebuilt ({type(exc).__name__}: {exc}).") from None


def _check_versions(metadata, path, keras):
    from skrec import __version__

    if metadata.get("format") != FORMAT_VERSION:
        raise ValueError(
            f"{path} has skrec file format {metadata.get('format')!r}; this skrec ({__version__}) "
            f"reads format {FORMAT_VERSION}. Load it with the skrec version that wrote it "
            f"({metadata.get('skrec_version')!r})."
        )
    written, running = metadata["skrec_version"].split(".")[:2], __version__.split(".")[:2]
    if written != running:
        raise ValueError(
            f"{path} was written by skrec {metadata['skrec_version']}; this is skrec {__version__}. "
            f"Files are read by the same major.minor version only: refit, or load it with skrec "
            f"{'.'.join(written)}.x."
        )
    if metadata["keras_version"].split(".")[0] != keras.__version__.split(".")[0]:
        raise ValueError(
            f"{path} was written with Keras {metadata['keras_version']}; this is Keras "
            f"{keras.__version__}, a different major version."
        )


def _npz_bytes(arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _id_array(index):
    """Ids as an array NumPy stores without pickle, of their own dtype: strings become ``str``."""
    values = index.to_numpy()
    return values.astype(str) if values.dtype == object else values


def _storable_params(params):
    """Parameters to store; a RandomState instance (not storable) is saved as None."""
    out = dict(params, layer_sizes=list(params["layer_sizes"]))
    if not (out["random_state"] is None or isinstance(out["random_state"], numbers.Integral)):
        out["random_state"] = None
    return out


def _plain(value, name):
    """``value`` as plain JSON data (NumPy scalars become Python numbers), or ``ValueError``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v, name) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _plain(v, f"{name}[{k!r}]") for k, v in value.items()}
    raise ValueError(
        f"The parameter {name}={value!r} ({type(value).__name__}) cannot be stored in a skrec model "
        f"file, which holds numbers, strings, booleans, lists and dicts only; nothing was written."
    )
