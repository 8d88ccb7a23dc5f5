"""Save and load the parts of a fitted MultiTaskRecommender in a file that executes no code when loaded.

The file is a zip archive holding:

* ``model.keras``: the Keras model as a Keras archive, loaded with ``safe_mode=True``;
* ``metadata.json``: the format version, the skrec, Keras and backend versions that wrote it,
  the estimator's parameters and its small fitted state (rating range, history);
* ``arrays.npz``: the id vocabularies, the seen (user, item) pairs and the cold-start means,
  read with ``allow_pickle=False``;
* ``items.json``: the ``items`` side frame, if one was given to ``fit`` (pandas' table JSON).

Unlike ``pickle``, nothing in it can run code on ``load``.
"""

import io
import json
import numbers
import pathlib
import tempfile
import zipfile
import zlib
from collections import namedtuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from skrec._encoding import IdEncoder
from skrec._interactions import Interactions

__all__ = ["SavedState", "save", "load"]

FORMAT_VERSION = 2


SavedState = namedtuple("SavedState", ["params", "model", "interactions", "history", "item_info"])
SavedState.__doc__ = """What a skrec model file holds: everything a fitted estimator is made of."""


def save(path, *, params, model, interactions, history, item_info):
    """Write a fitted estimator's parts to ``path`` (see :meth:`MultiTaskRecommender.save`)."""
    from skrec import __version__
    from skrec._keras import keras

    metadata = {
        "format": FORMAT_VERSION,
        "skrec_version": __version__,
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "params": _json_params(params),
        "rating_range": list(interactions.rating_range),
        "history": history,
        "global_mean": interactions.fallback[0],
    }
    arrays = {
        "users": _id_array(interactions.users.index),
        "items": _id_array(interactions.items.index),
        "seen_indptr": interactions.seen.indptr,
        "seen_indices": interactions.seen.indices,
        "user_mean": interactions.fallback[1],
        "item_mean": interactions.fallback[2],
    }
    model_bytes = _keras_archive_bytes(model)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", json.dumps(metadata))
        archive.writestr("arrays.npz", buffer.getvalue())
        archive.writestr("model.keras", model_bytes)
        if item_info is not None:
            archive.writestr("items.json", item_info.reset_index().to_json(orient="table", index=False))


def load(path):
    """Read the parts of an estimator written by :func:`save` (see :func:`skrec.load`).

    Returns
    -------
    SavedState

    Raises
    ------
    ValueError
        If the file is not a skrec model file, is truncated or corrupt, or was written by a
        version of skrec or Keras this one cannot read.
    """
    from skrec._keras import keras

    try:
        with zipfile.ZipFile(path) as archive:
            metadata = json.loads(archive.read("metadata.json"))
            _check_versions(metadata, path, keras)
            arrays = np.load(io.BytesIO(archive.read("arrays.npz")), allow_pickle=False)
            model_bytes = archive.read("model.keras")
            items_json = archive.read("items.json").decode() if "items.json" in archive.namelist() else None
    except (zipfile.BadZipFile, KeyError, EOFError, OSError, ValueError, zlib.error) as exc:
        if isinstance(exc, ValueError) and str(exc).startswith(str(path)):
            raise  # a version mismatch, already explained
        raise ValueError(f"{path} is not a skrec model file, or it is truncated or corrupt ({exc}).") from None

    params = dict(metadata["params"], layer_sizes=tuple(metadata["params"]["layer_sizes"]))
    model = _load_keras_archive(model_bytes, keras, path)
    interactions = _interactions(params, metadata, arrays)
    item_info = None
    if items_json is not None:
        item_info = pd.read_json(io.StringIO(items_json), orient="table").set_index(params["item_col"])
    return SavedState(params, model, interactions, metadata["history"], item_info)


def _interactions(params, metadata, arrays):
    users = IdEncoder.from_index(pd.Index(arrays["users"], name=params["user_col"]))
    items = IdEncoder.from_index(pd.Index(arrays["items"], name=params["item_col"]))
    seen = sp.csr_matrix(
        (np.ones(len(arrays["seen_indices"]), dtype=bool), arrays["seen_indices"], arrays["seen_indptr"]),
        shape=(len(users), len(items)),
    )
    fallback = (metadata["global_mean"], arrays["user_mean"], arrays["item_mean"])
    return Interactions(users, items, tuple(metadata["rating_range"]), seen, fallback)


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


def _keras_archive_bytes(model):
    """The model as the bytes of a ``.keras`` archive, through Keras's public file API."""
    from skrec._keras import keras

    with tempfile.TemporaryDirectory() as folder:
        file = pathlib.Path(folder) / "model.keras"
        keras.saving.save_model(model, file)
        return file.read_bytes()


def _load_keras_archive(data, keras, path):
    with tempfile.TemporaryDirectory() as folder:
        file = pathlib.Path(folder) / "model.keras"
        file.write_bytes(data)
        try:
            return keras.saving.load_model(file, safe_mode=True, compile=False)
        except Exception as exc:  # Keras raises many types for a damaged archive
            raise ValueError(f"{path}: its Keras model cannot be loaded ({type(exc).__name__}: {exc}).") from None


def _id_array(index):
    """Ids as an array NumPy can store without pickle: ints stay ints, strings become str."""
    values = index.to_numpy()
    return values.astype(str) if values.dtype == object else values


def _json_params(params):
    """Parameters as JSON values; a RandomState instance (not storable) is saved as None."""
    out = dict(params, layer_sizes=[int(size) for size in params["layer_sizes"]])
    if not (out["random_state"] is None or isinstance(out["random_state"], numbers.Integral)):
        out["random_state"] = None
    return out

