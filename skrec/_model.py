"""The Keras model behind MultiTaskRecommender: shared user/item embeddings, a rating head and a retrieval head.

This module knows only Keras and keras-rs. It receives integer indices (already encoded by the
estimator, ``0 <= index < n_users`` and ``0 <= index < n_items``) and ratings already scaled to
``[0, 1]``; it never sees pandas, raw ids or scikit-learn.
"""

import numpy as np

from skrec._keras import keras, keras_rs

ops = keras.ops

__all__ = ["MultiTaskModel", "retrieve"]


@keras.saving.register_keras_serializable(package="skrec")
class MultiTaskModel(keras.Model):
    """Two towers (user and item embedding tables) shared by a retrieval and a rating task.

    This is the model of the Keras-RS example "Multi-task recommenders: retrieval + ranking":

    * retrieval: the affinity of a user and an item is the dot product of their embeddings,
      trained with a softmax cross-entropy in which the other items of the batch are the
      negatives;
    * ranking: an MLP over the concatenated embeddings predicts the scaled rating, trained with
      the mean squared error;
    * the training loss is ``retrieval_weight * retrieval_loss + ranking_weight * rating_loss``.

    Args:
        n_users: int. Number of rows of the user table.
        n_items: int. Number of rows of the item table.
        embedding_dim: int. Width of both embedding tables.
        layer_sizes: tuple of int. Hidden layer widths of the rating MLP.
        retrieval_weight: float. Weight of the retrieval loss.
        ranking_weight: float. Weight of the rating loss.
        seed: int or None. Seed of every initializer, so that two models built with the same
            seed start from the same weights.

    Inputs are a dict ``{"user": int tensor [batch], "item": int tensor [batch]}``; ``call``
    returns ``{"rating": [batch], "user_embedding": [batch, dim], "item_embedding": [batch,
    dim]}``. The target ``y`` of ``fit`` is the scaled rating, shape ``[batch]``.
    """

    def __init__(
        self,
        n_users,
        n_items,
        embedding_dim=32,
        layer_sizes=(256, 128),
        retrieval_weight=1.0,
        ranking_weight=1.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.n_users = int(n_users)
        self.n_items = int(n_items)
        self.embedding_dim = int(embedding_dim)
        self.layer_sizes = tuple(int(size) for size in layer_sizes)
        self.retrieval_weight = float(retrieval_weight)
        self.ranking_weight = float(ranking_weight)
        self.seed = seed

        seeds = _seed_sequence(seed, 2 + len(self.layer_sizes) + 1)
        self.user_embedding = keras.layers.Embedding(
            self.n_users,
            self.embedding_dim,
            embeddings_initializer=keras.initializers.RandomUniform(-0.05, 0.05, seed=next(seeds)),
            name="user_embedding",
        )
        self.item_embedding = keras.layers.Embedding(
            self.n_items,
            self.embedding_dim,
            embeddings_initializer=keras.initializers.RandomUniform(-0.05, 0.05, seed=next(seeds)),
            name="item_embedding",
        )
        self.rating_head = keras.Sequential(
            [
                keras.layers.Dense(
                    size,
                    activation="relu",
                    kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)),
                )
                for size in self.layer_sizes
            ]
            + [keras.layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)))],
            name="rating_head",
        )
        # Per-epoch averages of the two task losses, reported in the training history.
        self.retrieval_loss_tracker = keras.metrics.Mean(name="retrieval_loss")
        self.rating_loss_tracker = keras.metrics.Mean(name="rating_loss")

    def build(self, input_shape=None):
        self.user_embedding.build((None,))
        self.item_embedding.build((None,))
        self.rating_head.build((None, 2 * self.embedding_dim))
        self.built = True

    def call(self, inputs, training=False):
        user_embedding = self.user_embedding(inputs["user"])
        item_embedding = self.item_embedding(inputs["item"])
        rating = self.rating_head(ops.concatenate([user_embedding, item_embedding], axis=1))
        return {
            "rating": ops.squeeze(rating, axis=1),
            "user_embedding": user_embedding,
            "item_embedding": item_embedding,
        }

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        retrieval_loss = in_batch_softmax_loss(y_pred["user_embedding"], y_pred["item_embedding"])
        rating_loss = ops.mean(ops.square(y_pred["rating"] - ops.cast(y, y_pred["rating"].dtype)))
        self.retrieval_loss_tracker.update_state(retrieval_loss)
        self.rating_loss_tracker.update_state(rating_loss)
        return self.retrieval_weight * retrieval_loss + self.ranking_weight * rating_loss

    # Retrieval: the query and candidate vectors whose dot product is the retrieval score.
    def query_embeddings(self, user_indices):
        """Return the retrieval query vectors of ``user_indices``, shape ``[n, dim]``."""
        return self.user_embedding(user_indices)

    def candidate_embeddings(self):
        """Return the retrieval vectors of every item, shape ``[n_items, dim]``."""
        return self.item_embedding.embeddings

    def get_config(self):
        config = super().get_config()
        config.update(
            n_users=self.n_users,
            n_items=self.n_items,
            embedding_dim=self.embedding_dim,
            layer_sizes=list(self.layer_sizes),
            retrieval_weight=self.retrieval_weight,
            ranking_weight=self.ranking_weight,
            seed=self.seed,
        )
        return config


def in_batch_softmax_loss(query, candidates):
    """Softmax cross-entropy of each query against the candidates of its batch, summed.

    Row ``i`` of ``query`` (``[batch, dim]``) is paired with row ``i`` of ``candidates``; the
    other rows of the batch are its negatives. The sum over the batch (not the mean) is the
    seed example's ``CategoricalCrossentropy(from_logits=True, reduction="sum")``.
    """
    scores = ops.matmul(query, ops.transpose(candidates))
    labels = ops.arange(ops.shape(scores)[0])
    per_example = keras.losses.sparse_categorical_crossentropy(labels, scores, from_logits=True)
    return ops.sum(per_example)


def retrieve(queries, candidates, k):
    """Top-``k`` candidates of each query by dot product, with keras-rs ``BruteForceRetrieval``.

    Parameters are a ``[n, dim]`` query array and a ``[n_items, dim]`` candidate array; returns
    ``(scores, indices)``, both ``[n, k]``, best first.
    """
    layer = keras_rs.layers.BruteForceRetrieval(candidate_embeddings=candidates, k=k, return_scores=True)
    scores, indices = layer(queries)
    return ops.convert_to_numpy(scores), ops.convert_to_numpy(indices)


def _seed_sequence(seed, n):
    """Yield ``n`` distinct initializer seeds derived from ``seed`` (``None`` stays unseeded)."""
    if seed is None:
        yield from [None] * n
    else:
        yield from (int(s) for s in np.random.SeedSequence(seed).generate_state(n))
