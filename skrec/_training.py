"""Training the Keras model on a TrainingSet: optimizer and schedule, compile and fit, callbacks.

The callbacks are Keras callbacks: :class:`StopOnDivergence` (a non-finite loss raises
:class:`~skrec.exceptions.TrainingDivergedError`), :class:`ValidationScore` (the default score of
held-out training ratings, for early stopping) and Keras's own ``EarlyStopping``.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from skrec import metrics
from skrec._keras import keras
from skrec._retrieval import predict_scaled, top_k
from skrec._row_sparse import plan_row_sparse
from skrec.exceptions import TrainingDivergedError

__all__ = ["TrainingOptions", "train", "make_optimizer", "multitask_score"]

# Several steps per call into the trainer: the per-step callback and logging work of Keras's
# loop runs once per STEPS_PER_EXECUTION steps.
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


def train(model, data, options, seed):
    """Fit ``model`` on the ``train`` rows of ``data`` (a TrainingSet); return the history.

    On JAX the step is row-sparse (:mod:`skrec._row_sparse`) when the optimizer allows it.

    Returns
    -------
    history : dict of str to list of float
        Keras's per-epoch logs.
    """
    n_batches = -(-len(data.train) // options.batch_size)
    optimizer = make_optimizer(options, steps=n_batches * options.epochs)
    model.compile(optimizer=optimizer, steps_per_execution=min(n_batches, STEPS_PER_EXECUTION))
    plan = plan_row_sparse(model, optimizer)
    batches = data.batches(
        options.batch_size,
        seed,
        history=model.implicit_feedback,
        max_history=options.max_history,
        n_negatives=options.n_negatives if model.retrieval_negatives == "sampled" else None,
        prepare=plan.prepare if plan else None,
    )
    object.__setattr__(model, "_row_sparse_plan", plan)  # read by MultiTaskModel.train_step
    try:
        history = model.fit(
            batches,
            epochs=options.epochs,
            verbose=options.verbose,
            callbacks=_callbacks(data, options),
            shuffle=False,  # the batches shuffle with their own generator
        )
    finally:
        object.__setattr__(model, "_row_sparse_plan", None)
    _forget_optimizer_state(model, optimizer)
    return {name: [float(v) for v in values] for name, values in history.history.items()}


def _forget_optimizer_state(model, optimizer):
    """Give the fitted model an unbuilt copy of its optimizer.

    A warm start trains with a fresh optimizer anyway, and the trained one holds per-row
    slots for the tables (twice their size for Adam) that a pickled or saved model would
    otherwise carry, in a layout Keras cannot rebuild when it loads the model.
    """
    model.compile(optimizer=type(optimizer).from_config(optimizer.get_config()), steps_per_execution=model.steps_per_execution)


def _callbacks(data, options):
    callbacks = [StopOnDivergence()]
    if options.early_stopping:
        callbacks += [
            ValidationScore(*data.held_out_data(), rating_blend=options.rating_blend),
            keras.callbacks.EarlyStopping(
                monitor="val_score", mode="max", patience=options.n_iter_no_change, restore_best_weights=True
            ),
        ]
    return callbacks


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


class ValidationScore(keras.callbacks.Callback):
    """Adds ``val_score``, the default score on held-out training ratings, to each epoch's logs.

    It is what early stopping watches: ``0.5 * NDCG@10 + 0.5 * (1 - RMSE)`` on the ``[0, 1]``
    rating scale, the NDCG graded by the held-out ratings over the items each user did not
    rate in the rest of the training data.
    """

    def __init__(self, users, items, ratings, seen, rating_blend):
        super().__init__()
        self.users, self.items, self.ratings = users, items, ratings
        self.seen, self.rating_blend = seen, rating_blend
        truth = pd.DataFrame({"user": users, "item": items, "gain": ratings})
        self.truth = truth[truth["gain"] > 0]

    def on_epoch_end(self, epoch, logs=None):
        predicted = predict_scaled(self.model, self.users, self.items, self.seen)
        rmse = float(np.sqrt(np.mean((np.clip(predicted, 0.0, 1.0) - self.ratings) ** 2)))
        ndcg = self._ndcg()
        logs["val_score"] = multitask_score(ndcg, rmse)
        logs["val_ndcg"] = ndcg
        logs["val_rmse"] = rmse

    def _ndcg(self):
        if not len(self.truth):
            return 0.0
        codes = np.unique(self.truth["user"].to_numpy())
        rows, ranks, items, _ = top_k(self.model, codes, min(10, self.model.n_items), self.seen, self.rating_blend, self.seen)
        recommended = pd.DataFrame({"user": rows, "rank": ranks, "item": items})
        return metrics.ndcg_at_k(self.truth, recommended, k=10, user_col="user", item_col="item", gain_col="gain")
