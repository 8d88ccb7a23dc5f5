"""The steps of ``fit``: side features, the training set, the recipe, the Keras model and its training.

Each step is a function of the validated parameters (``get_params()``), the data of this fit
and, for a warm start, the fitted state it continues (:class:`Fitted`); none of them reads an
``"auto"`` parameter: the model and the training read the :class:`~skrec._recipe.Recipe`.
"""

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from skrec._features import SideFeatures, encode_features, padded_features, unpadded_features
from skrec._interactions import Interactions, build_training_set
from skrec._item_item import validated_l2
from skrec._model import MultiTaskModel, check_same_architecture, copy_weights
from skrec._recipe import DataStats, Recipe, resolve_recipe
from skrec._training import TrainingOptions, data_parallel_devices, train

__all__ = ["Fitted", "check_devices", "side_features", "training_set", "recipe_for", "build_model", "train_model", "merged_history", "item_info"]


@dataclass(frozen=True)
class Fitted:
    """The fitted state that a warm start continues (the estimator's fitted attributes)."""

    model: MultiTaskModel
    interactions: Interactions
    encoders: dict
    recipe: Recipe
    history: dict
    item_info: object


def side_features(params, frames, fitted=None):
    """Step 1: the features of each side frame, ``{"user": SideFeatures or None, "item": ...}``.

    A warm start keeps the fitted encoding (so the feature embeddings it continues mean the
    same): the frames are encoded by it, and a side fitted without features stays so.
    """
    if fitted is not None:
        return {s: None if (enc := fitted.encoders.get(s)) is None else SideFeatures.of(frames[s], enc, f"`{s}s`") for s in frames}
    specs = {"user": params["user_features"], "item": params["item_features"]}
    return {s: None if frames[s] is None or specs[s] is None else encode_features(frames[s], specs[s]) for s in frames}


def training_set(params, user_ids, item_ids, ratings, weights, seed, features, fitted=None):
    """Step 2: encode the interactions (extending the fitted vocabularies when warm).

    The ids of a side frame with features get rows too (cold-start users and items).
    """
    extra = {space: None if side is None else side.index for space, side in features.items()}
    return build_training_set(
        user_ids,
        item_ids,
        ratings,
        weights,
        previous=None if fitted is None else fitted.interactions,
        validation_fraction=params["validation_fraction"] if params["early_stopping"] else None,
        seed=seed,
        extra_users=extra["user"],
        extra_items=extra["item"],
    )


def check_devices(batch_size):
    """Under a data-parallel distribution, every batch must split evenly over the devices."""
    devices = data_parallel_devices()
    if int(batch_size) % devices:
        raise ValueError(
            f"batch_size={batch_size} cannot be split evenly over the {devices} devices of the "
            f"active keras.distribution: set batch_size to a multiple of {devices}, e.g. "
            f"{int(batch_size) // devices * devices or devices}."
        )


def recipe_for(params, data, seed, fitted=None):
    """Step 3: the recipe of this fit (:func:`~skrec._recipe.resolve_recipe`); a warm start keeps the fitted one.

    EASE's penalty, when ``"auto"``, is validated on a holdout of the seen pairs drawn with ``seed``.
    """
    validate = functools.partial(validated_l2, data.interactions.seen, seed)
    return resolve_recipe(params, DataStats.of(data), None if fitted is None else fitted.recipe, validate)


