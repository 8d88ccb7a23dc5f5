"""The Keras model behind MultiTaskRecommender: shared user/item embeddings, a rating head and a retrieval head.

This module knows only Keras, keras-rs and NumPy. It receives integer indices (already encoded
by the estimator, ``0 <= index < n_users`` and ``0 <= index < n_items``) and ratings already
scaled to ``[0, 1]``; it never sees pandas, raw ids or scikit-learn.
"""

import numpy as np

from skrec._initializers import HostRandom, ZeroTail
from skrec._keras import keras, keras_rs
from skrec._scan_steps import scanned_train_function

ops = keras.ops
# Sorted segment ids make JAX's segment sums about a third faster on CPU; Keras's TensorFlow
# backend refuses ``sorted=True`` with ``num_segments``.
_SORTED_SEGMENTS = keras.backend.backend() == "jax"

__all__ = ["MultiTaskModel", "check_same_architecture", "copy_weights", "model_state", "model_from_state"]

# The embedding table of each id space, and the inputs holding such ids. A training step
# touches only the rows its batch names: the row-sparse training step of `skrec._row_sparse`
# gathers, updates and scatters back exactly those rows. A row packs everything the model
# keeps per id: the user table's row is [embedding | rating bias], the item table's
# [embedding | rating bias | retrieval bias] (the biases only where the heads have them), so
# that a step gathers and scatters one array per space.
TABLES = {"user": ("user_embedding",), "item": ("item_embedding",), "history": ("implicit_embedding",), "rater": ("rater_embedding",)}
ID_INPUTS = {"user": ("user",), "item": ("item", "candidate"), "history": ("history_item", "penalty_item"), "rater": ("rater_user", "penalty_user")}

# The values of ``l2_form``.
L2_FORMS = ("per_interaction", "per_id")

# A logit that removes a candidate (padding) from a softmax.
_REMOVED = -1e9


