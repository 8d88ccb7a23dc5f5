"""Row-sparse training on JAX: a training step that reads and updates only the embedding rows its batch names.

Keras's optimizers on JAX update every row of every embedding table at every step, so a step
over 10^6 users costs as much as a pass over the whole user table. This module replaces the
model's ``train_step`` (Keras's JAX trainer hook, on its stateless API) with one that:

1. on the host, for each id space of the model (users, items, history items), lists the
   distinct ids of the batch (sorted, padded to a fixed length with an out-of-range id)
   and where each input id sits in that list (:meth:`RowSparsePlan.prepare`);
2. on the device, gathers those rows of each table (a compact copy), runs the model on them,
   and takes the gradient with respect to the compact rows: repeated ids get their gradients
   summed by the gather's transpose;
3. updates the compact rows and their optimizer slots with the optimizer's own rule, and
   scatters them back in place (the state buffers are donated); the other variables (maps,
   MLP, global mean, small dense tables) go through the Keras optimizer unchanged.

The rules are those of Keras's optimizers applied to the rows present in the batch. For SGD
without momentum and for Adagrad this is exactly the dense update (a row without gradient does
not move). For Adam it is "lazy Adam" (TensorFlow Addons' ``LazyAdam``, PyTorch's
``SparseAdam``): the moments of a row absent from the batch are not decayed and the row does
not move, where dense Adam keeps moving it on its momentum; the bias correction uses the
global step. SGD with momentum is lazy in the same way. Other optimizers or options
(gradient clipping, weight decay, AMSGrad, EMA, loss scaling), other backends and Keras
distributions use Keras's dense step: :func:`plan_row_sparse` returns None for them.

The compact copies and the host-side distinct ids are written here because neither Keras nor
keras-rs offers row-sparse optimizer updates on JAX (keras-team/keras#18420, #19992; keras-rs
``DistributedEmbedding`` needs TPU SparseCores).
"""

import numpy as np
import pandas as pd

from skrec._interactions import _round_up
from skrec._keras import keras

__all__ = ["RowSparsePlan", "plan_row_sparse"]

# Slot variables of each supported optimizer class, with their initial values.
_SLOTS = {"Adam": ("momentum", "velocity"), "Adagrad": ("accumulator",), "SGD": ("momentum",)}
# A space's rows are padded to the most distinct ids of MEASURED_BATCHES batches times
# DISTINCT_MARGIN, rounded up to DISTINCT_ROUNDING (RowSparsePlan.measure).
MEASURED_BATCHES = 8
DISTINCT_MARGIN = 1.15
DISTINCT_ROUNDING = 128
_UNSUPPORTED = ("clipnorm", "clipvalue", "global_clipnorm", "weight_decay", "use_ema", "loss_scale_factor", "gradient_accumulation_steps")


def plan_row_sparse(model, optimizer):
    """A :class:`RowSparsePlan` for training ``model`` with ``optimizer``, or None.

    None means Keras's own (dense) training step is used: another backend than JAX, a Keras
    distribution, or an optimizer or option without a row-sparse rule here.
    """
    if keras.backend.backend() != "jax" or keras.distribution.distribution() is not None:
        return None
    name = type(optimizer).__name__
    if name not in _SLOTS or any(getattr(optimizer, option, None) for option in _UNSUPPORTED):
        return None
    if getattr(optimizer, "amsgrad", False):
        return None
    return RowSparsePlan(model, optimizer)