def build_model(params, recipe, data, seed, features, fitted=None):
    """Step 4: a new Keras model sized for ``data`` (holding the fitted weights when warm)."""
    index = {"user": data.interactions.users.index, "item": data.interactions.items.index}
    padded = {s: None if f is None else padded_features(_feature_rows(s, f, index[s], fitted)) for s, f in features.items()}
    model = MultiTaskModel(
        n_users=data.n_users,
        n_items=data.n_items,
        embedding_dim=params["embedding_dim"],
        layer_sizes=tuple(params["layer_sizes"]),
        rating_head=params["rating_head"],
        implicit_feedback=params["implicit_feedback"],
        retrieval_negatives=recipe.retrieval_negatives,
        retrieval_weight=params["retrieval_weight"],
        ranking_weight=params["ranking_weight"],
        l2=recipe.l2,
        rating_mean=data.rating_mean(),
        seed=seed,
        user_feature_names=() if features["user"] is None else features["user"].names,
        item_feature_names=() if features["item"] is None else features["item"].names,
        user_feature_width=1 if padded["user"] is None else padded["user"][0].shape[1],
        item_feature_width=1 if padded["item"] is None else padded["item"][0].shape[1],
        rating_bias_scale=recipe.rating_bias_scale,
        item_implicit_feedback=recipe.item_implicit_feedback,
        rater_penalty=recipe.rater_penalty,
        rater_scale=recipe.rater_scale,
        item_item_weight=recipe.item_item_weight if recipe.item_item else 0.0,
        item_item_l2=recipe.item_item_l2,
        l2_form=recipe.l2_form,
    )
    _initialise(model, fitted)
    for space, rows in padded.items():
        if rows is not None:
            model.set_features(space, *rows)
            model.mark_cold(space, data.interactions.cold(space))
    return model


def _initialise(model, fitted):
    """Build ``model``'s weights: fresh, or the fitted model's (whose architecture it must share)."""
    if fitted is None:
        model.build()
        return
    check_same_architecture(fitted.model, model)
    copy_weights(fitted.model, model)


def _feature_rows(space, side, index, fitted):
    """Feature rows of the ids ``index``: the frame's, or when warm the fitted model's for ids it does not list."""
    rows = side.rows(index)
    if fitted is None:
        return rows
    old = unpadded_features(*fitted.model.feature_arrays(space), rows.shape[1])
    old = sp.vstack([old, sp.csr_matrix((len(index) - old.shape[0], rows.shape[1]), dtype=np.float32)])
    listed = (side.index.get_indexer(index) >= 0).astype(np.float32)
    return sp.csr_matrix(sp.diags(listed) @ rows + sp.diags(1.0 - listed) @ old, dtype=np.float32)


def train_model(params, recipe, model, data, seed):
    """Step 5: train ``model`` on ``data`` with the recipe's schedule; return the per-epoch history."""
    options = TrainingOptions(
        optimizer=params["optimizer"],
        optimizer_params=params["optimizer_params"],
        learning_rate=recipe.learning_rate,
        lr_schedule=recipe.lr_schedule,
        batch_size=recipe.batch_size,
        epochs=int(params["epochs"]),
        early_stopping=bool(params["early_stopping"]),
        n_iter_no_change=int(params["n_iter_no_change"]),
        rating_blend=float(params["rating_blend"]),
        verbose=int(params["verbose"]),
        max_history=int(params["max_history"]),
        max_raters=int(params["max_raters"]),
        n_negatives=int(params["n_negatives"]),
        devices=data_parallel_devices(),
        id_dropout=float(params["id_dropout"]),
        swa_fraction=recipe.swa_fraction,
    )
    return train(model, data, options, seed)


def merged_history(history, fitted=None):
    """This fit's history, appended to the earlier fits' when warm."""
    if fitted is None:
        return history
    names = list(fitted.history) + [name for name in history if name not in fitted.history]
    return {name: fitted.history.get(name, []) + history.get(name, []) for name in names}


def item_info(item_frame, data, fitted=None):
    """The ``items`` frame restricted to the catalogue; warm, the fitted rows of the ids it does not list stay."""
    earlier = None if fitted is None else fitted.item_info
    if item_frame is None:
        item_frame = earlier
    elif earlier is not None:
        kept = earlier[~earlier.index.isin(item_frame.index)]
        item_frame = pd.concat([item_frame, kept]) if len(kept) else item_frame
    return None if item_frame is None else item_frame.reindex(data.interactions.items.index)