@keras.saving.register_keras_serializable(package="skrec")
class MultiTaskModel(keras.Model):
    """User and item embeddings shared by a retrieval task and a rating task.

    **User vector.** Row ``u`` of the user table, plus, with ``implicit_feedback``, the
    SVD++ term: a weighted sum of rows of a third item table ``y`` over the user's history,
    ``sum_j w_j y_j``. The caller passes the history as flat lists (``history_item``,
    ``history_row``: the batch row it belongs to, in ascending order, ``history_weight``); with weights
    ``|N(u)|^-1/2`` over the items ``N(u)`` the user rated it is the SVD++ term exactly. The
    cost is that of the history given, never of the data set.

    **Item vector of the rating head.** Row ``i`` of the item table, plus, with
    ``item_implicit_feedback``, the item-side counterpart of the SVD++ term: a weighted sum of
    rows of a user table ``z`` over the item's raters, ``sum_v w_v z_v`` (weights
    ``|R(i)|^-1/2`` over the users ``R(i)`` who interacted with it). While training, the caller
    passes the raters as flat lists (``rater_user``, ``rater_row`` ascending, ``rater_weight``, and
    ``item_slot`` mapping each row to its list); otherwise the term is read from ``rater_term``,
    a non-trainable ``[n_items, dim]`` weight set from the full rater lists by
    :meth:`set_rater_terms`. Only the rating head reads it; the retrieval head's item vector is
    the table row alone.

    **Rating head** (``rating_head``):

    * ``"mlp"``: the Keras-RS example's MLP over the concatenated user and item vectors;
    * ``"dot"``: biased matrix factorisation, ``mean + b_u + b_i + user · item``.

    **Retrieval head.** The score of (user, item) is the dot product of the user and item
    vectors (``"in_batch"`` negatives, the Keras-RS example) or, with ``"catalogue"`` or
    ``"sampled"`` negatives, of their images under two separate linear maps plus a learned
    item bias. Its loss is the softmax cross-entropy of the rated item against:

    * ``"in_batch"``: the other items of the batch, summed over the batch as in the Keras-RS
      example;
    * ``"catalogue"``: every item, averaged over the batch;
    * ``"sampled"``: the ``candidate`` items of the inputs (items drawn from the batch's and
      uniformly from the catalogue, each listed once), with every logit corrected by the log
      of its item's sampling probability (keras-rs ``SamplingProbabilityCorrection``, the
      log-Q correction of Yi et al., "Sampling-bias-corrected neural modeling for large
      corpus item recommendations", RecSys 2019), averaged over the batch. This is mixed negative sampling (Yang et
      al., "Mixed negative sampling for learning two-tower neural networks in
      recommendations", WWW 2020); its cost does not grow with the catalogue.

    **Loss.** ``retrieval_weight * retrieval_loss + ranking_weight * rating_loss + l2 *
    penalty``, where ``rating_loss`` is the mean squared error on scaled ratings and
    ``penalty`` a weighted mean over the batch of a per-row penalty (``l2_form``):

    * ``"per_interaction"``: the squared norms of the row's user and item vectors and biases
      (and ``rater_penalty`` times that of the rater term), so that an id is penalised once
      per interaction (the "weighted-lambda" regularisation of Zhou et al., "Large-scale
      parallel collaborative filtering for the Netflix prize", AAIM 2008);
    * ``"per_id"``: the same user part (user vector and bias, and the user's own row ``z_u``
      of the rater table) times the row's ``user_share`` input, and item part (item vector
      and bias, and the item's own row ``y_i`` of the implicit table) times its
      ``item_share``; with shares inversely proportional to the id's training rows, every id
      is penalised the same whatever its number of interactions, as by a Gaussian prior (MAP
      estimation; Salakhutdinov and Mnih, "Probabilistic matrix factorization", NeurIPS
      2007). The inputs must then hold ``user_share`` and ``item_share`` (float [batch]) and,
      with the implicit tables, ``penalty_item`` and ``penalty_user`` (each row's item and
      user, whose ``y`` and ``z`` rows are penalised).

    Args:
        n_users: int. Rows of the user table.
        n_items: int. Rows of the item tables.
        embedding_dim: int. Width of the embeddings.
        layer_sizes: tuple of int. Hidden layers of the ``"mlp"`` rating head.
        rating_head: str. ``"mlp"`` or ``"dot"``.
        implicit_feedback: bool. Add the SVD++ term to the user vector; the inputs must then
            hold ``history_item``, ``history_row`` and ``history_weight``.
        item_implicit_feedback: bool. Add the rater term to the rating head's item vector.
        retrieval_negatives: str. ``"in_batch"``, ``"catalogue"`` or ``"sampled"``.
        retrieval_weight: float. Weight of the retrieval loss.
        ranking_weight: float. Weight of the rating loss.
        l2: float. Weight of the L2 penalty.
        rating_mean: float. Initial global mean of the ``"dot"`` head (scaled ratings).
        seed: int or None. Seed of every initializer.
        user_feature_names, item_feature_names: sequence of str. The side features; each
            user (item) table row gets the weighted sum of its features' embeddings (keras-rs
            ``EmbedReduce``) added, with the padded feature ids and weights of every row held
            as non-trainable weights (set by :meth:`set_features`). Empty: no features.
        user_feature_width, item_feature_width: int. Most features of one row.
        rating_bias_scale: float in (0, 1]. The rating biases of the ``"dot"`` head are their
            table entries times this factor. With Adam, whose steps are about the learning
            rate whatever a gradient's scale, they then move this factor times slower than
            the rest: a learning-rate multiplier by reparameterisation, for the only
            parameters that the rating loss alone trains.
        rater_penalty: float >= 0. The rater terms' weight in the ``"per_interaction"``
            penalty, relative to the vectors'.
        rater_scale: float in (0, 1]. The rater table's rows are its entries times this
            factor (entries initialised at ``1 / rater_scale`` times the other tables'
            scale): with Adam they move this factor times slower than the other tables'
            rows, a learning-rate multiplier by reparameterisation, as ``rating_bias_scale``.
        l2_form: str. ``"per_interaction"`` or ``"per_id"``: see **Loss**.

    Inputs are ``{"user": int [batch], "item": int [batch]}``, plus the history lists and,
    when training with ``"sampled"`` negatives, ``"candidate": int [n]``,
    ``"candidate_probability": float [n]``, ``"own_probability": float [batch]`` and
    ``"positive": int [batch]`` (see :meth:`_sampled_logits`). ``call`` returns ``{"rating": [batch],
    "user_vector": [batch, dim], "item_vector": [batch, dim]}`` and, when training,
    ``"retrieval_logits"`` and ``"positive"`` (the column of each row's own item), or, for
    batches with ``"slot_row"`` (the catalogue or sampled softmax scored once per user),
    each row's ``"retrieval_normaliser"`` and ``"retrieval_own"`` logit (see
    :meth:`_catalogue_terms_per_slot`).
    """

    def __init__(
        self,
        n_users,
        n_items,
        embedding_dim=32,
        layer_sizes=(256, 128),
        rating_head="mlp",
        implicit_feedback=False,
        retrieval_negatives="in_batch",
        retrieval_weight=1.0,
        ranking_weight=1.0,
        l2=0.0,
        rating_mean=0.5,
        seed=None,
        user_feature_names=(),
        item_feature_names=(),
        user_feature_width=1,
        item_feature_width=1,
        rating_bias_scale=1.0,
        item_implicit_feedback=False,
        rater_penalty=1.0,
        rater_scale=1.0,
        item_item_weight=0.0,
        item_item_l2=500.0,
        l2_form="per_interaction",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if l2_form not in L2_FORMS:
            raise ValueError(f"`l2_form` must be one of {L2_FORMS}. Received: l2_form={l2_form!r}")
        if rating_head not in ("mlp", "dot"):
            raise ValueError(f"`rating_head` must be 'mlp' or 'dot'. Received: rating_head={rating_head!r}")
        if retrieval_negatives not in ("in_batch", "catalogue", "sampled"):
            raise ValueError(
                f"`retrieval_negatives` must be 'in_batch', 'catalogue' or 'sampled'. Received: {retrieval_negatives!r}"
            )
        self.n_users = int(n_users)
        self.n_items = int(n_items)
        self.embedding_dim = int(embedding_dim)
        self.layer_sizes = tuple(int(size) for size in layer_sizes)
        self.rating_head = rating_head
        self.implicit_feedback = bool(implicit_feedback)
        self.retrieval_negatives = retrieval_negatives
        self.retrieval_weight = float(retrieval_weight)
        self.ranking_weight = float(ranking_weight)
        self.l2 = float(l2)
        self.rating_mean = float(rating_mean)
        self.seed = seed
        self.feature_names = {"user": [str(n) for n in user_feature_names], "item": [str(n) for n in item_feature_names]}
        self.feature_width = {"user": int(user_feature_width), "item": int(item_feature_width)}
        self.rating_bias_scale = float(rating_bias_scale)
        self.item_implicit_feedback = bool(item_implicit_feedback)
        self.rater_penalty = float(rater_penalty)
        self.rater_scale = float(rater_scale)
        if not 0 < self.rater_scale <= 1:
            raise ValueError(f"`rater_scale` must be in (0, 1]. Received: rater_scale={rater_scale!r}")
        self.item_item_weight = float(item_item_weight)
        self.item_item_l2 = float(item_item_l2)
        self.l2_form = l2_form
        self._make_layers(_seed_sequence(seed, 32))  # more than any configuration draws
        # Per-epoch averages of the two task losses, reported in the training history.
        self.retrieval_loss_tracker = keras.metrics.Mean(name="retrieval_loss")
        self.rating_loss_tracker = keras.metrics.Mean(name="rating_loss")

    def _make_layers(self, seeds):
        dim, mapped = self.embedding_dim, self.retrieval_negatives != "in_batch"
        if self.rating_head == "mlp":
            # The Keras-RS example's layers and initializers.
            table_init = lambda scale=0.05: HostRandom("uniform", scale, seed=next(seeds))  # noqa: E731
        else:
            table_init = lambda scale=0.05: HostRandom("normal", scale, seed=next(seeds))  # noqa: E731
        glorot = lambda: HostRandom("glorot_uniform", seed=next(seeds))  # noqa: E731
        biases = int(self.rating_head == "dot")
        self.user_embedding = _table(self.n_users, dim, biases, table_init(), "user_embedding")
        self.item_embedding = _table(self.n_items, dim, biases + int(mapped), table_init(), "item_embedding")
        if self.rating_head == "mlp":
            hidden = [keras.layers.Dense(size, activation="relu", kernel_initializer=glorot()) for size in self.layer_sizes]
            self.rating_mlp = keras.Sequential(hidden + [keras.layers.Dense(1, kernel_initializer=glorot())], name="rating_head")
        for space, width in (("user", dim + biases), ("item", dim + biases + int(mapped))):
            if self.feature_names[space]:
                init = ZeroTail(table_init(), width - dim) if width > dim else table_init()
                layer = keras_rs.layers.EmbedReduce(len(self.feature_names[space]), width, combiner="sum", embeddings_initializer=init, name=f"{space}_feature_embedding")
                setattr(self, f"{space}_feature_embedding", layer)
        if self.implicit_feedback:
            self.implicit_embedding = keras.layers.Embedding(self.n_items, dim, embeddings_initializer=table_init(), name="implicit_embedding")
        if mapped:
            self.user_map = keras.layers.Dense(dim, use_bias=False, kernel_initializer=glorot(), name="user_map")
            self.item_map = keras.layers.Dense(dim, use_bias=False, kernel_initializer=glorot(), name="item_map")
            self.sampling_correction = keras_rs.layers.SamplingProbabilityCorrection(epsilon=1e-30)
        if self.item_implicit_feedback:
            self.rater_embedding = keras.layers.Embedding(self.n_users, dim, embeddings_initializer=table_init(0.05 / self.rater_scale), name="rater_embedding")

    def build(self, input_shape=None):
        for name in self.table_names():
            getattr(self, name).build((None,))
        self._build_features()
        if self.rating_head == "mlp":
            self.rating_mlp.build((None, 2 * self.embedding_dim))
        else:
            self.global_mean = self.add_weight(
                shape=(), initializer=keras.initializers.Constant(self.rating_mean), name="global_mean"
            )
        if self.retrieval_negatives != "in_batch":
            self.user_map.build((None, self.embedding_dim))
            self.item_map.build((None, self.embedding_dim))
        if self.item_implicit_feedback:
            self.rater_term = self.add_weight(shape=(self.n_items, self.embedding_dim), initializer="zeros", trainable=False, name="rater_term")
        if self.item_item_weight:
            self.item_item = self.add_weight(shape=(self.n_items, self.n_items), initializer="zeros", trainable=False, name="item_item")
        self.built = True

    def _build_features(self):
        """Feature embeddings and, per user or item, its padded feature ids and weights (constants)."""
        for space in ("user", "item"):
            if not self.feature_names[space]:
                continue
            n, width = self.space_size(space), self.feature_width[space]
            getattr(self, f"{space}_feature_embedding").build((None, width))
            ids = self.add_weight(shape=(n, width), initializer="zeros", dtype="int32", trainable=False, name=f"{space}_feature_ids")
            weights = self.add_weight(shape=(n, width), initializer="zeros", trainable=False, name=f"{space}_feature_weights")
            setattr(self, f"{space}_feature_ids", ids)
            setattr(self, f"{space}_feature_weights", weights)
        if self.feature_names["item"]:
            self.item_negative = self.add_weight(shape=(self.n_items,), initializer="ones", trainable=False, name="item_negative")

    def set_features(self, space, ids, weights):
        """Set the padded feature ``ids`` and ``weights`` (``[n_rows, width]``) of ``"user"`` or ``"item"`` rows."""
        getattr(self, f"{space}_feature_ids").assign(ids)
        getattr(self, f"{space}_feature_weights").assign(weights)

    def feature_arrays(self, space):
        """The padded feature ``(ids, weights)`` of every ``"user"`` or ``"item"`` row, as NumPy arrays."""
        return np.asarray(getattr(self, f"{space}_feature_ids").value), np.asarray(getattr(self, f"{space}_feature_weights").value)

    def featured_rows(self, space):
        """Boolean ``[n_rows]``: which ``"user"`` or ``"item"`` rows have a feature, or None without features."""
        if not self.feature_names[space]:
            return None
        return np.abs(self.feature_arrays(space)[1]).sum(axis=1) > 0

    def mark_cold(self, space, rows):
        """Mark ``"user"`` or ``"item"`` rows as cold start: known from their features alone.

        Their own table rows are set to zero (they are never trained), and cold items are no
        negatives of the catalogue softmax (see ``TrainingSet.negative_items``).
        """
        if not len(rows):
            return
        table = getattr(self, f"{space}_embedding").embeddings
        values = np.array(table.value)
        values[np.asarray(rows)] = 0.0
        table.assign(values)
        if space == "item":
            mask = np.ones(self.n_items, "float32")
            mask[np.asarray(rows)] = 0.0
            self.item_negative.assign(mask)

    def _with_features(self, space, table_rows, ids):
        """``table_rows`` plus the weighted sum of the features' embeddings of ``ids`` (if any)."""
        if not self.feature_names[space]:
            return table_rows
        ids = ops.cast(ids, "int32")
        feature_ids = ops.take(getattr(self, f"{space}_feature_ids"), ids, axis=0)
        feature_weights = ops.take(getattr(self, f"{space}_feature_weights"), ids, axis=0)
        return table_rows + getattr(self, f"{space}_feature_embedding")(feature_ids, weights=feature_weights)

    def feature_rows(self, space, feature_ids, weights):
        """Table rows made of features alone: the weighted sum of the features' embeddings.

        These are the rows of ``"user"`` or ``"item"`` ids the model has no row for (met at
        serving time with their features), shape ``[n, table width]``; ``feature_ids`` and
        ``weights`` are padded as :meth:`set_features` takes them.
        """
        layer = getattr(self, f"{space}_feature_embedding")
        return layer(ops.convert_to_tensor(feature_ids, "int32"), weights=ops.convert_to_tensor(weights, "float32"))

    def table_rows(self, space, ids):
        """The ``"user"`` or ``"item"`` table rows of ``ids`` with their features' sum added."""
        return self._rows(f"{space}_embedding", space, ops.convert_to_tensor(ids, "int32"), None)

    def table_names(self, space=None):
        """Names of the embedding tables this model has (of one id ``space`` if given)."""
        spaces = [space] if space else list(TABLES)
        return [name for s in spaces for name in TABLES[s] if hasattr(self, name)]

    def sparse_spaces(self):
        """The id spaces whose rows a training step may update alone (see ``skrec._row_sparse``).

        The item tables are updated whole when the retrieval loss scores the whole catalogue.
        """
        spaces = ["user", "item"] + (["history"] if self.implicit_feedback else []) + (["rater"] if self.item_implicit_feedback else [])
        return [s for s in spaces if not (s == "item" and self.retrieval_negatives == "catalogue")]

    def space_size(self, space):
        """Rows of the tables of id ``space``: users for ``"user"`` and ``"rater"``, else items."""
        return self.n_users if space in ("user", "rater") else self.n_items

    def set_rater_terms(self, raters):
        """Set every item's rater term from ``raters``, a SciPy sparse ``[n_items, n_users]`` matrix of weights ``w_v``."""
        if self.item_implicit_feedback:
            table = self.rater_scale * np.asarray(self.rater_embedding.embeddings.value)
            self.rater_term.assign((raters @ table).astype("float32"))

    def set_item_item(self, weights):
        """Set the item-item term's ``[n_items, n_items]`` weights (column ``i``: each item's weight in the score of ``i``)."""
        if self.item_item_weight:
            self.item_item.assign(np.asarray(weights, dtype="float32"))

    def rater_terms(self, codes):
        """Rater terms of item ``codes`` as a NumPy ``[n, dim]`` array (0 for codes ``>= n_items``, items new since ``fit``), or None without them."""
        if not self.item_implicit_feedback:
            return None
        codes = np.asarray(codes)
        terms = np.zeros((len(codes), self.embedding_dim), "float32")
        fitted = codes < self.n_items
        if fitted.any():
            terms[fitted] = ops.convert_to_numpy(ops.take(self.rater_term, ops.convert_to_tensor(codes[fitted], "int32"), axis=0))
        return terms

    # ---------------------------------------------------------------- lookups
    def _rows(self, table, key, ids, rows, keep=None):
        """Rows of ``table`` for the ids of input ``key``: from ``rows`` if the step gave them.

        The user and item tables' rows come with their features' sum added; ``keep`` (0 or 1
        per row, ``id_dropout``) hides a row's own part, leaving its features.
        """
        if rows is not None and key in rows:
            found = rows[key][table]
        else:
            found = ops.take(getattr(self, table).embeddings, ids, axis=0)
        if keep is not None:
            found = found * ops.expand_dims(ops.cast(keep, found.dtype), -1)
        space = {"user_embedding": "user", "item_embedding": "item"}.get(table)
        return found if space is None else self._with_features(space, found, ids)

    def _user_parts(self, rows):
        """``(embedding, rating bias or None)`` of rows of the user table."""
        d = self.embedding_dim
        return rows[:, :d], (self._rating_bias(rows[:, d]) if self.rating_head == "dot" else None)

    def _item_parts(self, rows):
        """``(embedding, rating bias or None, retrieval bias or None)`` of rows of the item table."""
        d, dot = self.embedding_dim, self.rating_head == "dot"
        mapped = self.retrieval_negatives != "in_batch"
        return rows[:, :d], (self._rating_bias(rows[:, d]) if dot else None), (rows[:, d + dot] if mapped else None)

    def _rating_bias(self, column):
        """Rating biases from their table column (see ``rating_bias_scale``)."""
        return column if self.rating_bias_scale == 1.0 else self.rating_bias_scale * column

    # ---------------------------------------------------------------- towers
    def call(self, inputs, training=False, rows=None):
        user_rows = self._rows("user_embedding", "user", inputs["user"], rows, inputs.get("user_keep"))
        user_vector = self._user_vector(user_rows, inputs, rows)
        out = self._outputs(user_vector, user_rows, inputs["item"], rows, inputs.get("item_keep"), self._batch_rater_term(inputs, rows))
        if training:
            out.update(self._retrieval_logits(inputs, user_vector, out["item_vector"], out.get("retrieval_bias"), rows))
            out.update(self._own_implicit_rows(inputs, rows))
        return out

    def _own_implicit_rows(self, inputs, rows):
        """The rows' own ``y_i`` (implicit table) and ``z_u`` (rater table), for the ``"per_id"`` penalty."""
        out = {}
        if "penalty_item" in inputs and self.implicit_feedback:
            out["own_implicit"] = self._rows("implicit_embedding", "penalty_item", inputs["penalty_item"], rows)
        if "penalty_user" in inputs and self.item_implicit_feedback:
            out["own_rater"] = self.rater_scale * self._rows("rater_embedding", "penalty_user", inputs["penalty_user"], rows)
        return out

    def user_vectors(self, inputs):
        """User vectors (table row plus SVD++ term) of ``inputs["user"]``, shape ``[n, dim]``."""
        return self._user_vector(self._rows("user_embedding", "user", inputs["user"], None), inputs, None)

    def ratings(self, user_vector, users, items):
        """Predicted scaled ratings of ``users`` (whose vectors are ``user_vector``) for ``items``."""
        return self._outputs(user_vector, self._rows("user_embedding", "user", users, None), items, None)["rating"]

    def ratings_of_rows(self, user_vector, user_rows, item_rows, rater_terms=None):
        """Predicted scaled ratings from user vectors, user and item table rows (see :meth:`table_rows`) and the items' :meth:`rater_terms`."""
        convert = ops.convert_to_tensor
        terms = None if rater_terms is None else convert(rater_terms)
        return self._outputs_of_rows(convert(user_vector), convert(user_rows), convert(item_rows), terms)["rating"]

    def user_vectors_of_rows(self, user_rows):
        """User vectors of table rows without a history (ids met at serving time with features)."""
        return self._user_parts(ops.convert_to_tensor(user_rows))[0]

    def _user_vector(self, user_rows, inputs, rows):
        """The user table's embedding plus the SVD++ term of each row's history.

        ``history_row`` maps each history entry to a slot; ``user_slot`` (training batches,
        where rows of one user share a slot) maps each row to its slot, else slot = row.
        """
        vectors, _ = self._user_parts(user_rows)
        if not self.implicit_feedback:
            return vectors
        implicit = self._list_sums("implicit_embedding", "history_item", "history", inputs, rows, ops.shape(vectors)[0])
        if "user_slot" in inputs:
            implicit = ops.take(implicit, inputs["user_slot"], axis=0)
        return vectors + implicit

    def _batch_rater_term(self, inputs, rows):
        """The rater term of each row's item from the batch's rater lists, or None (none given)."""
        if not self.item_implicit_feedback or "rater_user" not in inputs:
            return None
        term = self.rater_scale * self._list_sums("rater_embedding", "rater_user", "rater", inputs, rows, ops.shape(inputs["item"])[0])
        return ops.take(term, inputs["item_slot"], axis=0)

    def _list_sums(self, table, key, prefix, inputs, rows, n_lists):
        """Per list, the weighted sum of ``table``'s rows of the ids ``inputs[key]``, shape ``[n_lists, dim]``.

        ``inputs[prefix + "_row"]`` names each entry's list, in ascending order (padding
        included), ``inputs[prefix + "_weight"]`` its weight.
        """
        found = self._rows(table, key, inputs[key], rows)
        weighted = found * ops.expand_dims(ops.cast(inputs[f"{prefix}_weight"], found.dtype), -1)
        return ops.segment_sum(weighted, inputs[f"{prefix}_row"], num_segments=n_lists, sorted=_SORTED_SEGMENTS)

    def _outputs(self, user_vector, user_rows, items, rows, keep=None, rater_term=None):
        if rater_term is None and self.item_implicit_feedback:
            rater_term = ops.take(self.rater_term, ops.cast(items, "int32"), axis=0)
        if rater_term is not None and keep is not None:
            rater_term = rater_term * ops.expand_dims(ops.cast(keep, rater_term.dtype), -1)  # raters are the id's own part
        return self._outputs_of_rows(user_vector, user_rows, self._rows("item_embedding", "item", items, rows, keep), rater_term)

    def _outputs_of_rows(self, user_vector, user_rows, item_rows, rater_term=None):
        """Vectors, biases and the predicted rating of each (user, item) row pair."""
        item_vector, item_bias, retrieval_bias = self._item_parts(item_rows)
        out = {"user_vector": user_vector, "item_vector": item_vector}
        if rater_term is not None:
            out["rater_term"] = rater_term
        if self.rating_head == "dot":
            out["user_bias"] = self._user_parts(user_rows)[1]
            out["item_bias"] = item_bias
        if retrieval_bias is not None:
            out["retrieval_bias"] = retrieval_bias
        out["rating"] = self._rating(out)
        return out

    def _rating(self, out):
        user_vector, item_vector = out["user_vector"], out["item_vector"]
        if "rater_term" in out:
            item_vector = item_vector + out["rater_term"]
        if self.rating_head == "mlp":
            return ops.squeeze(self.rating_mlp(ops.concatenate([user_vector, item_vector], axis=1)), axis=1)
        return self.global_mean + out["user_bias"] + out["item_bias"] + ops.sum(user_vector * item_vector, axis=1)

    # ------------------------------------------------------------- retrieval
    def _retrieval_logits(self, inputs, user_vector, item_vector, retrieval_bias, rows):
        """Training logits of each row against its candidates, and the column of its own item."""
        n = ops.shape(user_vector)[0]
        if self.retrieval_negatives == "in_batch":
            return {"retrieval_logits": ops.matmul(user_vector, ops.transpose(item_vector)), "positive": ops.arange(n)}
        if self.retrieval_negatives == "catalogue" and "slot_row" in inputs:
            return self._catalogue_terms_per_slot(inputs, user_vector)
        if self.retrieval_negatives == "catalogue":
            logits = self.retrieval_scores(user_vector)
            if self.feature_names["item"]:
                logits = ops.where(ops.expand_dims(self.item_negative > 0, 0), logits, _REMOVED)
            return {"retrieval_logits": logits, "positive": ops.cast(inputs["item"], "int32")}
        if "slot_row" in inputs:
            return self._sampled_terms_per_slot(inputs, user_vector, item_vector, retrieval_bias, rows)
        logits = self._sampled_logits(inputs, user_vector, item_vector, retrieval_bias, rows)
        return {"retrieval_logits": logits, "positive": inputs["positive"]}

    def _catalogue_terms_per_slot(self, inputs, user_vector):
        """The catalogue softmax's two terms of each row: its normaliser and its own item's logit.

        The rows of one user in a batch share one user vector, hence one normaliser (the
        ``logsumexp`` of its logits over the catalogue): it is computed once per slot, from
        the slot's row ``slot_row``, and taken for each row by its ``user_slot``. The loss
        is the same as scoring every row against the catalogue, at the cost of the slots.
        """
        candidates = self.candidate_embeddings()
        logits = ops.matmul(self.query_embeddings(ops.take(user_vector, inputs["slot_row"], axis=0)), ops.transpose(candidates))
        items = ops.cast(inputs["item"], "int32")
        own = ops.sum(self.query_embeddings(user_vector) * ops.take(candidates, items, axis=0), axis=1)
        if self.feature_names["item"]:
            logits = ops.where(ops.expand_dims(self.item_negative > 0, 0), logits, _REMOVED)
            own = ops.where(ops.take(self.item_negative, items, axis=0) > 0, own, _REMOVED)
        normaliser = ops.take(ops.logsumexp(logits, axis=1), inputs["user_slot"], axis=0)
        return {"retrieval_normaliser": normaliser, "retrieval_own": own}

    def _sampled_logits(self, inputs, user_vector, item_vector, retrieval_bias, rows):
        """Logits of each row against its own item (column 0) and the sampled candidates.

        ``candidate`` lists distinct sampled items; ``positive`` is the column of each row's
        own item: a candidate's (``1 + j``) when the sample holds it, its own column 0
        otherwise. The own column of a row whose item is also a candidate is removed, so that
        no row meets its own item twice ("accidental hits"): keras-rs 0.4.0's
        ``RemoveAccidentalHits`` would add about 1e-40 to such logits, which leaves them in.
        Every logit is corrected by the log of its item's sampling probability
        (``candidate_probability``, ``own_probability``; zero marks padding).
        """
        query = self.user_map(user_vector)
        own = self._own_sampled_logit(inputs, query, item_vector, retrieval_bias)
        return ops.concatenate([ops.expand_dims(own, 1), self._candidate_logits(inputs, query, rows)], axis=1)

    def _sampled_terms_per_slot(self, inputs, user_vector, item_vector, retrieval_bias, rows):
        """:meth:`_sampled_logits`' softmax as each row's normaliser and own item's logit, the candidates scored once per slot.

        The rows of one user share their logits against the batch's candidates (see
        :meth:`_catalogue_terms_per_slot`): their ``logsumexp`` is computed once per slot and
        joined with each row's own column; a row whose item is a candidate reads its logit
        from its slot's logits.
        """
        query = self.user_map(user_vector)
        own = self._own_sampled_logit(inputs, query, item_vector, retrieval_bias)
        logits = self._candidate_logits(inputs, ops.take(query, inputs["slot_row"], axis=0), rows)
        slot, positive = inputs["user_slot"], ops.cast(inputs["positive"], "int32")
        normaliser = ops.logaddexp(ops.take(ops.logsumexp(logits, axis=1), slot, axis=0), own)
        hit = ops.take(ops.reshape(logits, (-1,)), slot * ops.shape(logits)[1] + ops.maximum(positive - 1, 0), axis=0)
        return {"retrieval_normaliser": normaliser, "retrieval_own": ops.where(positive > 0, hit, own)}

    def _own_sampled_logit(self, inputs, query, item_vector, retrieval_bias):
        """Each row's corrected logit of its own item, removed (``_REMOVED``) where the item is a candidate."""
        own = ops.sum(query * self.item_map(item_vector), axis=1) + retrieval_bias
        own = self.sampling_correction(own, inputs["own_probability"])
        return ops.where(inputs["positive"] > 0, _REMOVED, own)

    def _candidate_logits(self, inputs, query, rows):
        """Corrected logits of ``query`` rows against the batch's ``candidate`` items, padding removed."""
        vectors, _, bias = self._item_parts(self._rows("item_embedding", "candidate", inputs["candidate"], rows))
        logits = ops.matmul(query, ops.transpose(self.item_map(vectors))) + bias
        probability = inputs["candidate_probability"]
        logits = self.sampling_correction(logits, ops.expand_dims(probability, 0))
        return ops.where(ops.expand_dims(probability > 0, 0), logits, _REMOVED)

    def retrieval_scores(self, user_vector):
        """Retrieval logits of users against every item, shape ``[n, n_items]``."""
        return ops.matmul(self.query_embeddings(user_vector), ops.transpose(self.candidate_embeddings()))

    def query_embeddings(self, user_vector, rating_weight=0.0, seen=None):
        """Query vectors whose dot product with :meth:`candidate_embeddings` is the score.

        With ``rating_weight`` (``"dot"`` head only) the score becomes ``retrieval logit +
        rating_weight * predicted scaled rating``, still one dot product, so that keras-rs
        ``BruteForceRetrieval`` finds its exact top-k. With ``seen`` (``[n, n_items]``, 1 for
        each item of the user's history), the item-item term ``item_item_weight * seen @
        item_item`` joins the score (candidates built with ``item_item=True``).
        """
        if self.retrieval_negatives == "in_batch":
            parts = [user_vector]
        else:
            parts = [self.user_map(user_vector), ops.ones_like(user_vector[:, :1])]
        if rating_weight:
            parts += [rating_weight * user_vector, rating_weight * ops.ones_like(user_vector[:, :1])]
        if seen is not None:
            parts.append(ops.cast(ops.convert_to_tensor(seen), user_vector.dtype))
        return ops.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]

    def candidate_embeddings(self, rating_weight=0.0, rows=None, item_item=False):
        """Candidate vectors, shape ``[n, width]``; see :meth:`query_embeddings`.

        Of every item, or of the items whose table rows are ``rows`` (see :meth:`table_rows`
        and :meth:`feature_rows`), items the model has no interaction of (no rater term, no
        item-item weights). ``item_item`` appends each item's column of the item-item weights
        times ``item_item_weight`` (zeros for ``rows``), for queries built with ``seen``.
        """
        terms, fitted = None, rows is None
        if fitted:
            rows = self._with_features("item", self.item_embedding.embeddings, ops.arange(self.n_items))
            terms = self.rater_term if self.item_implicit_feedback else None
        items, item_bias, retrieval_bias = self._item_parts(ops.convert_to_tensor(rows))
        if self.retrieval_negatives == "in_batch":
            parts = [items]
        else:
            parts = [self.item_map(items), ops.expand_dims(retrieval_bias, 1)]
        if rating_weight:
            if self.rating_head != "dot":
                raise ValueError("A rating term in the retrieval score needs the 'dot' rating head.")
            # user_vector . item + (mean + item bias); the user bias does not change a ranking.
            rating_items = items if terms is None else items + terms
            parts += [rating_items, ops.expand_dims(self.global_mean + item_bias, 1)]
        if item_item:
            weights = self.item_item_weight * ops.transpose(self.item_item) if fitted else ops.zeros((ops.shape(items)[0], self.n_items))
            parts.append(ops.cast(weights, items.dtype))
        return ops.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]

    # ------------------------------------------------------------------ train
    def train_step(self, *args, **kwargs):
        """Keras's training step, or the row-sparse one when training attached a plan to the model."""
        plan = getattr(self, "_row_sparse_plan", None)
        if plan is None:
            return super().train_step(*args, **kwargs)
        return plan.train_step(self, *args)

    def make_train_function(self, force=False):
        """Keras's, or with a row-sparse plan its ``steps_per_execution`` steps in one ``lax.scan`` (:mod:`skrec._scan_steps`)."""
        if self.train_function is not None and not force:
            return
        if getattr(self, "_row_sparse_plan", None) is None or self.steps_per_execution == 1:
            super().make_train_function(force)
            return
        self.train_function = scanned_train_function(self.train_step, self.steps_per_execution)

    # ------------------------------------------------------------------ loss
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The weighted sum of the two losses and the penalty, each a weighted mean over the batch.

        Rows weigh ``sample_weight`` (1 without); the rating loss runs over the rows with a
        rating only (``x["rated"]``, 1 without), the retrieval loss over all rows.
        """
        rating = y_pred["rating"]
        weight = ops.ones_like(rating) if sample_weight is None else ops.cast(sample_weight, rating.dtype)
        rated = weight * (ops.cast(x["rated"], rating.dtype) if "rated" in x else 1.0)
        retrieval_loss = self._retrieval_loss(y_pred, weight)
        rating_loss = _weighted_mean(ops.square(rating - ops.cast(y, rating.dtype)), rated)
        self.retrieval_loss_tracker.update_state(retrieval_loss)
        self.rating_loss_tracker.update_state(rating_loss)
        loss = self.retrieval_weight * retrieval_loss + self.ranking_weight * rating_loss
        if self.l2:
            penalty = self._id_penalty(y_pred, x) if self.l2_form == "per_id" else self._penalty(y_pred)
            loss = loss + self.l2 * _weighted_mean(penalty, weight)
        return loss

    def _retrieval_loss(self, y_pred, weight):
        """Softmax cross-entropy of each row's own item: summed (``in_batch``) or averaged, weighted.

        From ``y_pred``'s ``"retrieval_logits"`` and ``"positive"`` (the column of each row's
        own item), or its per-row ``"retrieval_normaliser"`` and ``"retrieval_own"`` logit.
        """
        if "retrieval_normaliser" in y_pred:
            per_row = y_pred["retrieval_normaliser"] - y_pred["retrieval_own"]
        else:
            logits, positive = y_pred["retrieval_logits"], ops.cast(y_pred["positive"], "int32")
            per_row = ops.logsumexp(logits, axis=-1) - ops.take_along_axis(logits, ops.expand_dims(positive, -1), axis=1)[:, 0]
        if self.retrieval_negatives == "in_batch":
            return ops.sum(per_row * weight)
        return _weighted_mean(per_row, weight)

    def _id_penalty(self, y_pred, x):
        """Each row's user part times its ``user_share`` plus its item part times its ``item_share``."""
        user, item = self._penalty_parts(y_pred)
        if "own_rater" in y_pred:
            user = user + ops.sum(ops.square(y_pred["own_rater"]), axis=1)
        if "own_implicit" in y_pred:
            item = item + ops.sum(ops.square(y_pred["own_implicit"]), axis=1)
        return ops.cast(x["user_share"], user.dtype) * user + ops.cast(x["item_share"], item.dtype) * item

    def _penalty(self, y_pred):
        """Squared norm of each row's user and item vectors (and biases and rater term): the ``"per_interaction"`` penalty."""
        user, item = self._penalty_parts(y_pred)
        penalty = user + item
        if "rater_term" in y_pred:
            # Apart from the item vector: on their sum, the two could cancel out (measured worse).
            penalty = penalty + self.rater_penalty * ops.sum(ops.square(y_pred["rater_term"]), axis=1)
        return penalty

    def _penalty_parts(self, y_pred):
        """Each row's squared user vector and item vector, with their rating biases (``"dot"`` head)."""
        user = ops.sum(ops.square(y_pred["user_vector"]), axis=1)
        item = ops.sum(ops.square(y_pred["item_vector"]), axis=1)
        if self.rating_head == "dot":
            user, item = user + ops.square(y_pred["user_bias"]), item + ops.square(y_pred["item_bias"])
        return user, item

    def get_config(self):
        config = super().get_config()
        config.update(
            n_users=self.n_users,
            n_items=self.n_items,
            embedding_dim=self.embedding_dim,
            layer_sizes=list(self.layer_sizes),
            rating_head=self.rating_head,
            implicit_feedback=self.implicit_feedback,
            retrieval_negatives=self.retrieval_negatives,
            retrieval_weight=self.retrieval_weight,
            ranking_weight=self.ranking_weight,
            l2=self.l2,
            rating_mean=self.rating_mean,
            seed=self.seed,
            user_feature_names=list(self.feature_names["user"]),
            item_feature_names=list(self.feature_names["item"]),
            user_feature_width=self.feature_width["user"],
            item_feature_width=self.feature_width["item"],
            rating_bias_scale=self.rating_bias_scale,
            item_implicit_feedback=self.item_implicit_feedback,
            rater_penalty=self.rater_penalty,
            rater_scale=self.rater_scale,
            item_item_weight=self.item_item_weight,
            item_item_l2=self.item_item_l2,
            l2_form=self.l2_form,
        )
        return config


