"""Training the Keras model on a TrainingSet: optimizer and schedule, compile and fit, callbacks.

The callbacks are Keras callbacks: :class:`StopOnDivergence` (a non-finite loss raises
:class:`~skrec.exceptions.TrainingDivergedError`), :class:`ValidationScore` (the default score of
held-out training ratings, for early stopping), Keras's own ``EarlyStopping`` and, without early
stopping, :class:`AverageWeights` (stochastic weight averaging over the last epochs).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from skrec import metrics
from skrec._interactions import rater_weights
from skrec._item_item import ease_weights
from skrec._keras import keras, use_compilation_cache
from skrec._retrieval import predict_scaled, top_k_users
from skrec._row_sparse import plan_row_sparse
from skrec.exceptions import TrainingDivergedError

__all__ = ["TrainingOptions", "train", "make_optimizer", "multitask_score"]

# Several steps per call into the trainer: the per-step callback and logging work of Keras's
# loop runs once per execution, and on JAX with row-sparse steps the execution's steps run as one
# compiled scan (skrec._scan_steps). An execution has STEPS_PER_EXECUTION steps, or fewer that
# divide an epoch's steps (at least half as many), so that no epoch ends on a shorter scan.
STEPS_PER_EXECUTION = 32


@dataclass
class TrainingOptions:
    """How to train: the estimator's training parameters, validated."""

    optimizer: str
    optimizer_params: dict
    learning_rate: float
    lr_schedule: str
    batch_size: int
    epochs: int
    early_stopping: bool
    n_iter_no_change: int
    rating_blend: float
    verbose: int
    max_history: int
    n_negatives: int
    max_raters: int = 16
    devices: int = 1
    id_dropout: float = 0.0
    swa_fraction: float = 0.0


def _id_dropout(model, rate):
    """``(rate, user rows with features, item rows with features)`` for the batches, or None."""
    featured = {space: model.featured_rows(space) for space in ("user", "item")}
    if not rate or all(rows is None for rows in featured.values()):
        return None
    return rate, featured["user"], featured["item"]


