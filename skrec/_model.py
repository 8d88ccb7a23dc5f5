"""The Keras model behind MultiTaskRecommender: shared user/item embeddings, a rating head and a retrieval head.

This module knows only Keras, keras-rs and NumPy. It receives integer indices (already encoded
by the estimator, ``0 <= index < n_users`` and ``0 <= index < n_items``) and ratings already
scaled to ``[0, 1]``; it never sees pandas, raw ids or scikit-learn.
"""

import numpy as np

from skrec._keras import keras, keras_rs

ops = keras.ops

__all__ = ["MultiTaskModel", "check_same_architecture", "copy_weights"]


@keras.saving.register_keras_serializable(package="skrec")
class MultiTaskModel(keras.Model):
    """User and item embeddings shared by a retrieval task and a rating task.

    **User vector.** Row ``u`` of the user table, plus, with ``implicit_feedback``, the
    SVD++ term ``|N(u)|^-1/2 * sum_{j in N(u)} y_j`` over the items ``N(u)`` the user rated in
    training (a third item table ``y``). The term is computed for all users at each step with
    one ``segment_sum`` over the training pairs: ``O(n_ratings * dim)``, no dense matrix.

    **Rating head** (``rating_head``):

    * ``"mlp"``: the Keras-RS example's MLP over the concatenated user and item vectors;
    * ``"dot"``: biased matrix factorisation, ``mean + b_u + b_i + user · item``.

    **Retrieval head.** The score of (user, item) is the dot product of the user and item
    vectors (``"in_batch"`` negatives, the Keras-RS example) or, with ``"catalogue"``
    negatives, of their images under two separate linear maps plus a learned item bias.
    Its loss is the softmax cross-entropy of the rated item against:

    * ``"in_batch"``: the other items of the batch, summed over the batch as in the Keras-RS
      example;
    * ``"catalogue"``: every item, averaged over the batch.

    **Loss.** ``retrieval_weight * retrieval_loss + ranking_weight * rating_loss + l2 *
    penalty``, where ``rating_loss`` is the mean squared error on scaled ratings and
    ``penalty`` the mean squared norm of the batch's user and item vectors and biases.

    Args:
        n_users: int. Rows of the user table.
        n_items: int. Rows of the item tables.
        embedding_dim: int. Width of the embeddings.
        layer_sizes: tuple of int. Hidden layers of the ``"mlp"`` rating head.
        rating_head: str. ``"mlp"`` or ``"dot"``.
        implicit_feedback: bool. Add the SVD++ term to the user vector. The training pairs
            must then be given with :meth:`set_history` before training.
        retrieval_negatives: str. ``"in_batch"`` or ``"catalogue"``.
        retrieval_weight: float. Weight of the retrieval loss.
        ranking_weight: float. Weight of the rating loss.
        l2: float. Weight of the L2 penalty.
        rating_mean: float. Initial global mean of the ``"dot"`` head (scaled ratings).
        n_history: int. Number of training pairs of the SVD++ term.
        seed: int or None. Seed of every initializer.

    Inputs are ``{"user": int [batch], "item": int [batch]}``; ``call`` returns
    ``{"rating": [batch], "user_vector": [batch, dim], "item_vector": [batch, dim]}``.
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
        n_history=0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if rating_head not in ("mlp", "dot"):
            raise ValueError(f"`rating_head` must be 'mlp' or 'dot'. Received: rating_head={rating_head!r}")
        if retrieval_negatives not in ("in_batch", "catalogue"):
            raise ValueError(
                f"`retrieval_negatives` must be 'in_batch' or 'catalogue'. Received: {retrieval_negatives!r}"
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
        self.n_history = int(n_history)
        self.seed = seed

        seeds = _seed_sequence(seed, 16)
        if rating_head == "mlp":
            # The Keras-RS example's layers and initializers.
            table_init = lambda: keras.initializers.RandomUniform(-0.05, 0.05, seed=next(seeds))  # noqa: E731
        else:
            table_init = lambda: keras.initializers.RandomNormal(0.0, 0.05, seed=next(seeds))  # noqa: E731
        self.user_embedding = keras.layers.Embedding(n_users, embedding_dim, embeddings_initializer=table_init(), name="user_embedding")
        self.item_embedding = keras.layers.Embedding(n_items, embedding_dim, embeddings_initializer=table_init(), name="item_embedding")
        if rating_head == "mlp":
            self.rating_mlp = keras.Sequential(
                [
                    keras.layers.Dense(size, activation="relu", kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)))
                    for size in self.layer_sizes
                ]
                + [keras.layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)))],
                name="rating_head",
            )
        else:
            self.user_bias = keras.layers.Embedding(n_users, 1, embeddings_initializer="zeros", name="user_bias")
            self.item_bias = keras.layers.Embedding(n_items, 1, embeddings_initializer="zeros", name="item_bias")
        if self.implicit_feedback:
            self.implicit_embedding = keras.layers.Embedding(
                n_items, embedding_dim, embeddings_initializer=table_init(), name="implicit_embedding"
            )
        if retrieval_negatives == "catalogue":
            glorot = lambda: keras.initializers.GlorotUniform(seed=next(seeds))  # noqa: E731
            self.user_map = keras.layers.Dense(embedding_dim, use_bias=False, kernel_initializer=glorot(), name="user_map")
            self.item_map = keras.layers.Dense(embedding_dim, use_bias=False, kernel_initializer=glorot(), name="item_map")
            self.retrieval_bias = keras.layers.Embedding(n_items, 1, embeddings_initializer="zeros", name="retrieval_bias")
        # Per-epoch averages of the two task losses, reported in the training history.
        self.retrieval_loss_tracker = keras.metrics.Mean(name="retrieval_loss")
        self.rating_loss_tracker = keras.metrics.Mean(name="rating_loss")

    def build(self, input_shape=None):
        for layer in self._tables():
            layer.build((None,))
        if self.rating_head == "mlp":
            self.rating_mlp.build((None, 2 * self.embedding_dim))
        else:
            self.global_mean = self.add_weight(
                shape=(), initializer=keras.initializers.Constant(self.rating_mean), name="global_mean"
            )
        if self.retrieval_negatives == "catalogue":
            self.user_map.build((None, self.embedding_dim))
            self.item_map.build((None, self.embedding_dim))
        if self.implicit_feedback:
            # The training pairs of the SVD++ term: state, not parameters, saved with the model.
            self.history_users = self.add_weight(shape=(self.n_history,), dtype="int32", initializer="zeros", trainable=False, name="history_users")
            self.history_items = self.add_weight(shape=(self.n_history,), dtype="int32", initializer="zeros", trainable=False, name="history_items")
        self.built = True

    def _tables(self):
        names = ["user_embedding", "item_embedding", "user_bias", "item_bias", "implicit_embedding", "retrieval_bias"]
        return [getattr(self, name) for name in names if hasattr(self, name)]

    def set_history(self, users, items):
        """Record the training pairs ``(users[j], items[j])`` used by the SVD++ term."""
        if not self.built:
            self.build()
        self.history_users.assign(np.asarray(users, dtype="int32"))
        self.history_items.assign(np.asarray(items, dtype="int32"))

    def history_pairs(self):
        """The recorded SVD++ pairs, as two NumPy arrays (users, items)."""
        return ops.convert_to_numpy(self.history_users), ops.convert_to_numpy(self.history_items)

    # ---------------------------------------------------------------- towers
    def user_vectors(self, users):
        """User vectors (table row plus SVD++ term) of ``users``, shape ``[n, dim]``."""
        vectors = self.user_embedding(users)
        if self.implicit_feedback:
            vectors = vectors + ops.take(self._implicit_all_users(), users, axis=0)
        return vectors

    def _implicit_all_users(self):
        counts = ops.segment_sum(ops.ones_like(self.history_users, dtype="float32"), self.history_users, num_segments=self.n_users)
        weights = ops.take(ops.rsqrt(ops.maximum(counts, 1.0)), self.history_users, axis=0)
        rows = ops.take(self.implicit_embedding.embeddings, self.history_items, axis=0)
        return ops.segment_sum(rows * weights[:, None], self.history_users, num_segments=self.n_users)

    def call(self, inputs, training=False):
        users, items = inputs["user"], inputs["item"]
        user_vector = self.user_vectors(users)
        item_vector = self.item_embedding(items)
        return {
            "rating": self._rating(users, items, user_vector, item_vector),
            "user_vector": user_vector,
            "item_vector": item_vector,
        }

    def _rating(self, users, items, user_vector, item_vector):
        if self.rating_head == "mlp":
            return ops.squeeze(self.rating_mlp(ops.concatenate([user_vector, item_vector], axis=1)), axis=1)
        biases = ops.squeeze(self.user_bias(users), 1) + ops.squeeze(self.item_bias(items), 1)
        return self.global_mean + biases + ops.sum(user_vector * item_vector, axis=1)

    # ------------------------------------------------------------------ loss
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        user_vector, item_vector = y_pred["user_vector"], y_pred["item_vector"]
        if self.retrieval_negatives == "in_batch":
            retrieval_loss = in_batch_softmax_loss(user_vector, item_vector)
        else:
            logits = self.retrieval_scores(user_vector)
            positive = ops.take_along_axis(logits, ops.expand_dims(ops.cast(x["item"], "int32"), -1), axis=1)[:, 0]
            retrieval_loss = ops.mean(ops.logsumexp(logits, axis=-1) - positive)
        rating_loss = ops.mean(ops.square(y_pred["rating"] - ops.cast(y, y_pred["rating"].dtype)))
        self.retrieval_loss_tracker.update_state(retrieval_loss)
        self.rating_loss_tracker.update_state(rating_loss)
        loss = self.retrieval_weight * retrieval_loss + self.ranking_weight * rating_loss
        if self.l2:
            loss = loss + self.l2 * self._penalty(x, user_vector, item_vector)
        return loss

    def _penalty(self, x, user_vector, item_vector):
        penalty = ops.sum(ops.square(user_vector), axis=1) + ops.sum(ops.square(item_vector), axis=1)
        if self.rating_head == "dot":
            penalty = penalty + ops.square(ops.squeeze(self.user_bias(x["user"]), 1))
            penalty = penalty + ops.square(ops.squeeze(self.item_bias(x["item"]), 1))
        return ops.mean(penalty)

    # ------------------------------------------------------------- retrieval
    def retrieval_scores(self, user_vector):
        """Retrieval logits of users against every item, shape ``[n, n_items]``."""
        return ops.matmul(self.query_embeddings(user_vector), ops.transpose(self.candidate_embeddings()))

    def query_embeddings(self, user_vector, rating_weight=0.0):
        """Query vectors whose dot product with :meth:`candidate_embeddings` is the score.

        With ``rating_weight`` (``"dot"`` head only) the score becomes ``retrieval logit +
        rating_weight * predicted scaled rating``, still one dot product, so that keras-rs
        ``BruteForceRetrieval`` finds its exact top-k.
        """
        if self.retrieval_negatives == "in_batch":
            parts = [user_vector]
        else:
            parts = [self.user_map(user_vector), ops.ones_like(user_vector[:, :1])]
        if rating_weight:
            parts += [rating_weight * user_vector, rating_weight * ops.ones_like(user_vector[:, :1])]
        return ops.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]

    def candidate_embeddings(self, rating_weight=0.0):
        """Candidate vectors of every item, shape ``[n_items, width]``; see :meth:`query_embeddings`."""
        items = self.item_embedding.embeddings
        if self.retrieval_negatives == "in_batch":
            parts = [items]
        else:
            parts = [self.item_map(items), self.retrieval_bias.embeddings]
        if rating_weight:
            if self.rating_head != "dot":
                raise ValueError("A rating term in the retrieval score needs the 'dot' rating head.")
            # user_vector . item + (mean + item bias); the user bias does not change a ranking.
            parts += [items, self.global_mean + self.item_bias.embeddings]
        return ops.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]

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
            n_history=self.n_history,
            seed=self.seed,
        )
        return config


def in_batch_softmax_loss(query, candidates):
    """Softmax cross-entropy of each query against the candidates of its batch, summed.

    Row ``i`` of ``query`` (``[batch, dim]``) is paired with row ``i`` of ``candidates``; the
    other rows of the batch are its negatives. The sum over the batch (not the mean) is the
    Keras-RS example's ``CategoricalCrossentropy(from_logits=True, reduction="sum")``.
    """
    scores = ops.matmul(query, ops.transpose(candidates))
    labels = ops.arange(ops.shape(scores)[0])
    per_example = keras.losses.sparse_categorical_crossentropy(labels, scores, from_logits=True)
    return ops.sum(per_example)


def check_same_architecture(old, new):
    """Raise ``ValueError`` naming the parameters in which ``new`` differs from ``old``.

    Table sizes, the initial mean, the seed and the history length may differ (warm start).
    """
    sizes = ("n_users", "n_items", "n_history", "rating_mean", "seed", "name", "trainable", "dtype")
    old_config = {k: v for k, v in old.get_config().items() if k not in sizes}
    new_config = {k: v for k, v in new.get_config().items() if k not in sizes}
    if old_config != new_config:
        changed = sorted(k for k in old_config if old_config[k] != new_config.get(k))
        raise ValueError(
            f"warm_start continues the fitted model, so its architecture must not change; "
            f"these parameters differ from the fitted model: {changed}. Set warm_start=False to refit."
        )


def copy_weights(old, new):
    """Copy ``old``'s weights into ``new``, whose user and item tables may have more rows."""
    new.build()
    for target, source in zip(new.weights, old.weights):
        value = ops.convert_to_numpy(source)
        if tuple(target.shape) != value.shape:
            grown = ops.convert_to_numpy(target).copy()
            grown[: value.shape[0]] = value
            value = grown
        target.assign(value)


def _seed_sequence(seed, n):
    """Yield ``n`` distinct initializer seeds derived from ``seed`` (``None`` stays unseeded)."""
    if seed is None:
        yield from [None] * n
    else:
        yield from (int(s) for s in np.random.SeedSequence(seed).generate_state(n))