def _weighted_mean(values, weight):
    """``sum(weight * values) / sum(weight)``, 0 when every weight is 0."""
    return ops.sum(values * weight) / ops.maximum(ops.sum(weight), 1e-12)


def _table(n_rows, dim, n_biases, initializer, name):
    """An embedding table of ``dim`` columns from ``initializer`` and ``n_biases`` columns of zeros."""
    if n_biases:
        initializer = ZeroTail(initializer, n_biases)
    return keras.layers.Embedding(n_rows, dim + n_biases, embeddings_initializer=initializer, name=name)


def check_same_architecture(old, new):
    """Raise ``ValueError`` naming the parameters of :func:`_architecture` in which ``new`` differs from ``old`` (warm start)."""
    old_config, new_config = _architecture(old), _architecture(new)
    if old_config != new_config:
        changed = sorted(k for k in old_config if old_config[k] != new_config.get(k))
        raise ValueError(
            f"warm_start continues the fitted model, so its architecture must not change; "
            f"these parameters differ from the fitted model: {changed}. Set warm_start=False to refit."
        )


def _architecture(model):
    """The parts of ``model``'s config a warm start must keep: not what the data sets or what no trained weight reads.

    Data-derived: table sizes, the initial mean, the seed, ``rating_bias_scale`` and
    ``rater_penalty``. Untrained: the item-item term's weight and penalty (it is solved again
    after every fit), of which only whether the term is on (its weights exist) is kept, as
    ``item_item``.
    """
    derived = ("n_users", "n_items", "rating_mean", "seed", "name", "trainable", "dtype", "user_feature_width", "item_feature_width", "rating_bias_scale", "rater_penalty", "item_item_weight", "item_item_l2")
    config = {k: v for k, v in model.get_config().items() if k not in derived}
    config["item_item"] = bool(model.item_item_weight)
    return config