def train(model, data, options, seed):
    """Fit ``model`` on the ``train`` rows of ``data`` (a TrainingSet); return the history.

    On JAX the step is row-sparse (:mod:`skrec._row_sparse`) when the optimizer allows it.

    Returns
    -------
    history : dict of str to list of float
        Keras's per-epoch logs.
    """
    use_compilation_cache()
    # Solved first: it reads the seen pairs only, and a penalty too small for the solve fails
    # before any training time is spent.
    item_item = ease_weights(data.interactions.seen, model.item_item_l2) if model.item_item_weight else None
    n_batches = -(-len(data.train) // options.batch_size)
    optimizer = make_optimizer(options, steps=n_batches * options.epochs)
    # Keras's progress bar advances once per execution: with verbose=1 it gets one step each.
    per_execution = 1 if options.verbose == 1 else steps_per_execution(n_batches)
    model.compile(optimizer=optimizer, steps_per_execution=per_execution)
    plan = plan_row_sparse(model, optimizer)
    dropout = _id_dropout(model, options.id_dropout)
    batches = data.batches(
        options.batch_size,
        seed,
        history=model.implicit_feedback,
        max_history=options.max_history,
        max_raters=options.max_raters if model.item_implicit_feedback else None,
        n_negatives=options.n_negatives if model.retrieval_negatives == "sampled" else None,
        prepare=plan.prepare if plan else None,
        multiple=options.devices,
        id_dropout=dropout,
        shares=model.l2_form == "per_id",
        slot_rows=model.retrieval_negatives != "in_batch" and dropout is None,
    )
    if plan is not None:
        plan.measure(batches)
    object.__setattr__(model, "_row_sparse_plan", plan)  # read by MultiTaskModel.train_step
    try:
        history = model.fit(
            batches,
            epochs=options.epochs,
            verbose=options.verbose,
            callbacks=_callbacks(model, data, options),
            shuffle=False,  # the batches shuffle with their own generator
        )
    finally:
        object.__setattr__(model, "_row_sparse_plan", None)
    if model.item_implicit_feedback:
        # Of the final (averaged or restored) weights, over every pair the estimator has seen
        # (early-stopping rows too), as the SVD++ history at serving time.
        model.set_rater_terms(rater_weights(data.interactions.seen.T.tocsr()))
    if item_item is not None:
        model.set_item_item(item_item)
    _forget_optimizer_state(model, options, n_batches)
    return {name: [float(v) for v in values] for name, values in history.history.items()}


def steps_per_execution(n_batches):
    """Steps per execution for an epoch of ``n_batches``: the most, up to ``STEPS_PER_EXECUTION``, that divide it, if at least half that many.

    >>> steps_per_execution(40), steps_per_execution(488), steps_per_execution(7)
    (20, 32, 7)
    """
    if n_batches <= STEPS_PER_EXECUTION:
        return n_batches
    dividing = (n for n in range(STEPS_PER_EXECUTION, max(STEPS_PER_EXECUTION // 2, 1) - 1, -1) if n_batches % n == 0)
    return next(dividing, STEPS_PER_EXECUTION)


def _forget_optimizer_state(model, options, n_batches):
    """Give the fitted model a new, unbuilt optimizer of the same settings.

    A warm start trains with a fresh optimizer anyway, and the trained one holds per-row
    slots for the tables (twice their size for Adam) that would otherwise stay in memory.
    """
    model.compile(optimizer=make_optimizer(options, steps=n_batches * options.epochs), steps_per_execution=model.steps_per_execution)


def _callbacks(model, data, options):
    callbacks = [StopOnDivergence()]
    if options.early_stopping:
        callbacks += [
            ValidationScore(
                *data.held_out_data(),
                rating_blend=options.rating_blend if data.interactions.has_ratings else 0.0,
                raters=rater_weights(data.raters) if model.item_implicit_feedback else None,
            ),
            keras.callbacks.EarlyStopping(monitor="val_score", mode="max", patience=options.n_iter_no_change),
            RestoreBest(),
        ]
    elif options.swa_fraction:
        averaged = max(1, round(options.swa_fraction * options.epochs))  # the last epochs' share, at least 1
        callbacks.append(AverageWeights(first_epoch=options.epochs - averaged))
    return callbacks


def data_parallel_devices():
    """Number of devices the active Keras distribution splits each batch over (1 without one)."""
    distribution = keras.distribution.distribution()
    if distribution is None:
        return 1
    return int(np.prod(distribution.device_mesh.shape))


def make_optimizer(options, steps):
    """The Keras optimizer named by ``options.optimizer``, with its schedule over ``steps``.

    Raises
    ------
    ValueError
        If the name is not a Keras optimizer or ``optimizer_params`` do not fit it.
    """
    learning_rate = options.learning_rate
    if options.lr_schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(steps, 1))
    try:
        optimizer_class = type(keras.optimizers.get(options.optimizer))
    except (ValueError, TypeError):
        raise ValueError(
            f"`optimizer` must be the name of a Keras optimizer such as 'adam' or 'adagrad'; "
            f"got {options.optimizer!r}."
        ) from None
    params = dict(options.optimizer_params or {})
    try:
        return optimizer_class(learning_rate=learning_rate, **params)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"`optimizer_params` {params} do not fit the {optimizer_class.__name__} optimizer: {exc}") from None


def multitask_score(ndcg, scaled_rmse):
    """The default score: the mean of NDCG@10 and one minus the RMSE on the [0, 1] scale."""
    return 0.5 * ndcg + 0.5 * (1.0 - scaled_rmse)


class StopOnDivergence(keras.callbacks.Callback):
    """Raise :class:`TrainingDivergedError` naming the epoch when the loss stops being finite."""

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            raise TrainingDivergedError(
                f"Training diverged: the loss is {loss} at epoch {epoch + 1}. "
                f"Lower `learning_rate` or `retrieval_weight`."
            )


class RestoreBest(keras.callbacks.Callback):
    """Keep a copy of the weights of the epoch with the best ``val_score``; restore them at the end.

    Keras's ``EarlyStopping(restore_best_weights=True)`` does the same through
    ``model.get_weights()``, which converts Keras variables with ``np.array`` and raises NumPy
    2's ``__array__`` deprecation warning; this copies the variables' values instead.
    """

    def on_train_begin(self, logs=None):
        self.best, self.weights = -np.inf, None

    def on_epoch_end(self, epoch, logs=None):
        if logs["val_score"] > self.best:
            self.best = logs["val_score"]
            self.weights = _values(self.model.weights)

    def on_train_end(self, logs=None):
        if self.weights is not None:
            _assign(self.model.weights, self.weights)


class AverageWeights(keras.callbacks.Callback):
    """Stochastic weight averaging: the fitted weights are the mean of those at the ends of epochs.

    The trainable weights at the end of every epoch from ``first_epoch`` (counted from 0) on are
    summed; at the end of training they are replaced by their mean (Izmailov et al., "Averaging
    weights leads to wider optima and better generalization", UAI 2018). The sum costs one copy
    of the weights and one pass over them per averaged epoch, not per step. Written here because
    Keras 3 has no weight averaging but the optimizers' per-step EMA (``use_ema``), which
    measured worse on MovieLens (issue 12's note) and does not fit the row-sparse step.
    """

    def __init__(self, first_epoch):
        super().__init__()
        self.first_epoch = first_epoch

    def on_train_begin(self, logs=None):
        self.total, self.count = None, 0

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.first_epoch:
            return
        values = _values(self.model.trainable_weights)
        if self.total is None:
            self.total = values
        else:
            for total, value in zip(self.total, values):
                total += value
        self.count += 1

    def on_train_end(self, logs=None):
        if self.count:
            _assign(self.model.trainable_weights, [total / self.count for total in self.total])


def _values(variables):
    """NumPy copies of Keras variables' values (``get_weights`` warns under NumPy 2; see RestoreBest)."""
    return [np.array(variable.value) for variable in variables]


def _assign(variables, values):
    for variable, value in zip(variables, values):
        variable.assign(value.astype(variable.dtype))


class ValidationScore(keras.callbacks.Callback):
    """Adds ``val_score``, the default score on held-out training ratings, to each epoch's logs.

    It is what early stopping watches: ``0.5 * NDCG@10 + 0.5 * (1 - RMSE)`` on the ``[0, 1]``
    rating scale, the NDCG graded by the held-out ratings over the items each user did not
    rate in the rest of the training data.
    """

    def __init__(self, users, items, ratings, weights, seen, rating_blend, raters=None):
        super().__init__()
        self.raters = raters
        self.rated = ~np.isnan(ratings) & (weights > 0)
        self.users, self.items, self.ratings, self.weights = users, items, ratings, weights
        self.seen, self.rating_blend = seen, rating_blend
        gains = np.where(np.isnan(ratings), 1.0, ratings) * weights  # an unrated interaction is relevant
        truth = pd.DataFrame({"user": users, "item": items, "gain": gains})
        self.truth = truth[truth["gain"] > 0]

    def on_epoch_end(self, epoch, logs=None):
        if self.raters is not None:
            self.model.set_rater_terms(self.raters)  # the rater terms of this epoch's weights
        ndcg = self._ndcg()
        logs["val_ndcg"] = ndcg
        logs["val_score"] = ndcg
        if self.rated.any():
            rows = self.rated
            predicted = predict_scaled(self.model, self.users[rows], self.items[rows], self.seen)
            error = (np.clip(predicted, 0.0, 1.0) - self.ratings[rows]) ** 2
            logs["val_rmse"] = float(np.sqrt(np.average(error, weights=self.weights[rows])))
            logs["val_score"] = multitask_score(ndcg, logs["val_rmse"])

    def _ndcg(self):
        if not len(self.truth):
            return 0.0
        codes = np.unique(self.truth["user"].to_numpy())
        rows, ranks, items, _ = top_k_users(self.model, codes, min(10, self.model.n_items), self.seen, self.rating_blend, self.seen)
        recommended = pd.DataFrame({"user": rows, "rank": ranks, "item": items})
        return metrics.ndcg_at_k(self.truth, recommended, k=10, user_col="user", item_col="item", gain_col="gain")
