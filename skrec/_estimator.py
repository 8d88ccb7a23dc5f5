"""MultiTaskRecommender: the scikit-learn estimator around the joint retrieval + ranking Keras model."""

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from skrec import _persistence, metrics
from skrec._interactions import build_training_set
from skrec._model import MultiTaskModel, check_same_architecture, copy_weights
from skrec._retrieval import predict_scaled, top_k
from skrec._training import TrainingOptions, multitask_score, train
from skrec._validation import (
    check_interactions,
    check_k,
    check_params,
    check_ratings,
    check_side_frame,
)
from skrec.exceptions import ColdStartWarning

__all__ = ["MultiTaskRecommender", "SEED_PARAMS", "load"]

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


class MultiTaskRecommender(RegressorMixin, BaseEstimator):
    """Two-tower recommender that learns retrieval and rating prediction in one Keras model.

    User and item embeddings are shared by two tasks, trained together on
    ``retrieval_weight * retrieval_loss + ranking_weight * rating_loss + l2 * penalty``:

    * **retrieval** (which items will this user engage with): a softmax cross-entropy of each
      rated item against every item of the catalogue (``retrieval_negatives="catalogue"``),
      against a sample of items with the log-Q correction (``"sampled"``), or against the
      other items of the batch (``"in_batch"``, the Keras-RS example). :meth:`recommend`
      serves it with keras-rs ``BruteForceRetrieval``;
    * **ranking** (what rating will this user give this item): the mean squared error of the
      rating head on ratings scaled to ``[0, 1]``. :meth:`predict` returns ratings on the
      scale of ``y``.

    The defaults are the configuration that beats Surprise's SVD, SVD++ and KNNBaseline on
    rating error and implicit's ALS and LightFM's WARP on top-10 ranking on MovieLens 100k
    (``docs/benchmark_movielens.md``): 64-d embeddings, an SVD++-style user vector, a biased
    matrix-factorisation rating head, softmax retrieval over the catalogue (sampled for
    catalogues of more than 2,048 items), Adam with a cosine schedule over 16 epochs.
    ``MultiTaskRecommender(**skrec.SEED_PARAMS)`` is the model of the Keras-RS example
    "Multi-task recommenders: retrieval + ranking".

    **Cost at scale.** A training step costs the same whatever the numbers of ratings, users
    and items: the SVD++ term reads a bounded sample of each batch user's history
    (``max_history``), the retrieval loss scores a bounded sample of the catalogue
    (``n_negatives``), and on JAX only the embedding rows a batch names are read and updated
    (row-sparse updates: exact for SGD and Adagrad, "lazy Adam" for Adam, see Notes). One
    epoch of the defaults costs about 8 s per million ratings on 2 CPU cores from 10^4 to
    10^6 users and 10^4 to 10^5 items (``docs/speed_and_scale.md``).

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
        Add to each user vector the SVD++ term (Koren, "Factorization meets the
        neighborhood", KDD 2008): ``|N(u)|^-1/2`` times the sum of a third item table over the
        items ``N(u)`` the user rated in training (an item rated twice counts once).
    max_history : int, default=32
        Most history items the SVD++ term reads for a user in one training step. A longer
        history is replaced by a systematic sample of this many items, rescaled so that its
        expected sum is the full one; predictions and recommendations always use the whole
        history. While training, a user's ratings come in runs of up to 8 in a batch, so the
        history is read once for them.
    retrieval_negatives : {"auto", "catalogue", "sampled", "in_batch"}, default="auto"
        ``"catalogue"``: full softmax over all items, averaged over the batch, on separate
        linear maps of the user and item vectors plus a learned item bias; its cost per step
        grows with the catalogue. ``"sampled"``: the same scores against ``n_negatives``
        drawn items, half from the batch's items (so in proportion to their popularity) and
        half uniformly from the catalogue, each logit corrected by the log of its item's
        sampling probability (the log-Q correction of Yi et al., RecSys 2019; mixed negative
        sampling, Yang et al., WWW 2020). ``"auto"``: ``"catalogue"`` for catalogues of at
        most ``4 * n_negatives`` items (2,048 by default), else ``"sampled"``; the choice made
        is ``retrieval_negatives_``. ``"in_batch"``: the Keras-RS example's in-batch softmax on
        the raw dot product, summed over the batch (so a ``retrieval_weight`` about
        ``1 / batch_size`` of the others keeps the same balance).
    n_negatives : int, default=512
        Items drawn per training step by ``"sampled"`` negatives.
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
    learning_rate : float, default=0.005
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
    retrieval_negatives_ : str
        The retrieval loss's negatives used: ``retrieval_negatives`` with ``"auto"`` resolved.
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

    **Row-sparse training.** On JAX, with the ``"adam"``, ``"adagrad"`` or ``"sgd"``
    optimizer (and no gradient clipping, weight decay, AMSGrad or EMA), a training step reads
    and updates only the embedding rows its batch names (``skrec._row_sparse``), so its cost
    does not grow with the tables. For SGD and Adagrad the update is exactly Keras's. For Adam
    it is "lazy Adam" (as TensorFlow Addons' ``LazyAdam`` and PyTorch's ``SparseAdam``): a row
    absent from a batch keeps its moments and does not move, where dense Adam would keep
    moving it on its momentum. Other optimizers and options, the TensorFlow backend and Keras
    distributions use Keras's dense update of every row, whose cost grows with the tables.

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
        max_history=32,
        retrieval_negatives="auto",
        n_negatives=512,
        retrieval_weight=0.1,
        ranking_weight=1.0,
        l2=0.025,
        rating_blend=2.0,
        optimizer="adam",
        optimizer_params=None,
        learning_rate=0.005,
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
        self.max_history = max_history
        self.retrieval_negatives = retrieval_negatives
        self.n_negatives = n_negatives
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
        item_frame = self._check_side_frames(users, items)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        data = self._training_set(user_ids, item_ids, ratings, seed)
        model = self._build_model(data, seed)
        history = self._train(model, data, seed)
        # Fitted state is only set once training succeeded: an interrupted fit leaves the
        # estimator as it was.
        self._set_fitted_state(model, data.interactions, self._merged_history(history), self._item_info(item_frame, data))
        self.n_features_in_ = X.shape[1] if hasattr(X, "shape") and len(X.shape) == 2 else 2
        return self

    def _warm(self):
        """Whether this fit continues the fitted model (``warm_start``)."""
        return self.warm_start and self.__sklearn_is_fitted__()

    def _check_side_frames(self, users, items):
        """Validate the side frames; return ``items`` indexed by item id, or None."""
        if users is not None:
            check_side_frame(users, self.user_col, name="users")
        return None if items is None else check_side_frame(items, self.item_col, name="items")

    def _training_set(self, user_ids, item_ids, ratings, seed):
        """Step 1: encode the ratings (extending the fitted vocabularies when warm)."""
        return build_training_set(
            user_ids,
            item_ids,
            ratings,
            previous=self._interactions_ if self._warm() else None,
            validation_fraction=self.validation_fraction if self.early_stopping else None,
            seed=seed,
        )

    def _build_model(self, data, seed):
        """Step 2: a new Keras model sized for ``data`` (holding the fitted weights when warm)."""
        model = MultiTaskModel(
            n_users=data.n_users,
            n_items=data.n_items,
            embedding_dim=self.embedding_dim,
            layer_sizes=tuple(self.layer_sizes),
            rating_head=self.rating_head,
            implicit_feedback=self.implicit_feedback,
            retrieval_negatives=self._negatives_for(data.n_items),
            retrieval_weight=self.retrieval_weight,
            ranking_weight=self.ranking_weight,
            l2=self.l2,
            rating_mean=data.rating_mean(),
            seed=seed,
        )
        if self._warm():
            check_same_architecture(self.model_, model)
            copy_weights(self.model_, model)
        return model

    def _negatives_for(self, n_items):
        """The retrieval loss's negatives: ``retrieval_negatives``, with ``"auto"`` resolved.

        ``"auto"`` scores the whole catalogue when it has at most ``4 * n_negatives`` items (its
        exact gradient is worth up to four times the cost of the sampled one), else samples; a
        warm start keeps the fitted model's choice.
        """
        if self._warm():
            return self.model_.retrieval_negatives
        if self.retrieval_negatives != "auto":
            return self.retrieval_negatives
        return "catalogue" if n_items <= 4 * self.n_negatives else "sampled"

    def _train(self, model, data, seed):
        """Step 3: train ``model`` on ``data``; return the per-epoch history."""
        options = TrainingOptions(
            optimizer=self.optimizer,
            optimizer_params=self.optimizer_params,
            learning_rate=self.learning_rate,
            lr_schedule=self.lr_schedule,
            batch_size=self.batch_size,
            epochs=self.epochs,
            early_stopping=self.early_stopping,
            n_iter_no_change=self.n_iter_no_change,
            rating_blend=self.rating_blend,
            verbose=self.verbose,
            max_history=self.max_history,
            n_negatives=self.n_negatives,
        )
        return train(model, data, options, seed)

    def _merged_history(self, history):
        """This fit's history, appended to the earlier fits' when warm."""
        if not self._warm():
            return history
        return {name: self.history_.get(name, []) + values for name, values in history.items()}

    def _item_info(self, item_frame, data):
        """The ``items`` frame restricted to the catalogue (the fitted one when warm and absent)."""
        if item_frame is None and self._warm():
            item_frame = self.item_info_
        return None if item_frame is None else item_frame.reindex(data.interactions.items.index)

    def _set_fitted_state(self, model, interactions, history, item_info):
        """Step 4: the fitted attributes, set together (by ``fit`` and by :func:`load`)."""
        self.model_ = model
        self.history_ = history
        self.users_ = interactions.users.index
        self.items_ = interactions.items.index
        self.rating_range_ = interactions.rating_range
        self.retrieval_negatives_ = model.retrieval_negatives
        self.item_info_ = item_info
        self._interactions_ = interactions

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
        check_is_fitted(self)
        _persistence.save(
            path,
            params=self.get_params(),
            model=self.model_,
            interactions=self._interactions_,
            history=self.history_,
            item_info=self.item_info_,
        )

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
        return self._predict_codes(*self._interactions_.encode(user_ids, item_ids))

    def _predict_codes(self, u, i):
        """Ratings of encoded pairs (``-1`` = unknown id), on the scale of ``y``."""
        known = (u >= 0) & (i >= 0)
        low, high = self.rating_range_
        out = np.empty(len(u), dtype=np.float64)
        if known.any():
            scaled = predict_scaled(self.model_, u[known], i[known], self._interactions_.seen)
            out[known] = scaled * self._interactions_.span + low
        if not known.all():
            out[~known] = self._cold_start(u[~known], i[~known])
        return np.clip(out, low, high)

    def _cold_start(self, u, i):
        n_users, n_items = int((u < 0).sum()), int((i < 0).sum())
        warnings.warn(
            f"{len(u)} pair(s) have a user or item not seen in fit ({n_users} with an unknown "
            f"user, {n_items} with an unknown item); they get the mean training rating of the "
            f"known side, or the global mean.",
            ColdStartWarning,
            stacklevel=4,
        )
        return self._interactions_.cold_start_ratings(u, i)

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
        codes = np.unique(self._known_user_codes(user_ids))  # sorted, as `users_` is
        seen = self._interactions_.seen
        rows, ranks, items, scores = top_k(self.model_, codes, k, seen if exclude_seen else None, self.rating_blend, seen)
        return self._recommendation_frame(rows, ranks, items, scores)

    def _known_user_codes(self, user_ids):
        """Embedding rows of the requested users; ``ValueError`` naming unknown ones."""
        requested = pd.Series([user_ids] if np.ndim(user_ids) == 0 else list(user_ids))
        if len(requested) == 0:
            raise ValueError("`user_ids` is empty: give at least one user id.")
        codes = self._interactions_.users.transform(requested)
        unknown = pd.unique(requested[codes < 0])
        if len(unknown):
            shown = ", ".join(repr(x) for x in pd.Index(unknown[:5]).tolist())
            raise ValueError(
                f"{len(unknown)} user id(s) not seen in fit: {shown}"
                f"{', ...' if len(unknown) > 5 else ''}. recommend() only serves users in `users_`."
            )
        return codes

    def _recommendation_frame(self, rows, ranks, items, scores):
        """The long output frame of :meth:`recommend` from encoded top-k rows."""
        out = pd.DataFrame(
            {
                self.user_col: self._interactions_.users.inverse_transform(rows),
                "rank": ranks,
                self.item_col: self._interactions_.items.inverse_transform(items),
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
        u, i = self._interactions_.encode(user_ids, item_ids)
        span = self._interactions_.span
        rmse = float(np.sqrt(np.mean((self._predict_codes(u, i) - ratings) ** 2)))
        gains = (ratings - self.rating_range_[0]) / span
        truth = pd.DataFrame({self.user_col: user_ids, self.item_col: item_ids, "gain": gains})
        return multitask_score(self._graded_ndcg(truth[(truth["gain"] > 0) & (u >= 0)]), rmse / span)

    def _graded_ndcg(self, truth):
        """NDCG@10 of the :meth:`recommend` lists of ``truth``'s users, graded by its gains."""
        if not len(truth):
            return 0.0
        recommended = self.recommend(truth[self.user_col].unique(), k=min(10, len(self.items_)))
        return metrics.ndcg_at_k(truth, recommended, k=10, user_col=self.user_col, item_col=self.item_col, gain_col="gain")


def load(path):
    """Read an estimator written by :meth:`MultiTaskRecommender.save`.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    estimator : MultiTaskRecommender
        The fitted estimator, with the same ``predict``, ``recommend`` and ``score`` outputs as
        the one that was saved (on the same backend).

    Raises
    ------
    ValueError
        If the file is not a skrec model file, is truncated or corrupt, or was written by a
        version of skrec or Keras this one cannot read.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> import skrec
    >>> X = pd.DataFrame({"user_id": [1, 1, 2, 2], "movie_id": [10, 20, 10, 30]})
    >>> rec = skrec.MultiTaskRecommender(epochs=1, random_state=0).fit(X, [5, 3, 4, 2])
    >>> path = os.path.join(tempfile.mkdtemp(), "rec.skrec")
    >>> rec.save(path)
    >>> skrec.load(path).recommend([1], k=1).shape
    (1, 4)
    """
    state = _persistence.load(path)
    estimator = MultiTaskRecommender(**state.params)
    estimator._set_fitted_state(state.model, state.interactions, state.history, state.item_info)
    estimator.n_features_in_ = 2
    return estimator