def model_state(model):
    """``(config, weights)``: the model's ``get_config()`` and its weights as NumPy arrays.

    With :func:`model_from_state` this is how skrec saves and pickles a model: plain JSON and
    arrays, read without running code, and without Keras's file format (whose writer converts
    variables with ``np.array``, which NumPy 2 deprecates for them).
    """
    return model.get_config(), [np.array(variable.value) for variable in model.weights]


def model_from_state(config, weights):
    """The model :func:`model_state` described."""
    model = MultiTaskModel.from_config(config)
    model.build()
    if len(weights) != len(model.weights):
        raise ValueError(f"the stored model has {len(weights)} weight arrays; its configuration makes {len(model.weights)}.")
    for variable, value in zip(model.weights, weights):
        if tuple(variable.shape) != tuple(np.shape(value)):
            raise ValueError(f"the stored weight {variable.path} has shape {np.shape(value)}; the model expects {tuple(variable.shape)}.")
        variable.assign(value)
    return model


def copy_weights(old, new):
    """Copy ``old``'s weights into ``new``, whose tables may have more rows (and feature arrays another width).

    Where shapes differ, the common block is copied and the rest keeps ``new``'s initial values.
    """
    new.build()
    for target, source in zip(new.weights, old.weights):
        value = np.asarray(source.value)
        if tuple(target.shape) != value.shape:
            grown = np.array(target.value)
            block = tuple(slice(0, min(a, b)) for a, b in zip(grown.shape, value.shape))
            grown[block] = value[block]
            value = grown
        target.assign(value)


def _seed_sequence(seed, n):
    """Yield ``n`` distinct initializer seeds derived from ``seed`` (``None`` stays unseeded)."""
    if seed is None:
        yield from [None] * n
    else:
        yield from (int(s) for s in np.random.SeedSequence(seed).generate_state(n))
