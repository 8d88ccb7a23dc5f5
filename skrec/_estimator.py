"""MultiTaskRecommender: the scikit-learn estimator around the joint retrieval + ranking Keras model."""

import numbers

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state, check_scalar
from sklearn.utils.validation import check_is_fitted

from skrec import _fitting, _persistence, _serving
from skrec._model import model_from_state, model_state
from skrec._new_ids import extended_codes
from skrec._recipe import recipe_of_model
from skrec._requests import build_request
from skrec._validation import (
    check_id_list,
    check_interactions,
    check_k,
    check_params,
    check_ratings,
    check_sample_weight,
    check_side_frames,
    check_trusted,
    input_features,
    rating_name,
    read_ids,
)
from skrec._warnings import warn

__all__ = ["MultiTaskRecommender", "load"]


class MultiTaskRecommender(RegressorMixin, BaseEstimator):
    """Two-tower recommender that learns retrieval and rating prediction in one Keras model.

    User and item embeddings are shared by two tasks, trained together on
    ``retrieval_weight * retrieval_loss + ranking_weight * rating_loss + l2 * penalty``:

    * **retrieval** (which items will this user engage with): a softmax cross-entropy of each
      interaction's item against the catalogue, a sample of it with the log-Q correction, or
      the batch's other items; :meth:`recommend` serves it with keras-rs
      ``BruteForceRetrieval``;
    * **ranking** (what rating will this user give this item): the mean squared error of the
      rating head on ratings scaled to ``[0, 1]``; :meth:`predict` returns ratings on the
      scale of ``y``.

    The defaults are biased matrix factorisation with SVD++ user and item-side implicit
    terms, catalogue softmax retrieval and EASE's item-item term in the ranking score.
    Parameters set to ``"auto"`` are resolved once per ``fit`` from the training data into
    ``recipe_`` (:doc:`/recipe`); how each default was chosen is on :doc:`/defaults`.
    ``MultiTaskRecommender(**skrec.SEED_PARAMS)`` is the model of the Keras-RS example
    "Multi-task recommenders: retrieval + ranking".

    Parameters
    ----------
    embedding_dim : int, default=64
        Width of the user and item embeddings.
    layer_sizes : tuple of int, default=(256, 128)
        Hidden layer widths (ReLU) of the ``"mlp"`` rating head, followed by one linear unit.
    rating_head : {"dot", "mlp"}, default="dot"
        ``"dot"``: ``mean + user bias + item bias + user vector · item vector`` (biased matrix
        factorisation). ``"mlp"``: the Keras-RS example's MLP over the concatenated vectors.
    implicit_feedback : bool, default=True
        Add the SVD++ term to each user vector: ``|N(u)|^-1/2`` times the sum of an item table
        over the user's history ``N(u)`` (Koren, KDD 2008).
    max_history : int, default=64
        Most history items the SVD++ term reads per user in one training step (a larger
        history is sampled, rescaled to the same expected sum); serving reads all of it.
    item_implicit_feedback : bool, default=True
        Add to the rating head's item vector ``|R(i)|^-1/2`` times the sum of a user table over
        the item's raters ``R(i)`` (Rendle, ACM TIST 2012). Used only when the data has
        ratings (:doc:`/recipe`).
    max_raters : int, default=64
        Most raters the item-side term reads per item in one training step (sampled as
        ``max_history``; a step reads at most ``max_raters / 2`` rater entries per row).
    retrieval_negatives : {"auto", "catalogue", "sampled", "in_batch"}, default="auto"
        ``"catalogue"``: softmax over every item. ``"sampled"``: over ``n_negatives`` items
        drawn half from the batch, half uniformly, with the log-Q correction (Yi et al., RecSys
        2019). ``"in_batch"``: the Keras-RS example's in-batch softmax. ``"auto"``: :doc:`/recipe`.
    n_negatives : int, default=512
        Items drawn per training step by ``"sampled"`` negatives.
    retrieval_weight : float, default=0.1
        Weight of the retrieval loss, ``>= 0``; ``0`` trains a rating-only model.
    ranking_weight : float, default=1.0
        Weight of the rating loss, ``>= 0``; ``0`` trains a retrieval-only model.
    l2 : "auto" or float, default="auto"
        Weight of the L2 penalty on the user and item vectors and biases, ``>= 0``.
        ``"auto"`` scales it with the interactions per id (:doc:`/recipe`).
    l2_form : {"auto", "per_interaction", "per_id"}, default="auto"
        ``"per_interaction"``: each training row charges its user's and item's parameters
        (Zhou et al., AAIM 2008). ``"per_id"``: each user and item is charged once, as by a
        Gaussian prior (Salakhutdinov & Mnih, NeurIPS 2007). ``"auto"``: :doc:`/recipe`.
    rating_blend : float, default=2.0
        :meth:`recommend` ranks by ``retrieval score + rating_blend * predicted rating`` (on
        ``[0, 1]``); ``0`` ranks by retrieval alone. Needs ``rating_head="dot"``.
    item_item : {"auto", "ease"} or None, default="auto"
        Add ``item_item_weight * x_u B`` to the ranking score, with ``x_u`` the user's history
        and ``B`` EASE's item-item weights (Steck, WWW 2019), solved once per ``fit`` in
        ``O(n_items^3)`` time and ``4 * n_items^2`` bytes. ``"auto"``: :doc:`/recipe`.
    item_item_weight : "auto" or float, default="auto"
        Weight of the item-item term in the ranking score, ``>= 0``; ``0`` turns it off.
        ``"auto"``: ``2000 / item_item_l2`` (4 at a penalty of 500), see :doc:`/recipe`.
    item_item_l2 : "auto" or float, default="auto"
        EASE's L2 penalty (its lambda), in interactions; a value too small for the solve
        raises ``ValueError`` before training. ``"auto"``: chosen by NDCG@10 on a per-user
        holdout of the seen pairs (as EASE's paper chooses it), see :doc:`/recipe`.
    optimizer : str, default="adam"
        Name of a Keras optimizer (``"adam"``, ``"adagrad"``, ``"sgd"``, ``"rmsprop"``, ...).
    optimizer_params : dict or None, default=None
        Further keyword arguments of the optimizer; also settable one by one as
        ``optimizer__<name>`` (e.g. ``set_params(optimizer__beta_1=0.8)``).
    learning_rate : "auto" or float, default="auto"
        (Initial) learning rate, ``> 0``. ``"auto"`` follows the schedule, scaled by the square
        root of ``batch_size`` over the schedule's own (:doc:`/recipe`).
    lr_schedule : {"auto", "constant", "cosine"}, default="auto"
        ``"cosine"`` decays the rate to 0 over ``epochs`` (Keras ``CosineDecay``).
        ``"auto"``: :doc:`/recipe`.
    batch_size : "auto" or int, default="auto"
        Training rows per step; the last batch of an epoch is completed from its start.
        ``"auto"``: 2,048 under a cosine schedule (1,024 when an epoch would have fewer than 32
        steps), 1,024 under a constant one (:doc:`/recipe`).
    epochs : int, default=24
        Maximum passes over the training rows.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, :meth:`score` them after each epoch and
        stop after ``n_iter_no_change`` epochs without improvement, with the best weights.
    validation_fraction : float, default=0.05
        Share of the training rows held out for early stopping, in ``(0, 1)``.
    n_iter_no_change : int, default=3
        Epochs without improvement of the validation score before training stops.
    swa_fraction : "auto" or float, default="auto"
        Share of the last epochs whose weights are averaged (stochastic weight averaging,
        Izmailov et al., UAI 2018), in ``[0, 1]``; ``0`` keeps the last epoch's weights.
        ``"auto"`` follows the schedule (:doc:`/recipe`).
    warm_start : bool, default=False
        If True, ``fit`` on a fitted estimator continues its model on the new rows (new ids get
        new rows) and keeps its recipe; architecture parameters must not change.
    unknown_users : {"popular", "error"}, default="popular"
        :meth:`recommend` for a user unknown to ``fit`` without ``history``: the most popular
        items with a :class:`~skrec.exceptions.ColdStartWarning`, or ``ValueError``.
    user_features, item_features : "auto", None or transformer, default="auto"
        How the columns of the ``users`` / ``items`` frames become features of the vectors
        (LightFM's design, Kula 2015): ``"auto"`` encodes each column by its dtype, a
        scikit-learn transformer is cloned and fitted, None uses none (:doc:`/guide/side_features`).
    id_dropout : float, default=0.0
        Share of training rows in which an id's own embedding is hidden, so that its features
        must score it (DropoutNet, Volkovs et al., NeurIPS 2017), in ``[0, 1)``.
    user_col, item_col : str, default="user_id", "movie_id"
        Columns of ``X`` holding the user and item ids.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights and the batches' order: the same int gives the same model
        on the same machine and backend.
    verbose : int, default=0
        0 is silent, 1 shows Keras's progress bar, 2 one line per epoch.

    Attributes
    ----------
    recipe_ : skrec._recipe.Recipe
        Every setting the ``"auto"`` parameters resolved to, and what decided each; printing
        it shows a table (:doc:`/recipe`).
    model_ : keras.Model
        The fitted Keras model (:class:`skrec._model.MultiTaskModel`).
    history_ : dict of str to list of float
        Per-epoch losses (``"loss"``, ``"retrieval_loss"``, ``"rating_loss"``; with early
        stopping ``"val_score"``, ``"val_ndcg"``, ``"val_rmse"``).
    users_, items_ : pandas.Index
        The user and item ids seen in ``fit``, sorted; row ``i`` of a table is id ``i``.
    rating_col_ : str
        The name of ``y`` in ``fit`` (``"rating"`` if it had none): the column of a
        ``history`` frame that :meth:`recommend` reads ratings from (``"rating"`` also works).
    rating_range_ : tuple of float
        Lowest and highest rating of ``fit``: ratings are scaled to ``[0, 1]`` by it and
        predictions clipped to it.
    user_feature_names_, item_feature_names_ : ndarray of str
        The side features of the user and item vectors; empty without side frames.
    item_info_ : pandas.DataFrame or None
        The ``items`` frame of ``fit`` indexed by item id; its columns join :meth:`recommend`'s.
        A warm fit's frame replaces the rows of the ids it lists; the others keep theirs.
    retrieval_negatives_, l2_, l2_form_, item_item_ : str, float, str, str or None
        The same values as ``recipe_.retrieval_negatives``, ``.l2``, ``.l2_form`` and ``.item_item``.
    n_features_in_ : int
        Number of columns of ``X`` in ``fit``; only the user and item columns are used.

    See Also
    --------
    skrec.SeedEnsemble : The mean of several fits that differ only in their seed.
    skrec.metrics.make_ranking_scorer : Scorers for recall@k, NDCG@k, ... in model selection.

    Notes
    -----
    On JAX with ``"adam"``, ``"adagrad"`` or ``"sgd"`` a training step updates only the
    embedding rows its batch names (for Adam, "lazy Adam"), so its cost does not grow with
    the tables; other optimizers and backends update every row (:doc:`/guide/scale`).
    :meth:`predict` gives a pair with an unknown user or item the mean rating of the known
    side (or the global mean) with a :class:`~skrec.exceptions.ColdStartWarning`.

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
    >>> rec.recipe_.l2_form
    'per_id'
    """

    def __init__(
        self,
        *,
        embedding_dim=64,
        layer_sizes=(256, 128),
        rating_head="dot",
        implicit_feedback=True,
        max_history=64,
        item_implicit_feedback=True,
        max_raters=64,
        retrieval_negatives="auto",
        n_negatives=512,
        retrieval_weight=0.1,
        ranking_weight=1.0,
        l2="auto",
        l2_form="auto",
        rating_blend=2.0,
        item_item="auto",
        item_item_weight="auto",
        item_item_l2="auto",
        optimizer="adam",
        optimizer_params=None,
        learning_rate="auto",
        lr_schedule="auto",
        batch_size="auto",
        epochs=24,
        early_stopping=False,
        validation_fraction=0.05,
        n_iter_no_change=3,
        swa_fraction="auto",
        warm_start=False,
        unknown_users="popular",
        user_features="auto",
        item_features="auto",
        id_dropout=0.0,
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
        self.item_implicit_feedback = item_implicit_feedback
        self.max_raters = max_raters
        self.retrieval_negatives = retrieval_negatives
        self.n_negatives = n_negatives
        self.retrieval_weight = retrieval_weight
        self.ranking_weight = ranking_weight
        self.l2 = l2
        self.l2_form = l2_form
        self.rating_blend = rating_blend
        self.item_item = item_item
        self.item_item_weight = item_item_weight
        self.item_item_l2 = item_item_l2
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
        self.unknown_users = unknown_users
        self.user_features = user_features
        self.item_features = item_features
        self.id_dropout = id_dropout
        self.swa_fraction = swa_fraction
        self.user_col = user_col
        self.item_col = item_col
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y=None, sample_weight=None, *, users=None, items=None):
        """Learn embeddings, the rating head and the retrieval head from interactions.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, n_columns)
            One row per interaction (a rating, a click, a view) with the columns ``user_col``
            and ``item_col`` (or, in an array, columns 0 and 1); other columns are ignored.
            Ids are ints, strings or other labels, one kind per column.
        y : array-like of shape (n_samples,) or None, default=None
            The ratings, on any scale. NaN (or ``None``, ``pd.NA``) marks an interaction
            without a rating: it trains retrieval, not the rating loss. ``None`` (or all NaN)
            trains an implicit-feedback model, which recommends but does not predict ratings.
        sample_weight : array-like of shape (n_samples,) or float, default=None
            Weight of each row in both losses (each loss is the weighted mean over its rows);
            non-negative and finite. Routed by metadata routing (``set_fit_request``).
        users, items : pandas.DataFrame, default=None
            Side information keyed by ``user_col`` / ``item_col``, one row per id; the other
            columns become features (``user_features``, ``item_features``), and ``items``'
            columns are appended to :meth:`recommend`'s output.

        Returns
        -------
        self : MultiTaskRecommender
            The fitted estimator.

        Raises
        ------
        ValueError
            If a parameter, ``X``, ``y``, ``sample_weight`` or a side frame is invalid (the
            message names it), if ``item_item_l2`` is too small for the item-item solve, or,
            with ``warm_start``, if an architecture parameter changed; all before training.
        """
        check_params(self)
        user_ids, item_ids = check_interactions(X, self.user_col, self.item_col)
        ratings = check_ratings(y, len(user_ids))
        weights = check_sample_weight(sample_weight, len(user_ids))
        frames = check_side_frames(users, items, self.user_col, self.item_col, (user_ids, item_ids))
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        params, fitted = self.get_params(deep=False), self._fitted()
        features = _fitting.side_features(params, frames, fitted)
        data = _fitting.training_set(params, user_ids, item_ids, ratings, weights, seed, features, fitted)
        recipe = _fitting.recipe_for(params, data, seed, fitted)
        _fitting.check_devices(recipe.batch_size)
        model = _fitting.build_model(params, recipe, data, seed, features, fitted)
        history = _fitting.train_model(params, recipe, model, data, seed)
        # Fitted state is only set once training succeeded: an interrupted fit leaves the
        # estimator as it was.
        encoders = {space: None if side is None else side.encoder for space, side in features.items()}
        item_info = _fitting.item_info(frames["item"], data, fitted)
        self._set_fitted_state(model, data.interactions, _fitting.merged_history(history, fitted), item_info, encoders, recipe, rating_name(y))
        self._record_features(X)
        return self

    def _record_features(self, X):
        """``n_features_in_`` and, for a frame with str column names, ``feature_names_in_``."""
        self.n_features_in_, names = input_features(X)
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _read_ids(self, X):
        """The user and item ids of ``X``: by name from a frame, by position from an array (see :func:`read_ids`)."""
        return read_ids(X, self.user_col, self.item_col, getattr(self, "feature_names_in_", None), type(self).__name__)

    def _fitted(self):
        """The fitted state this fit continues (``warm_start`` on a fitted estimator), else None."""
        if not (self.warm_start and self.__sklearn_is_fitted__()):
            return None
        return _fitting.Fitted(self.model_, self._interactions_, self._encoders_, self.recipe_, self.history_, self.item_info_)

    def _set_fitted_state(self, model, interactions, history, item_info, encoders, recipe, rating_col):
        """The fitted attributes, set together (by ``fit`` and :func:`load`); ``encoders`` per space, or None."""
        self.model_ = model
        self.history_ = history
        self.users_ = interactions.users.index
        self.items_ = interactions.items.index
        self.rating_range_ = interactions.rating_range
        self.rating_col_ = rating_col
        self.recipe_ = recipe
        self.retrieval_negatives_ = recipe.retrieval_negatives
        self.l2_ = recipe.l2
        self.l2_form_ = recipe.l2_form
        self.item_item_ = recipe.item_item
        self.item_info_ = item_info
        self.user_feature_names_ = np.asarray(model.feature_names["user"], dtype=object)
        self.item_feature_names_ = np.asarray(model.feature_names["item"], dtype=object)
        self._interactions_ = interactions
        self._encoders_ = dict(encoders)

    def set_params(self, **params):
        """Set parameters; ``optimizer__<name>=value`` sets one entry of ``optimizer_params``.

        Parameters
        ----------
        **params : dict
            Estimator parameters by name, and ``optimizer__<name>`` entries.

        Returns
        -------
        self : MultiTaskRecommender
            The estimator, with the new parameters.
        """
        nested = {key.split("__", 1)[1]: params.pop(key) for key in list(params) if key.startswith("optimizer__")}
        if nested:
            merged = {**(params.pop("optimizer_params", self.optimizer_params) or {}), **nested}
            params["optimizer_params"] = merged
        return super().set_params(**params)

    def save(self, path):
        """Write the fitted estimator to ``path``; read it back with :func:`skrec.load`.

        The file is a zip archive of JSON metadata, NumPy arrays and, with side features, the
        fitted transformers in ``skops.io``'s format: loading it runs no code, unlike
        ``pickle``. It is written beside ``path`` and moved into place, so an existing file is
        only ever replaced by a complete one. The same major.minor version of skrec reads it.

        Parameters
        ----------
        path : str or path-like
            Where to write; an existing file is replaced.

        Raises
        ------
        ValueError
            If a parameter, a feature transformer or a column of ``item_info_`` cannot be
            stored (e.g. a transformer holding a lambda); nothing is written then.
        """
        check_is_fitted(self)
        _persistence.save(
            path,
            params=self.get_params(deep=False),
            model=self.model_,
            interactions=self._interactions_,
            history=self.history_,
            item_info=self.item_info_,
            encoders=self._encoders_,
            recipe=self.recipe_,
            rating_col=self.rating_col_,
        )

    def __getstate__(self):
        """Pickle the Keras model as its configuration and weights (see :func:`skrec._model.model_state`)."""
        state = dict(super().__getstate__())  # a copy: object.__getstate__ returns __dict__ itself
        if "model_" in state:
            state["model_"] = ("skrec-model-state", *model_state(state["model_"]))
        return state

    def __setstate__(self, state):
        model = state.get("model_")
        if isinstance(model, tuple) and model and model[0] == "skrec-model-state":
            state = dict(state, model_=model_from_state(*model[1:]))
        if "model_" in state and "recipe_" not in state:  # pickled before recipes were kept
            state = dict(state, recipe_=recipe_of_model(state, state["model_"]))
        if "model_" in state and "rating_col_" not in state:  # pickled before the rating column was kept
            state = dict(state, rating_col_="rating")
        super().__setstate__(state)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "model_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.non_deterministic = self.random_state is None
        # `score` is the multi-task score, not R^2: sklearn's R^2 floor does not apply.
        tags.regressor_tags.poor_score = True
        return tags

    def predict(self, X, *, history=None, users=None, items=None):
        """Predict the rating of each (user, item) pair, on the scale of the ``y`` of ``fit``.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, 2)
            The pairs, as in :meth:`fit`.
        history : pandas.DataFrame or None, default=None
            Interactions of users unknown to ``fit``, as :meth:`recommend` takes them: their
            pairs are rated with the vector and rating bias folded in from it.
        users, items : pandas.DataFrame or None, default=None
            Side frames (as in :meth:`fit`) describing ids unknown to ``fit``: they are rated
            from their features.

        Returns
        -------
        ratings : ndarray of shape (n_samples,)
            Predicted ratings, clipped to ``rating_range_``; a pair with an id unknown to the
            model, the frames and ``history`` gets the mean rating of its known side.

        Raises
        ------
        ValueError
            If the model was fitted without any rating (implicit feedback): it has no rating
            scale to predict on; if a frame is given for a side the model has no features of,
            or lacks a column its features were fitted on; if ``history`` holds users seen in
            ``fit`` or ratings outside ``rating_range_``.
        TypeError
            If the ids of ``X`` or of a frame are of another kind (strings, numbers) than the
            model's.

        Examples
        --------
        >>> import pandas as pd
        >>> from skrec import MultiTaskRecommender
        >>> X = pd.DataFrame({"user_id": [1, 1, 2, 2], "movie_id": [10, 20, 10, 30]})
        >>> movies = pd.DataFrame({"movie_id": [10, 20, 30], "genre": ["Drama", "Comedy", "Drama"]})
        >>> rec = MultiTaskRecommender(epochs=2, random_state=0).fit(X, [5, 3, 4, 2], items=movies)
        >>> new = pd.DataFrame({"movie_id": [40], "genre": ["Comedy"]})  # not in fit
        >>> rec.predict(pd.DataFrame({"user_id": [1], "movie_id": [40]}), items=new).shape
        (1,)
        """
        check_is_fitted(self)
        if not self._interactions_.has_ratings:
            raise ValueError(
                f"This {type(self).__name__} was fitted without ratings (y was None or all NaN): it "
                f"recommends items (recommend, score) but has no rating scale to predict. Fit it "
                f"with ratings in y to use predict()."
            )
        user_ids, item_ids = self._read_ids(X)
        self._check_id_kinds(user_ids, item_ids, "X")
        new = self._serving_ids(users, items)
        u, i = self._interactions_.encode(user_ids, item_ids)
        u = extended_codes(u, user_ids, new["user"], len(self.users_))
        i = extended_codes(i, item_ids, new["item"], len(self.items_))
        history = _serving.checked_history(history, self._interactions_, (self.user_col, self.item_col), self.rating_col_)
        folded = _serving.folded_rows(self.model_, self._interactions_, user_ids, history, self.ranking_weight, new["user"], new["item"])
        return self._predict_codes(u, i, new, folded)

    def _check_id_kinds(self, user_ids, item_ids, where):
        """``TypeError`` when ``where``'s user or item ids are of another kind than the model's."""
        self._interactions_.users.check_kind(user_ids, where)
        self._interactions_.items.check_kind(item_ids, where)

    def _serving_ids(self, users, items):
        """The ids of the serving frames that ``fit`` did not see: ``{"user": NewIds or None, "item": ...}``."""
        cols = (self.user_col, self.item_col)
        return _serving.serving_ids(self.model_, self._interactions_, self._encoders_, cols, users, items)

    def _predict_codes(self, u, i, new=None, folded=None):
        """Ratings of encoded pairs (``-1`` = unknown id, past the vocabulary = ``new``'s ids), on the scale of ``y``."""
        return _serving.predict_codes(self.model_, self._interactions_, u, i, new, folded)

    def recommend(self, user_ids, k=10, *, exclude_seen=True, history=None, candidates=None, exclude_items=None, users=None, items=None, diversity=0.0):
        """Return the top-``k`` items of each user, best first.

        Parameters
        ----------
        user_ids : scalar or iterable
            One user id or any iterable of them; repeated ids are answered once. Users unknown
            to ``fit`` are folded in from ``history``, else follow ``unknown_users``.
        k : int, default=10
            Items per user, ``1 <= k <= len(items_)``.
        exclude_seen : bool, default=True
            Leave out the items each user interacted with in ``fit`` (or in ``history``).
        history : pandas.DataFrame or None, default=None
            Interactions of users unknown to ``fit`` (``user_col``, ``item_col`` and optional
            ratings in column ``rating_col_``): their vectors are folded in without refitting (the
            SVD++ term of the history, refined by its ratings with the items fixed).
        candidates : list-like or None, default=None
            Item ids that may be recommended; None allows the whole catalogue.
        exclude_items : list-like, pandas.DataFrame or None, default=None
            Items never to recommend: item ids for every user, or a frame of (``user_col``,
            ``item_col``) pairs for some users.
        users, items : pandas.DataFrame or None, default=None
            Side frames (as in :meth:`fit`) describing users and items unknown to ``fit``:
            they are scored from their features (new items join the catalogue for this call).
        diversity : float in [0, 1], default=0.0
            0 gives the ``k`` items of highest score. Above 0, each user's ``10 * k`` items of
            highest score are re-ranked by maximal marginal relevance (Carbonell & Goldstein,
            1998): the next item maximises ``(1 - diversity) * relevance - diversity *
            redundancy``, its score scaled to [0, 1] over the pool and its highest cosine
            with the items already listed (retrieval vectors, as :meth:`similar_items`).

        Returns
        -------
        recommendations : pandas.DataFrame
            One row per (user, item), user by user (known users in the order of ``users_``,
            then folded-in, then unknown users), best first, with the columns ``user_col``,
            ``"rank"`` (1 = best), ``item_col``, ``"score"`` and ``item_info_``'s. ``score``
            is the ranking score: the retrieval logit, plus ``rating_blend`` times the
            predicted rating on ``[0, 1]`` (without the user's bias), plus with ``item_item_``
            ``recipe_.item_item_weight`` times EASE's score of the history; for unknown users, the
            item's number of users in ``fit``. With ``diversity``, ranks follow the re-ranking
            and ``score`` stays each item's own.

        Raises
        ------
        ValueError
            If ``user_ids`` is empty, if ``k`` is below 1 or above the catalogue size, if
            ``history`` holds users seen in ``fit``, or, with ``unknown_users="error"``, if a
            user is unknown and has no history.
        TypeError
            If ``k`` is not an int, ``user_ids`` is a DataFrame or 2-d array, ``candidates`` or
            ``exclude_items`` is a string, or ids are of another kind than the model's.

        Warns
        -----
        ColdStartWarning
            When some users get the most popular items, with their count.
        """
        check_is_fitted(self)
        check_scalar(diversity, "diversity", numbers.Real, min_val=0.0, max_val=1.0)
        new = self._serving_ids(users, items)
        k = check_k(k, len(self.items_) + (0 if new["item"] is None else len(new["item"].index)))
        requested = pd.Index(pd.unique(pd.Series(check_id_list(user_ids, "user_ids"))))
        if not len(requested):
            raise ValueError("`user_ids` is empty: give at least one user id.")
        self._interactions_.users.check_kind(requested, "`user_ids`")
        cols = (self.user_col, self.item_col)
        request = build_request(
            self.model_,
            self._interactions_,
            requested,
            exclude_seen=exclude_seen,
            history=_serving.checked_history(history, self._interactions_, cols, self.rating_col_),
            candidates=_serving.checked_candidates(candidates, self._interactions_),
            exclude=_serving.checked_exclusions(exclude_items, self._interactions_, cols),
            lam=_serving.ridge_weight(self.model_, self.ranking_weight),
            lam_count=None if history is None else _serving.ridge_count(self.model_, self._interactions_),
            new_users=new["user"],
            new_items=new["item"],
        )
        _serving.check_unknown_users(request, self.unknown_users)
        if request.candidates is not None and not len(request.candidates):
            warn(_serving.nothing_allowed(candidates is not None), UserWarning)
        blend = float(self.rating_blend) if self._interactions_.has_ratings else 0.0  # no rating head trained without ratings
        rows, ranks, codes, scores = _serving.ranked_answer(self.model_, self._interactions_, request, k, blend, float(diversity))
        top = (request.user_ids[rows], ranks, codes, scores)
        return _serving.recommendation_frame(self._interactions_, self.item_info_, cols, top, new["item"])

    def recommend_users(self, item_ids, k=10, *, exclude_seen=True, candidates=None, items=None):
        """Return the audience of each item: the ``k`` users it would rank highest for, best first.

        A user's score for an item is the one :meth:`recommend` ranks that user's items by, so
        the users of an item's audience are those for whom it scores high on that scale (the
        user's rating bias, which no ranking of items uses, is left out). Users are scored in
        chunks: no users x items matrix is built.

        Parameters
        ----------
        item_ids : scalar or iterable
            One item id or any iterable of them, seen in ``fit`` or described by ``items``;
            repeated ids are answered once.
        k : int, default=10
            Users per item, ``1 <= k <=`` the number of users that may be returned.
        exclude_seen : bool, default=True
            Leave out the users who interacted with the item in ``fit``.
        candidates : list-like or None, default=None
            User ids seen in ``fit`` that may be returned; None allows every user of ``fit``.
        items : pandas.DataFrame or None, default=None
            Side frame (as in :meth:`fit`) describing items unknown to ``fit``, scored from
            their features.

        Returns
        -------
        audiences : pandas.DataFrame
            One row per (item, user), item by item in the order first given, best first, with
            the columns ``item_col``, ``"rank"`` (1 = best), ``user_col`` and ``"score"`` (as in
            :meth:`recommend`). An item with fewer than ``k`` users left gets fewer rows.

        Raises
        ------
        ValueError
            If ``item_ids`` is empty or holds an id neither seen in ``fit`` nor in ``items``,
            if ``candidates`` holds a user not seen in ``fit``, or if ``k`` is out of range.
        TypeError
            If ``k`` is not an int, or ids are of another kind than the model's.

        Examples
        --------
        >>> import pandas as pd
        >>> from skrec import MultiTaskRecommender
        >>> X = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3], "movie_id": [10, 20, 10, 30, 20, 30]})
        >>> rec = MultiTaskRecommender(epochs=2, batch_size=4, random_state=0).fit(X, [5, 3, 4, 2, 5, 1])
        >>> rec.recommend_users([10, 20], k=1).columns.tolist()
        ['movie_id', 'rank', 'user_id', 'score']
        """
        check_is_fitted(self)
        new = self._serving_ids(None, items)
        blend = float(self.rating_blend) if self._interactions_.has_ratings else 0.0
        cols = (self.user_col, self.item_col)
        return _serving.audience_frame(self.model_, self._interactions_, cols, item_ids, k, exclude_seen=exclude_seen, candidates=candidates, new_items=new["item"], rating_blend=blend)

    def explain(self, X, k=5, *, history=None):
        """Split the score of each (user, item) pair into the parts of the model that make it.

        The score is the one :meth:`recommend` reports for the pair. It is linear in the user
        vector, which is the user's own row, its side features and the SVD++ term of its
        history, and the item-item term is a sum over the history too, so the split is exact:
        each history item's part is its SVD++ row's dot product with the item's side of the
        score plus its item-item weight, and for every pair the parts add up to the score.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, 2)
            The (user, item) pairs, as in :meth:`predict`: users seen in ``fit`` or folded in
            from ``history``, items seen in ``fit``.
        k : int, default=5
            History items shown one by one per pair (those that add the most); the rest of
            the history is summed in one row.
        history : pandas.DataFrame or None, default=None
            Interactions of users unknown to ``fit``, as :meth:`recommend` takes them.

        Returns
        -------
        explanation : pandas.DataFrame
            One row per (pair, part), pair by pair, with the columns ``user_col``,
            ``item_col``, ``"part"``, ``"history_item"`` and ``"contribution"`` (on the scale of
            ``score``). The parts: ``"history"`` (one row per shown history item, largest
            first, ``history_item`` its id), ``"other history"`` (the rest, 0 if none),
            ``"user"`` (the user's own row; for a folded-in user, what the fold-in's ridge step
            adds), ``"user features"`` (with user features), ``"retrieval bias"`` (the item's,
            but for ``retrieval_negatives="in_batch"``) and ``"rating bias"`` (``rating_blend``
            times the mean and the item's rating bias, when ``recommend`` blends in ratings);
            ``history_item`` is None but on history rows.

        Raises
        ------
        ValueError
            If a user is neither seen in ``fit`` nor folded in from ``history``, if an item is
            not seen in ``fit``, or if ``k`` is negative.
        TypeError
            If ``k`` is not an int, or ids are of another kind than the model's.

        Examples
        --------
        >>> import pandas as pd
        >>> from skrec import MultiTaskRecommender
        >>> X = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3], "movie_id": [10, 20, 10, 30, 20, 30]})
        >>> rec = MultiTaskRecommender(epochs=2, batch_size=4, random_state=0).fit(X, [5, 3, 4, 2, 5, 1])
        >>> parts = rec.explain(pd.DataFrame({"user_id": [1], "movie_id": [30]}), k=1)
        >>> parts["part"].tolist()
        ['history', 'other history', 'user', 'retrieval bias', 'rating bias']
        """
        check_is_fitted(self)
        check_scalar(k, "k", numbers.Integral, min_val=0)
        user_ids, item_ids = self._read_ids(X)
        self._check_id_kinds(user_ids, item_ids, "X")
        cols = (self.user_col, self.item_col)
        history = _serving.checked_history(history, self._interactions_, cols, self.rating_col_)
        blend = float(self.rating_blend) if self._interactions_.has_ratings else 0.0
        return _serving.explain_frame(self.model_, self._interactions_, cols, (user_ids, item_ids), k, history, self.ranking_weight, blend)

    def similar_items(self, item_ids, k=10):
        """Return the ``k`` items most similar to each of ``item_ids``: the cosine of their retrieval vectors.

        Parameters
        ----------
        item_ids : scalar or iterable
            Ids of items seen in ``fit``; repeated ids are answered once.
        k : int, default=10
            Similar items per item, ``1 <= k < len(items_)``.

        Returns
        -------
        similar : pandas.DataFrame
            One row per (item, similar item other than itself), best first, with the columns
            ``item_col``, ``"rank"``, ``"similar_" + item_col`` and ``"score"`` (in ``[-1, 1]``).

        Raises
        ------
        ValueError
            If an item is unknown, or ``k`` is out of range.
        """
        check_is_fitted(self)
        k = check_k(k, len(self.items_) - 1, others=True)
        return _serving.similar_frame(self.model_, self._interactions_, self.item_col, check_id_list(item_ids, "item_ids"), k)

    def score(self, X, y=None, sample_weight=None):
        """Multi-task score on held-out interactions: the mean of a retrieval and a rating term.

        ``score = 0.5 * NDCG@10 + 0.5 * (1 - RMSE / (high - low))``, with ``low, high =
        rating_range_``: the NDCG@10 of the :meth:`recommend` lists of the users of ``X``
        (known users only) graded by ``(rating - low) / (high - low)`` of their held-out
        ratings (1 for a row without one) times ``sample_weight``, and the weighted RMSE of
        :meth:`predict` on the rated rows. Without ratings it is the NDCG@10 alone. Both terms
        lie in ``[0, 1]``, so a model that neglects either task scores low; select on one task
        with :func:`skrec.metrics.make_ranking_scorer` or ``"neg_root_mean_squared_error"``.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, 2)
            Held-out (user, item) pairs.
        y : array-like of shape (n_samples,) or None, default=None
            Their ratings; NaN or None for interactions without one.
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Weight of each held-out row.

        Returns
        -------
        score : float
            The multi-task score, higher is better.
        """
        check_is_fitted(self)
        return self._multitask_score(X, y, sample_weight, self._predict_codes, self.recommend)

    def _multitask_score(self, X, y, sample_weight, predict_codes, recommend):
        """:meth:`score` with the steps that rate encoded pairs and recommend given (``SeedEnsemble`` passes its own)."""
        user_ids, item_ids = self._read_ids(X)
        ratings = check_ratings(y, len(user_ids))
        weights = check_sample_weight(sample_weight, len(user_ids))
        self._check_id_kinds(user_ids, item_ids, "X")
        pairs = (user_ids, item_ids, *self._interactions_.encode(user_ids, item_ids))
        cols = (self.user_col, self.item_col)
        return _serving.score_of(self._interactions_, cols, pairs, ratings, weights, predict_codes, recommend)


def load(path, *, trusted=()):
    """Read an estimator written by :meth:`MultiTaskRecommender.save`.

    Parameters
    ----------
    path : str or path-like
        The file.
    trusted : str, sequence of str or None, default=()
        Types (``"module.name"``; one str is one type, None none) the stored feature
        transformers may hold besides scikit-learn's, NumPy's, SciPy's and skrec's own; a
        file holding another is refused.

    Returns
    -------
    estimator : MultiTaskRecommender
        The fitted estimator: the same outputs as the one saved (on the same backend).

    Raises
    ------
    ValueError
        If the file is not a complete skrec model file of a version this one reads, or holds
        an untrusted type (named in the message).
    TypeError
        If ``trusted`` is not a str, None or an iterable of str.

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
    state = _persistence.load(path, trusted=check_trusted(trusted))
    estimator = MultiTaskRecommender(**state.params)
    recipe = state.recipe or recipe_of_model(state.params, state.model)
    estimator._set_fitted_state(state.model, state.interactions, state.history, state.item_info, state.encoders, recipe, state.rating_col)
    estimator.n_features_in_ = 2
    return estimator

