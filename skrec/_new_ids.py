"""Ids first met at serving time: users and items absent from fit, scored from the features of the frames given to predict or recommend.

A ``users`` or ``items`` frame given to ``predict`` or ``recommend`` may describe ids that
``fit`` never saw. Each such id gets a table row made of its features alone: the fitted
feature encoder (:class:`skrec._features.FeatureEncoder`) turns its frame row into feature
values, and the model sums their embeddings (``MultiTaskModel.feature_rows``), exactly as it
does for the cold-start ids of ``fit``'s frames, whose own embedding is zero. Nothing of the
fitted model changes.

New ids get codes past the fitted vocabulary: ``n + j`` for the ``j``-th new id of a space
with ``n`` fitted ids, so that one integer array addresses both.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from skrec._features import padded_features
from skrec._keras import keras
from skrec._retrieval import PAIR_CHUNK, pad_to_bucket, table_rows, user_vectors

__all__ = ["NewIds", "new_ids", "extended_codes", "rate_pairs", "rate_folded"]


@dataclass
class NewIds:
    """The ids of one space (users or items) absent from ``fit`` and described by a serving frame.

    Attributes
    ----------
    index : pandas.Index
        The new ids, in the frame's order; the ``j``-th has code ``n_fitted + j``.
    rows : ndarray of shape (len(index), table width)
        Their table rows: the weighted sum of their features' embeddings.
    frame : pandas.DataFrame
        Their rows of the serving frame (indexed by id), for the columns ``recommend`` shows.
    """

    index: pd.Index
    rows: np.ndarray
    frame: pd.DataFrame


def new_ids(model, space, encoder, frame, vocabulary, name):
    """The :class:`NewIds` of the rows of ``frame`` whose id ``vocabulary`` lacks, or None if none.

    Parameters
    ----------
    model : MultiTaskModel
    space : {"user", "item"}
    encoder : FeatureEncoder
        The encoding fitted on ``fit``'s frame of that space.
    frame : pandas.DataFrame
        A validated side frame, indexed by id.
    vocabulary : IdEncoder
        The fitted ids of that space.
    name : str
        The frame's name in error messages.
    """
    frame = frame[vocabulary.transform(frame.index) < 0]
    if not len(frame):
        return None
    ids, weights = padded_features(encoder.transform(frame, name))
    rows = keras.ops.convert_to_numpy(model.feature_rows(space, pad_to_bucket(ids), pad_to_bucket(weights)))
    return NewIds(frame.index, rows[: len(frame)], frame)


def extended_codes(codes, ids, new, n_fitted):
    """``codes`` (``-1`` for an unknown id) with each id that ``new`` holds coded ``n_fitted + j``."""
    if new is None:
        return codes
    position = new.index.get_indexer(ids)
    return np.where((codes < 0) & (position >= 0), n_fitted + position, codes)


def rate_pairs(model, u, i, history, new_users, new_items):
    """Predicted scaled ratings of pairs in extended codes (all ``>= 0``), some of them new.

    A fitted user's vector holds its SVD++ term (``history``, the seen items), a new user's
    is its features' alone; a fitted item's row holds its own embedding and its features'.
    Each distinct user and item is looked up once, then the pairs are rated in chunks.
    """
    users, user_position = np.unique(u, return_inverse=True)
    vectors, user_rows = _user_side(model, users, history, new_users)
    return _rate(model, vectors, user_rows, user_position, i, new_items)


def rate_folded(model, vectors, biases, i, new_items):
    """Predicted scaled ratings of folded-in users, one per pair: their ``vectors`` and rating ``biases`` (see ``fold_in``), items ``i`` in extended codes."""
    dim = model.embedding_dim
    user_rows = np.zeros((len(vectors), dim + int(model.rating_head == "dot")), np.float32)
    if model.rating_head == "dot":
        user_rows[:, dim] = biases / model.rating_bias_scale  # the model scales its bias column
    return _rate(model, vectors, user_rows, np.arange(len(vectors)), i, new_items)


def _rate(model, vectors, user_rows, user_position, i, new_items):
    """Scaled ratings of pairs (user ``user_position``, item ``i``): each distinct item looked up once, the pairs rated in chunks."""
    items, item_position = np.unique(i, return_inverse=True)
    item_rows = table_rows(model, "item", items, None if new_items is None else new_items.rows)
    terms = model.rater_terms(items)
    out = np.empty(len(i), dtype=np.float64)
    for start in range(0, len(i), PAIR_CHUNK):
        part = pad_to_bucket(np.arange(start, min(start + PAIR_CHUNK, len(i))))
        item_part = item_position[part]
        rated = model.ratings_of_rows(vectors[user_position[part]], user_rows[user_position[part]], item_rows[item_part], None if terms is None else terms[item_part])
        n = min(PAIR_CHUNK, len(i) - start)
        out[start : start + n] = keras.ops.convert_to_numpy(rated)[:n]
    return out


def _user_side(model, codes, history, new_users):
    """User vectors and table rows of distinct extended user ``codes``."""
    rows = table_rows(model, "user", codes, None if new_users is None else new_users.rows)
    fitted = codes < model.n_users
    vectors = np.empty((len(codes), model.embedding_dim), np.float32)
    vectors[fitted] = user_vectors(model, codes[fitted], history)
    if not fitted.all():
        vectors[~fitted] = keras.ops.convert_to_numpy(model.user_vectors_of_rows(rows[~fitted]))
    return vectors, rows