class RowSparsePlan:
    """Which tables a step updates by rows, their optimizer slots, and the step itself.

    Creating the plan builds ``optimizer`` on the model's other trainable variables and adds
    one slot variable per table and slot to it (so that the slots live in the optimizer's
    state, which the JAX trainer carries from step to step).
    """

    def __init__(self, model, optimizer):
        from skrec._model import ID_INPUTS

        if not model.built:
            model.build()
        self.kind = type(optimizer).__name__
        self.spaces = {space: model.table_names(space) for space in model.sparse_spaces()}
        self.keys = {space: [k for k in ID_INPUTS[space]] for space in self.spaces}
        self.sizes = {space: model.space_size(space) for space in self.spaces}
        tables = {name: getattr(model, name).embeddings for names in self.spaces.values() for name in names}
        trainable = model.trainable_variables
        self.table_index = {name: _position(trainable, var) for name, var in tables.items()}
        self.dense_index = [i for i in range(len(trainable)) if i not in set(self.table_index.values())]
        optimizer.build([trainable[i] for i in self.dense_index])
        self.slot_index = {name: self._add_slots(optimizer, var) for name, var in tables.items()}
        self.optimizer = optimizer
        self.lengths = {}

    def _add_slots(self, optimizer, variable):
        names = _SLOTS[self.kind] if self.kind != "SGD" or optimizer.momentum else ()
        initial = getattr(optimizer, "initial_accumulator_value", 0.0) if self.kind == "Adagrad" else 0.0
        slots = [optimizer.add_variable_from_reference(variable, name, initializer=keras.initializers.Constant(initial)) for name in names]
        return [_position(optimizer.variables, slot) for slot in slots]

    # ------------------------------------------------------------------ host
    def measure(self, batches, n_batches=MEASURED_BATCHES):
        """Pad each space's rows to about the most distinct ids a batch of ``batches`` holds (:attr:`lengths`).

        Reads ``n_batches`` batches spread over an epoch and sets each space's length to the
        most distinct ids among them times ``DISTINCT_MARGIN``, rounded up. A batch's distinct
        ids are far fewer than the ids it names (on a set of 10^6 ratings of 10^5 users: about
        22,000 raters among 62,000 rater entries), and padding rows cost a gather and a scatter
        of every table and slot. A batch with more distinct ids than its space's length is
        padded as before (:meth:`prepare`), a second shape that compiles once; the updates
        are the same whatever the padding.
        """
        indices = np.unique(np.linspace(0, len(batches) - 1, min(n_batches, len(batches))).astype(int))
        most = dict.fromkeys(self.sizes, 0)
        for index in indices:
            inputs = batches[index][0]  # padding ids are n_rows, whatever the lengths
            for space, size in self.sizes.items():
                most[space] = max(most[space], int(np.count_nonzero(inputs[f"rows:{space}"] < size)))
        self.lengths = {space: _round_up(int(DISTINCT_MARGIN * n) + 1, DISTINCT_ROUNDING) for space, n in most.items()}

    def prepare(self, inputs):
        """Add, for each id space, its distinct ids (``rows:<space>``) and positions (``index:<key>``).

        The distinct ids are sorted (sorted gathers and scatters are faster on the device) and
        padded with the out-of-range id ``n_rows``, whose scatter is dropped, to a length that
        is the same for every batch: the space's measured length (:meth:`measure`) where its
        distinct ids fit, else the number of ids of the space in the batch, or the rows of its
        tables if fewer (a batch of 1,024 ratings lists up to 33,792 raters, but MovieLens 100k
        has 943 users: the step then updates 943 rows, not 33,792).
        """
        out = dict(inputs)
        for space, keys in self.keys.items():
            keys = [k for k in keys if k in inputs]
            ids = np.concatenate([np.asarray(inputs[k]).ravel() for k in keys])
            rows, inverse = _sorted_unique(ids, self.sizes[space])
            length = self._length(space, len(ids), len(rows))
            out[f"rows:{space}"] = np.concatenate([rows, np.full(length - len(rows), self.sizes[space])]).astype("int32")
            for key, part in zip(keys, np.split(inverse.astype("int32"), np.cumsum([np.size(inputs[k]) for k in keys])[:-1])):
                out[f"index:{key}"] = part.reshape(np.shape(inputs[key]))
        return out

    def _length(self, space, n_ids, n_distinct):
        """Rows to pad a space's distinct ids to: its measured length when they fit in it, else every id the batch names (at most the table's rows)."""
        full = min(n_ids, self.sizes[space])
        measured = self.lengths.get(space, full)
        return measured if n_distinct <= measured < full else full

    # ---------------------------------------------------------------- device
    def train_step(self, model, state, data):
        """Keras's JAX ``train_step`` contract: ``(state, data) -> (logs, state)``."""
        import jax

        trainable, non_trainable, optimizer_vars, metrics_vars = (list(part) for part in state)
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        compact = {name: _gather(trainable[i], x[f"rows:{space}"]) for space, names in self.spaces.items() for name, i in self._tables(names)}
        dense = [trainable[i] for i in self.dense_index]

        def loss_fn(compact, dense):
            values = list(trainable)
            for i, value in zip(self.dense_index, dense):
                values[i] = value
            rows = self._rows(compact, x)
            y_pred, non_trainable_new = model.stateless_call(values, non_trainable, x, training=True, rows=rows)
            loss, (_, _, metrics_new) = model.stateless_compute_loss(
                values, non_trainable_new, metrics_vars, x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
            return loss, (y_pred, non_trainable_new, metrics_new)

        (loss, (y_pred, non_trainable, metrics_vars)), (compact_grads, dense_grads) = jax.value_and_grad(
            loss_fn, argnums=(0, 1), has_aux=True
        )(compact, dense)
        learning_rate, step = self._schedule(optimizer_vars)
        dense, optimizer_vars = self.optimizer.stateless_apply(optimizer_vars, dense_grads, dense)
        for i, value in zip(self.dense_index, dense):
            trainable[i] = value
        self._apply_rows(trainable, optimizer_vars, compact, compact_grads, x, learning_rate, step)
        logs, metrics_vars = model._update_metrics_variables(metrics_vars, loss, x, y, y_pred, sample_weight)
        return logs, (trainable, non_trainable, optimizer_vars, metrics_vars)

    def _tables(self, names):
        return [(name, self.table_index[name]) for name in names]

    def _rows(self, compact, x):
        """``{input key: {table: rows}}``: each input id's row, read from the compact copies."""
        return {
            key: {name: compact[name][x[f"index:{key}"]] for name in names}
            for space, names in self.spaces.items()
            for key in self.keys[space]
            if key in x
        }

    def _schedule(self, optimizer_vars):
        """The learning rate and the 1-based step number before this step's update."""
        mapping = list(zip(self.optimizer.variables, optimizer_vars))
        with keras.StatelessScope(state_mapping=mapping):
            learning_rate = keras.ops.convert_to_tensor(self.optimizer.learning_rate)
            step = keras.ops.convert_to_tensor(self.optimizer.iterations) + 1
        return learning_rate, step

    def _apply_rows(self, trainable, optimizer_vars, compact, grads, x, learning_rate, step):
        for space, names in self.spaces.items():
            rows = x[f"rows:{space}"]
            for name, i in self._tables(names):
                slots = [_gather(optimizer_vars[j], rows) for j in self.slot_index[name]]
                value, slots = self._rule(compact[name], grads[name], slots, learning_rate, step)
                trainable[i] = _scatter(trainable[i], rows, value)
                for j, slot in zip(self.slot_index[name], slots):
                    optimizer_vars[j] = _scatter(optimizer_vars[j], rows, slot)

    def _rule(self, value, grad, slots, learning_rate, step):
        """One optimizer update of some rows: Keras's formulas, applied to those rows only."""
        opt, lr = self.optimizer, keras.ops.cast(learning_rate, value.dtype)
        if self.kind == "Adam":
            (m, v), t = slots, keras.ops.cast(step, value.dtype)
            alpha = lr * keras.ops.sqrt(1 - opt.beta_2**t) / (1 - opt.beta_1**t)
            m = m + (grad - m) * (1 - opt.beta_1)
            v = v + (grad * grad - v) * (1 - opt.beta_2)
            return value - m * alpha / (keras.ops.sqrt(v) + opt.epsilon), [m, v]
        if self.kind == "Adagrad":
            (accumulator,) = slots
            accumulator = accumulator + grad * grad
            return value - lr * grad / keras.ops.sqrt(accumulator + opt.epsilon), [accumulator]
        if not slots:
            return value - grad * lr, []
        m = slots[0] * opt.momentum - grad * lr
        return value + (m * opt.momentum - grad * lr if opt.nesterov else m), [m]


def _sorted_unique(ids, n_rows):
    """``np.unique(ids, return_inverse=True)`` for ids in ``[0, n_rows)``, without sorting every id.

    A table not much longer than the list is marked in a boolean mask (linear in both); a
    longer one is hashed by ``pandas.factorize`` and only its distinct ids are sorted. Either is
    several times faster than ``np.unique``'s sort of every id.
    """
    if n_rows <= 8 * len(ids):
        present = np.zeros(n_rows, dtype=bool)
        present[ids] = True
        return np.flatnonzero(present), (np.cumsum(present) - 1)[ids]
    codes, distinct = pd.factorize(ids)
    order = np.argsort(distinct)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return distinct[order], rank[codes]


def _position(variables, variable):
    return next(i for i, v in enumerate(variables) if v is variable)


def _gather(table, rows):
    return table.at[rows].get(mode="clip", indices_are_sorted=True, unique_indices=True)


def _scatter(table, rows, values):
    return table.at[rows].set(values, mode="drop", indices_are_sorted=True, unique_indices=True)
