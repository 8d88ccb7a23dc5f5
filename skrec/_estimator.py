"""MultiTaskRecommender: the scikit-learn estimator around the joint retrieval + ranking Keras model."""

import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from skrec import metrics
from skrec._encoding import IdEncoder
from skrec._keras import keras
from skrec._model import ExcludingRetrieval, MultiTaskModel
from skrec._validation import (
    check_interactions,
    check_k,
    check_params,
    check_ratings,
    check_side_frame,
)
from skrec.exceptions import ColdStartWarning, TrainingDivergedError

__all__ = ["MultiTaskRecommender", "SEED_PARAMS"]

#: The parameters of the Keras-RS example "Multi-task recommenders: retrieval + ranking":
#: ``MultiTaskRecommender(**SEED_PARAMS)`` is that example's model (loss weights 1 and 1).
SEED_PARAMS = {
    "embedding_dim": 32,
    "layer_sizes": (256, 128),
    "rating_head": "mlp",
    "implicit_feedback": False,
    "retrieval_negatives": "in_batch",
    "retrieval_weight": 1.0,
    "ranking_weight": 1.0,
    "l2": 0.0,
    "rating_blend": 0.0,
    "optimizer": "adagrad",
    "learning_rate": 0.1,
    "lr_schedule": "constant",
    "batch_size": 1000,
    "epochs": 5,
    "early_stopping": False,
}

# Users scored per call of the retrieval layer in `recommend`, and pairs per call of the
# model in `predict`: bounds memory whatever the size of the request.
_USER_CHUNK = 1024
_SCORE_BUDGET = 1 << 24  # user x item scores held at once by `recommend` (64 MB of float32)
_PAIR_CHUNK = 65536
_STEPS_PER_EXECUTION = 32


class MultiTaskRecommender(RegressorMixin, BaseEstimator):
    """Two-tower recommender that learns retrieval and rating prediction in one Keras model.

    User and item embeddings are shared by two tasks, trained together on
    ``retrieval_weight * retrieval_loss + ranking_weight * rating_loss + l2 * penalty``:

    * **retrieval** (which items will this user engage with): a softmax cross-entropy of each
      rated item against every item of the catalogue (``retrieval_negatives="catalogue"``) or
      against the other items of the batch (``"in_batch"``, the Keras-RS example).
      :meth:`recommend` serves it with keras-rs ``BruteForceRetrieval``;
    * **ranking** (what rating will this user give this item): the mean squared error of the
      rating head on ratings scaled to ``[0, 1]``. :meth:`predict` returns ratings on the
      scale of ``y``.

    The defaults are the configuration that beats Surprise's SVD, SVD++ and KNNBaseline on
    rating error and implicit's ALS and LightFM's WARP on top-10 ranking on MovieLens 100k
    (``docs/benchmark_movielens.md``): 64-d embeddings, an SVD++-style user vector, a biased
    matrix-factorisation rating head, full-catalogue softmax retrieval, Adam with a cosine
    schedule over 16 epochs. ``MultiTaskRecommender(**skrec.SEED_PARAMS)`` is the model of
    the Keras-RS example "Multi-task recommenders: retrieval + ranking".

    Parameters
    ----------
    embedding_dim : int, default=64
        Width of the user and item embeddings.
    layer_sizes : tuple of int, default=(256, 128)
        Hidden layer widths (ReLU) of the ``"mlp"`` rating head, followed by one linear unit.
    rating_head : {"dot", "mlp"}, default="dot"
        ``"dot"``: biased matrix factorisation, ``mean + user bias + item bias + user vector
        · item vector``. ``"mlp"``: the Keras-RS example's MLP over the concatenated vectors.
    implicit_feedback : bool, default=True
        Add to each user vector the SVD++ term: the normalised sum of a third item table over
        the items the user rated in training.
    retrieval_negatives : {"catalogue", "in_batch"}, default="catalogue"
        ``"catalogue"``: full softmax over all items, averaged over the batch, on separate
        linear maps of the user and item vectors plus a learned item bias. ``"in_batch"``: the
        Keras-RS example's in-batch softmax on the raw dot product, summed over the batch
        (so a ``retrieval_weight`` about ``1 / batch_size`` of the catalogue one keeps the same
        balance). Its cost per step does not grow with the catalogue: use it for large ones.
    retrieval_weight : float, default=0.1
        Weight of the retrieval loss. ``0`` trains a rating-only model.
    ranking_weight : float, default=1.0
        Weight of the rating loss. ``0`` trains a retrieval-only model. With both weights ``0``
        nothing but the L2 penalty is trained.
    l2 : float, default=0.025
        Weight of the L2 penalty on the batch's user and item vectors and biases.
    rating_blend : float, default=2.0
        :meth:`recommend` ranks items by ``retrieval score + rating_blend * predicted rating``
        (the rating on the ``[0, 1]`` scale), so the rating head re-ranks what retrieval finds.
        Needs ``rating_head="dot"``, which keeps the blend one dot product: the top-k stays
        exact. ``0`` ranks by retrieval alone.
    optimizer : str, default="adam"
        Name of a Keras optimizer (``"adam"``, ``"adagrad"``, ``"sgd"``, ``"rmsprop"``, ...).
    optimizer_params : dict or None, default=None
        Further keyword arguments of the optimizer, e.g. ``{"beta_1": 0.8}``. They can also be
        set one by one as ``optimizer__<name>``, e.g. ``set_params(optimizer__beta_1=0.8)``
        or ``{"optimizer__beta_1": [0.8, 0.9]}`` in a parameter grid.
    learning_rate : float, default=0.003
        (Initial) learning rate of the optimizer.
    lr_schedule : {"cosine", "constant"}, default="cosine"
        ``"cosine"`` decays the learning rate to 0 over ``epochs`` (Keras ``CosineDecay``).
    batch_size : int, default=1024
        Ratings per training step (and, with in-batch negatives, the negatives plus one).
        Every step has this many rows: the last batch of an epoch is completed with rows
        from the epoch's start, so the training step is compiled once.
    epochs : int, default=16
        Maximum passes over the training ratings.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training ratings, compute the default
        :meth:`score` on them after each epoch (``history_["val_score"]``), stop after
        ``n_iter_no_change`` epochs without improvement and keep the best epoch's weights.
        Off by default: with the cosine schedule the last epoch is about as good as the best,
        and training on all ratings is better (MovieLens 100k, 5 folds: NDCG@10 0.376
        against 0.373, RMSE 0.897 against 0.899).
    validation_fraction : float, default=0.05
        Share of the training ratings held out for early stopping (at least one rating).
    n_iter_no_change : int, default=3
        Epochs without improvement of the validation score before training stops.
    warm_start : bool, default=False
        If True and the estimator is fitted, ``fit`` continues training the fitted model on
        the new ratings instead of starting afresh (``epochs`` more passes, a fresh
        optimizer). Users and items seen for the first time get new embedding rows appended
        (known ids keep theirs, so ``users_`` and ``items_`` are then sorted only within each
        fit); ``rating_range_`` stays that of the first fit; items rated in any fit count as
        seen; ``history_`` grows. The architecture parameters must not change between fits.
    user_col : str, default="user_id"
        Column of ``X`` holding user ids.
    item_col : str, default="movie_id"
        Column of ``X`` holding item ids.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights and the order of the training batches. The same int gives
        the same model on the same machine and backend. No global random state is touched.
    verbose : int, default=0
        0 is silent, 1 shows Keras's progress bar, 2 one line per epoch.

    Attributes
    ----------
    model_ : keras.Model
        The fitted Keras model (:class:`skrec._model.MultiTaskModel`).
    history_ : dict of str to list of float
        Per-epoch training losses: ``"loss"`` (the weighted sum), ``"retrieval_loss"`` and
        ``"rating_loss"``; with early stopping also ``"val_score"``, ``"val_ndcg"`` and
        ``"val_rmse"`` (on the ``[0, 1]`` scale) of the held-out ratings.
    users_ : pandas.Index
        The user ids seen in ``fit``, sorted; row ``i`` of the user table belongs to
        ``users_[i]``.
    items_ : pandas.Index
        The item ids seen in ``fit``, sorted; the catalogue :meth:`recommend` draws from.
    rating_range_ : tuple of float
        Lowest and highest rating seen in ``fit``. Ratings are scaled to ``[0, 1]`` with it
        for training and predictions are clipped to it.
    item_info_ : pandas.DataFrame or None
        The ``items`` frame given to ``fit``, indexed by item id, restricted to ``items_``.
        Its columns are appended to the output of :meth:`recommend`.
    n_features_in_ : int
        Number of columns of ``X`` in ``fit``; only the user and item columns are used.

    See Also
    --------
    skrec.metrics.make_ranking_scorer : scorers for recall@k, NDCG@k, ... in model selection.

    Notes
    -----
    **Unknown users and items.** :meth:`predict` gives a pair whose user or item was not seen in
    ``fit`` the mean training rating of the side that is known (the item's mean for an unknown
    user, the user's mean for an unknown item, the global mean if both are unknown) and warns
    with :class:`skrec.exceptions.ColdStartWarning`, giving the count. :meth:`recommend` raises
    ``ValueError`` for unknown users: it has nothing personal to say about them.

    **Scores.** :meth:`recommend` ranks items by the retrieval score plus ``rating_blend``
    times the predicted rating (on the ``[0, 1]`` scale), so the rating head re-ranks what
    retrieval finds: on MovieLens this lifts NDCG@10 well above either head alone.
    :meth:`score` averages a retrieval term and a rating term, so that model selection with
    the default scorer rewards both tasks.

    Examples
    --------
    >>> import pandas as pd
    >>> from skrec import MultiTaskRecommender
    >>> X = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3], "movie_id": [10, 20, 10, 30, 20, 30]})
    >>> y = [5, 3, 4, 2, 1, 4]
    >>> rec = MultiTaskRecommender(epochs=2, batch_size=4, random_state=0).fit(X, y)
    >>> rec.predict(X.head(2)).shape
    (2,)
    >>> rec.recommend([1, 2], k=1).columns.tolist()
    ['user_id', 'rank', 'movie_id', 'score']
    """

    def __init__(
        self,
        *,
        embedding_dim=64,
        layer_sizes=(256, 128),
        rating_head="dot",
        implicit_feedback=True,
        retrieval_negatives="catalogue",
        retrieval_weight=0.1,
        ranking_weight=1.0,
        l2=0.025,
        rating_blend=2.0,
        optimizer="adam",
        optimizer_params=None,
        learning_rate=0.003,
        lr_schedule="cosine",
        batch_size=1024,
        epochs=16,
        early_stopping=False,
        validation_fraction=0.05,
        n_iter_no_change=3,
        warm_start=False,
        user_col="user_id",
        item_col="movie_id",
        random_state=None,
        verbose=0,
    ):
        self.embedding_dim = embedding_dim
        self.layer_sizes = layer_sizes
        self.rating_head = rating_head
        self.implicit_feedback = implicit_feedback
        self.retrieval_negatives = retrieval_negatives
        self.retrieval_weight = retrieval_weight
        self.ranking_weight = ranking_weight
        self.l2 = l2
        self.rating_blend = rating_blend
        self.optimizer = optimizer
        self.optimizer_params = optimizer_params
        self.learning_rate = learning_rate
        self.lr_schedule = lr_schedule
        self.batch_size = batch_size
        self.epochs = epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.user_col = user_col
        self.item_col = item_col
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    def fit(self, X, y, *, users=None, items=None):
        """Learn embeddings, the rating head and the retrieval head from ratings.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, n_columns)
            One row per rating with the columns ``user_col`` and ``item_col``, or an array
            whose column 0 holds user ids and column 1 item ids; other columns are ignored.
            Ids may be ints (gaps and values above 2**31 are fine), strings or other labels,
            one type per column; non-integer floats are used as exact labels.
        y : array-like of shape (n_samples,)
            The ratings, finite numbers on any scale.
        users : pandas.DataFrame, default=None
            Side information keyed by ``user_col`` (e.g. ``fetch_movielens().users``). It is
            validated (column present, ids unique); the model does not use its features yet.
        items : pandas.DataFrame, default=None
            Side information keyed by ``item_col`` (e.g. ``fetch_movielens().movies``). Its
            other columns (e.g. the title) are appended to the output of :meth:`recommend`.

        Returns
        -------
        self : MultiTaskRecommender
            The fitted estimator.
        """
        check_params(self)
        user_ids, item_ids = check_interactions(X, self.user_col, self.item_col)
        ratings = check_ratings(y, len(user_ids))
        if users is not None:
            check_side_frame(users, self.user_col, name="users")
        item_frame = None if items is None else check_side_frame(items, self.item_col, name="items")

        warm = self.warm_start and self.__sklearn_is_fitted__()
        if warm:
            user_encoder = self._user_encoder.extended(user_ids)
            item_encoder = self._item_encoder.extended(item_ids)
            low, high = self.rating_range_
        else:
            user_encoder, item_encoder = IdEncoder(user_ids), IdEncoder(item_ids)
            low, high = float(ratings.min()), float(ratings.max())
        u, i = user_encoder.transform(user_ids), item_encoder.transform(item_ids)
        scaled = (ratings - low) / ((high - low) or 1.0)

        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        train, callbacks = np.arange(len(u)), [_StopOnDivergence()]
        if self.early_stopping:
            train, held_out = self._validation_split(len(u), seed)
        model = MultiTaskModel(
            n_users=len(user_encoder),
            n_items=len(item_encoder),
            embedding_dim=self.embedding_dim,
            layer_sizes=tuple(self.layer_sizes),
            rating_head=self.rating_head,
            implicit_feedback=self.implicit_feedback,
            retrieval_negatives=self.retrieval_negatives,
            retrieval_weight=self.retrieval_weight,
            ranking_weight=self.ranking_weight,
            l2=self.l2,
            rating_mean=float(scaled[train].mean()),
            n_history=0,
            seed=seed,
        )
        # The SVD++ term sums over every pair trained on, in this fit and (warm) before.
        history_u, history_i = u[train], i[train]
        if warm:
            _check_same_architecture(self.model_, model)
            if self.implicit_feedback:
                history_u = np.concatenate([keras.ops.convert_to_numpy(self.model_.history_users), history_u])
                history_i = np.concatenate([keras.ops.convert_to_numpy(self.model_.history_items), history_i])
        if self.implicit_feedback:
            model.n_history = len(history_u)
        if self.early_stopping:
            seen = _seen_matrix(u[train], i[train], len(user_encoder), len(item_encoder))
            callbacks += [
                _ValidationScore(u[held_out], i[held_out], scaled[held_out], seen, self.rating_blend),
                keras.callbacks.EarlyStopping(
                    monitor="val_score", mode="max", patience=self.n_iter_no_change, restore_best_weights=True
                ),
            ]
        if warm:
            _copy_weights(self.model_, model)
        if self.implicit_feedback:
            model.set_history(history_u, history_i)
        batches = _Batches(u[train], i[train], scaled[train].astype("float32"), self.batch_size, seed)
        # Several steps per call into the trainer: the per-step callback and logging work of
        # Keras's loop runs once per _STEPS_PER_EXECUTION steps.
        model.compile(
            optimizer=self._make_optimizer(steps=len(batches) * self.epochs),
            steps_per_execution=min(len(batches), _STEPS_PER_EXECUTION),
        )
        history = model.fit(
            batches,
            epochs=self.epochs,
            verbose=self.verbose,
            callbacks=callbacks,
            shuffle=False,  # `_Batches` shuffles with its own generator
        )

        # Fitted state is only set once training succeeded: an interrupted fit leaves the
        # estimator as it was.
        new_history = {name: [float(v) for v in values] for name, values in history.history.items()}
        if warm:
            seen_u, seen_i = _pairs(self._seen_)
            prior = _rating_sums(self._seen_, self._fallback_, len(user_encoder), len(item_encoder))
            new_history = {name: self.history_.get(name, []) + values for name, values in new_history.items()}
            if item_frame is None and self.item_info_ is not None:
                item_frame = self.item_info_
            u_all, i_all = np.concatenate([seen_u, u]), np.concatenate([seen_i, i])
        else:
            prior, u_all, i_all = None, u, i
        self.model_ = model
        self.history_ = new_history
        self.users_ = user_encoder.index
        self.items_ = item_encoder.index
        self.rating_range_ = (low, high)
        self.item_info_ = None if item_frame is None else item_frame.reindex(item_encoder.index)
        self.n_features_in_ = X.shape[1] if hasattr(X, "shape") and len(X.shape) == 2 else 2
        self._user_encoder, self._item_encoder = user_encoder, item_encoder
        self._seen_ = _seen_matrix(u_all, i_all, len(user_encoder), len(item_encoder))
        self._fallback_ = _mean_ratings(u, i, ratings, len(user_encoder), len(item_encoder), prior)
        return self

    def _validation_split(self, n, seed):
        """Training and held-out row indices for early stopping: a seeded random split."""
        order = np.random.default_rng([seed, 1]).permutation(n)
        n_held_out = max(1, int(round(self.validation_fraction * n)))
        if n_held_out >= n:
            raise ValueError(
                f"early_stopping holds out validation_fraction={self.validation_fraction} of the "
                f"{n} ratings, i.e. {n_held_out}: it must leave at least one rating to train on. "
                f"Pass more ratings, a smaller fraction, or early_stopping=False."
            )
        return np.sort(order[n_held_out:]), np.sort(order[:n_held_out])

    def _make_optimizer(self, steps):
        learning_rate = self.learning_rate
        if self.lr_schedule == "cosine":
            learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(steps, 1))
        try:
            optimizer_class = type(keras.optimizers.get(self.optimizer))
        except (ValueError, TypeError):
            raise ValueError(
                f"`optimizer` must be the name of a Keras optimizer such as 'adam' or 'adagrad'; "
                f"got {self.optimizer!r}."
            ) from None
        params = dict(self.optimizer_params or {})
        try:
            return optimizer_class(learning_rate=learning_rate, **params)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"`optimizer_params` {params} do not fit the {optimizer_class.__name__} optimizer: {exc}") from None

    def set_params(self, **params):
        """Set parameters; ``optimizer__<name>=value`` sets one entry of ``optimizer_params``.

        Returns
        -------
        self : MultiTaskRecommender
        """
        nested = {key.split("__", 1)[1]: params.pop(key) for key in list(params) if key.startswith("optimizer__")}
        if nested:
            merged = {**(params.pop("optimizer_params", self.optimizer_params) or {}), **nested}
            params["optimizer_params"] = merged
        return super().set_params(**params)

    def save(self, path):
        """Write the fitted estimator to ``path``; read it back with :func:`skrec.load`.

        The file is a zip archive of a Keras ``.keras`` model, JSON metadata (the skrec,
        Keras and backend versions, the parameters) and NumPy arrays (the id vocabularies);
        loading it runs no code, unlike ``pickle``. A file is read by the same major.minor
        version of skrec.

        Parameters
        ----------
        path : str or path-like
            Where to write; an existing file is replaced.
        """
        from skrec._persistence import save

        save(self, path)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "model_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.non_deterministic = self.random_state is None
        # `score` is the multi-task score, not R^2: sklearn's R^2 floor does not apply.
        tags.regressor_tags.poor_score = True
        return tags

    # -------------------------------------------------------------- predict
    def predict(self, X):
        """Predict the rating of each (user, item) pair, on the scale of the ``y`` of ``fit``.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, 2)
            The pairs, as in :meth:`fit`.

        Returns
        -------
        ratings : ndarray of shape (n_samples,)
            Predicted ratings, clipped to ``rating_range_``. Pairs with an unknown user or
            item get the cold-start fallback described in the class Notes.
        """
        check_is_fitted(self)
        user_ids, item_ids = check_interactions(X, self.user_col, self.item_col)
        return self._predict_codes(self._user_encoder.transform(user_ids), self._item_encoder.transform(item_ids))

    def _predict_codes(self, u, i):
        """Ratings of encoded pairs (``-1`` = unknown id), on the scale of ``y``."""
        known = (u >= 0) & (i >= 0)
        low, high = self.rating_range_
        out = np.empty(len(u), dtype=np.float64)
        for start in range(0, len(u), _PAIR_CHUNK):
            part = np.flatnonzero(known[start : start + _PAIR_CHUNK]) + start
            if len(part):
                padded = _pad_to_bucket(part)
                pred = keras.ops.convert_to_numpy(self.model_({"user": u[padded], "item": i[padded]})["rating"])
                out[part] = pred[: len(part)] * ((high - low) or 1.0) + low
        if not known.all():
            out[~known] = self._cold_start(u[~known], i[~known])
        return np.clip(out, low, high)

    def _cold_start(self, u, i):
        global_mean, user_mean, item_mean = self._fallback_
        n_users, n_items = int((u < 0).sum()), int((i < 0).sum())
        warnings.warn(
            f"{len(u)} pair(s) have a user or item not seen in fit ({n_users} with an unknown "
            f"user, {n_items} with an unknown item); they get the mean training rating of the "
            f"known side, or the global mean.",
            ColdStartWarning,
            stacklevel=4,
        )
        return np.where(u >= 0, user_mean[np.maximum(u, 0)], np.where(i >= 0, item_mean[np.maximum(i, 0)], global_mean))

    # ------------------------------------------------------------ recommend
    def recommend(self, user_ids, k=10, *, exclude_seen=True):
        """Return the top-``k`` items of each user, best first.

        Parameters
        ----------
        user_ids : scalar or array-like
            Ids of users seen in ``fit``. Repeated ids are answered once.
        k : int, default=10
            Items per user, ``1 <= k <= len(items_)``.
        exclude_seen : bool, default=True
            Leave out the items each user rated in ``fit``. A user with fewer than ``k`` unseen
            items gets all of them (fewer than ``k`` rows).

        Returns
        -------
        recommendations : pandas.DataFrame
            One row per (user, recommended item), sorted by user then rank, with the columns
            ``user_col``, ``"rank"`` (1 = best), ``item_col``, ``"score"`` (the retrieval
            score: higher is better) and the columns of ``item_info_`` if ``items`` was given
            to ``fit``.

        Raises
        ------
        ValueError
            If a user is unknown, or ``k`` is below 1 or above the catalogue size.
        """
        check_is_fitted(self)
        k = check_k(k, len(self.items_))
        requested = pd.Series([user_ids] if np.ndim(user_ids) == 0 else list(user_ids))
        if len(requested) == 0:
            raise ValueError("`user_ids` is empty: give at least one user id.")
        codes = self._user_encoder.transform(requested)
        unknown = pd.unique(requested[codes < 0])
        if len(unknown):
            shown = ", ".join(repr(x) for x in pd.Index(unknown[:5]).tolist())
            raise ValueError(
                f"{len(unknown)} user id(s) not seen in fit: {shown}"
                f"{', ...' if len(unknown) > 5 else ''}. recommend() only serves users in `users_`."
            )
        codes = np.unique(codes)  # sorted, as `users_` is: the output is sorted by user
        rows, ranks, items, scores = _top_k(self.model_, codes, k, self._seen_ if exclude_seen else None, self.rating_blend)
        out = pd.DataFrame(
            {
                self.user_col: self._user_encoder.inverse_transform(rows),
                "rank": ranks,
                self.item_col: self._item_encoder.inverse_transform(items),
                "score": scores,
            }
        )
        if self.item_info_ is not None:
            info = self.item_info_.iloc[items].reset_index(drop=True)
            out = pd.concat([out, info], axis=1)
        return out

    # ---------------------------------------------------------------- score
    def score(self, X, y):
        """Multi-task score on held-out ratings: the mean of a retrieval and a rating term.

        ``score = 0.5 * NDCG@10 + 0.5 * (1 - RMSE / (high - low))`` where

        * NDCG@10 grades the :meth:`recommend` lists (seen items excluded) of the users in
          ``X`` with gains ``(rating - low) / (high - low)`` of their held-out ratings (users
          unknown to the model are left out);
        * RMSE is that of :meth:`predict` on ``X`` (cold-start pairs included);
        * ``low, high = rating_range_``.

        Both terms lie in ``[0, 1]`` for ratings inside ``rating_range_``; higher is better. A
        model that neglects either task scores low, so ``GridSearchCV`` with the default
        scorer tunes the loss weights meaningfully. Use :func:`skrec.metrics.make_ranking_scorer`
        or ``"neg_root_mean_squared_error"`` to select on one task only.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, 2)
            Held-out (user, item) pairs.
        y : array-like of shape (n_samples,)
            Their ratings.

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        user_ids, item_ids = check_interactions(X, self.user_col, self.item_col)
        ratings = check_ratings(y, len(user_ids))
        low, high = self.rating_range_
        span = (high - low) or 1.0
        u = self._user_encoder.transform(user_ids)
        rmse = float(np.sqrt(np.mean((self._predict_codes(u, self._item_encoder.transform(item_ids)) - ratings) ** 2)))
        truth = pd.DataFrame({self.user_col: user_ids, self.item_col: item_ids, "gain": (ratings - low) / span})
        truth = truth[(truth["gain"] > 0) & (u >= 0)]
        ndcg = 0.0
        if len(truth):
            recommended = self.recommend(truth[self.user_col].unique(), k=min(10, len(self.items_)))
            ndcg = metrics.ndcg_at_k(
                truth, recommended, k=10, user_col=self.user_col, item_col=self.item_col, gain_col="gain"
            )
        return _multitask_score(ndcg, rmse / span)


def _multitask_score(ndcg, scaled_rmse):
    """The default score: the mean of NDCG@10 and one minus the RMSE on the [0, 1] scale."""
    return 0.5 * ndcg + 0.5 * (1.0 - scaled_rmse)


def _top_k(model, codes, k, seen, rating_blend):
    """Top-``k`` (user code, rank, item code, score) rows of sorted user ``codes``.

    ``seen`` is the (users x items) CSR matrix of items to leave out, or None. Users are scored
    in chunks of at most ``_SCORE_BUDGET`` scores, so memory does not grow with their number;
    each chunk's seen items are passed to the retrieval layer as a sparse list of (row, item)
    pairs and masked there. Users with fewer than ``k`` unseen items get fewer rows.
    """
    retrieval = ExcludingRetrieval(candidate_embeddings=model.candidate_embeddings(rating_blend), k=k)
    size = 1 << (max(1, min(_USER_CHUNK, _SCORE_BUDGET // model.n_items)).bit_length() - 1)  # a power of two
    parts = [_top_k_chunk(model, retrieval, codes[start : start + size], seen, rating_blend) for start in range(0, len(codes), size)]
    return tuple(np.concatenate(column) for column in zip(*parts))


def _top_k_chunk(model, retrieval, chunk, seen, rating_blend):
    # Users and seen pairs are padded to bucket sizes (repeating the last one), so that the
    # backend compiles its kernels for a few shapes, not for every request size.
    queries = model.query_embeddings(model.user_vectors(_pad_to_bucket(chunk)), rating_blend)
    excluded = None
    if seen is not None:
        chunk_seen = seen[chunk]
        if chunk_seen.nnz:
            coo = chunk_seen.tocoo()
            excluded = _pad_to_bucket(np.stack([coo.row, coo.col], axis=1).astype("int32"))
    scores, items = (keras.ops.convert_to_numpy(a)[: len(chunk)] for a in retrieval(queries, excluded=excluded))
    keep = np.isfinite(scores)
    rank = np.broadcast_to(np.arange(1, items.shape[1] + 1), items.shape)
    return np.broadcast_to(chunk[:, None], items.shape)[keep], rank[keep], items[keep], scores[keep]


def _pad_to_bucket(rows):
    """``rows`` with its last row repeated up to the next bucket size.

    Eager JAX compiles each operation once per input shape: padding requests to a few sizes
    keeps `predict` and `recommend` from compiling again for every new request size. Bucket
    sizes are 4 per power of two (4, 5, 6, 7 times a power of two), so padding adds < 25% and
    never takes a length past the next power of two (the chunk sizes are powers of two).
    """
    quantum = 1 << max(len(rows).bit_length() - 3, 0)
    size = -(-len(rows) // quantum) * quantum
    return np.concatenate([rows, np.repeat(rows[-1:], size - len(rows), axis=0)])


def _seen_matrix(u, i, n_users, n_items):
    """Boolean CSR (users x items) of the pairs ``(u[j], i[j])``, duplicates merged."""
    seen = sp.csr_matrix((np.ones(len(u), dtype=bool), (u, i)), shape=(n_users, n_items))
    seen.sum_duplicates()
    return seen


class _ValidationScore(keras.callbacks.Callback):
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
        predicted = keras.ops.convert_to_numpy(self.model({"user": self.users, "item": self.items})["rating"])
        rmse = float(np.sqrt(np.mean((np.clip(predicted, 0.0, 1.0) - self.ratings) ** 2)))
        ndcg = 0.0
        if len(self.truth):
            codes = np.unique(self.truth["user"].to_numpy())
            rows, ranks, items, _ = _top_k(self.model, codes, min(10, self.model.n_items), self.seen, self.rating_blend)
            recommended = pd.DataFrame({"user": rows, "rank": ranks, "item": items})
            ndcg = metrics.ndcg_at_k(self.truth, recommended, k=10, user_col="user", item_col="item", gain_col="gain")
        logs["val_score"] = _multitask_score(ndcg, rmse)
        logs["val_ndcg"] = ndcg
        logs["val_rmse"] = rmse


class _Batches(keras.utils.PyDataset):
    """Shuffled mini-batches of encoded ratings, reshuffled each epoch by a private generator.

    All batches have ``batch_size`` rows (unless the data set is smaller): the last one is
    completed with the epoch's first rows, which are then seen twice in that epoch.

    Owning the shuffle (rather than ``model.fit(shuffle=True)``, which draws from NumPy's or
    TensorFlow's global generator) makes training reproducible without touching global state.
    """

    def __init__(self, users, items, ratings, batch_size, seed):
        super().__init__()
        self._data = (users.astype("int32"), items.astype("int32"), ratings)
        self._batch_size = batch_size
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(len(ratings))

    def __len__(self):
        return -(-len(self._order) // self._batch_size)

    def __getitem__(self, index):
        rows = self._order[index * self._batch_size : (index + 1) * self._batch_size]
        if 0 < len(rows) < self._batch_size <= len(self._order):
            # Top the last batch up with the epoch's first rows (distinct from its own), so that
            # every step has one shape and the train step compiles once instead of twice.
            rows = np.concatenate([rows, self._order[: self._batch_size - len(rows)]])
        users, items, ratings = (a[rows] for a in self._data)
        return {"user": users, "item": items}, ratings

    def on_epoch_end(self):
        self._order = self._rng.permutation(len(self._order))


class _StopOnDivergence(keras.callbacks.Callback):
    """Raise :class:`TrainingDivergedError` naming the epoch when the loss stops being finite."""

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            raise TrainingDivergedError(
                f"Training diverged: the loss is {loss} at epoch {epoch + 1}. "
                f"Lower `learning_rate` or `retrieval_weight`."
            )


def _mean_ratings(u, i, ratings, n_users, n_items, prior=None):
    """Global, per-user and per-item mean training ratings: the cold-start fallbacks.

    ``prior`` holds the (sum, count) of ratings of earlier fits (warm start), or None.
    """
    (g_sum, g_count), (u_sum, u_count), (i_sum, i_count) = prior or ((0.0, 0), (0.0, 0), (0.0, 0))
    user_sum = np.bincount(u, ratings, n_users) + u_sum
    user_count = np.bincount(u, minlength=n_users) + u_count
    item_sum = np.bincount(i, ratings, n_items) + i_sum
    item_count = np.bincount(i, minlength=n_items) + i_count
    global_mean = (ratings.sum() + g_sum) / (len(ratings) + g_count)
    return float(global_mean), user_sum / np.maximum(user_count, 1), item_sum / np.maximum(item_count, 1)


def _rating_sums(seen, fallback, n_users, n_items):
    """(sum, count) of earlier ratings recovered from their means and the seen pairs."""
    global_mean, user_mean, item_mean = fallback
    user_count = np.diff(seen.indptr)
    item_count = np.bincount(seen.indices, minlength=seen.shape[1])
    pad = lambda a, n: np.pad(a, (0, n - len(a)))  # noqa: E731
    return (
        (global_mean * seen.nnz, seen.nnz),
        (pad(user_mean * user_count, n_users), pad(user_count, n_users)),
        (pad(item_mean * item_count, n_items), pad(item_count, n_items)),
    )


def _pairs(seen):
    """The (user, item) code pairs of a CSR matrix."""
    return np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr)), seen.indices


def _check_same_architecture(old, new):
    sizes = ("n_users", "n_items", "n_history", "rating_mean", "seed", "name", "trainable", "dtype")
    old_config = {k: v for k, v in old.get_config().items() if k not in sizes}
    new_config = {k: v for k, v in new.get_config().items() if k not in sizes}
    if old_config != new_config:
        changed = sorted(k for k in old_config if old_config[k] != new_config.get(k))
        raise ValueError(
            f"warm_start continues the fitted model, so its architecture must not change; "
            f"these parameters differ from the fitted model: {changed}. Set warm_start=False to refit."
        )


def _copy_weights(old, new):
    """Copy ``old``'s weights into ``new``, whose user and item tables may have more rows."""
    new.build()
    for target, source in zip(new.weights, old.weights):
        value = keras.ops.convert_to_numpy(source)
        if tuple(target.shape) != value.shape:
            grown = keras.ops.convert_to_numpy(target).copy()
            grown[: value.shape[0]] = value
            value = grown
        target.assign(value)
