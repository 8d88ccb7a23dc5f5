"""Seed ensembles: the average of several fits of one recommender that differ only in their random_state."""

import collections.abc
import contextlib
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from skrec._estimator import MultiTaskRecommender
from skrec._validation import ENSEMBLE_CONSTRAINTS, check_params
from skrec.exceptions import InvalidParameterError

__all__ = ["SeedEnsemble"]

# Scores held at once by `recommend` (users of a chunk x catalogue), per member.
_SCORE_BUDGET = 1 << 21


class SeedEnsemble(RegressorMixin, BaseEstimator):
    """The average of ``n_estimators`` fits of one recommender, each with its own ``random_state``.

    Fits of a :class:`MultiTaskRecommender` that differ only in their seed (initial weights,
    batch order, samples) land in different minima, and their errors partly cancel: averaging
    them is the cheapest analogue of the Bayesian factorization machine's average over
    posterior samples (a deep ensemble: Lakshminarayanan et al., "Simple and scalable predictive
    uncertainty estimation using deep ensembles", NeurIPS 2017). :meth:`predict` averages the
    members' predicted ratings; :meth:`recommend` ranks by the mean of their ``recommend``
    scores (retrieval logit plus ``rating_blend`` times the predicted rating), exactly: every
    candidate item of every user is scored by every member. It costs ``n_estimators`` times
    the fit time and memory of one member.

    On MovieLens 100k's five canonical folds, three seeds of the default recommender take
    P1 RMSE from 0.897 to 0.892 and P2 Recall@10 / NDCG@10 from 0.286 / 0.413 to 0.291 / 0.417,
    at three times the fit time (``benchmarks/bench_movielens.py``'s rows ``SeedEnsemble``).

    Parameters
    ----------
    estimator : MultiTaskRecommender or None, default=None
        The recommender to fit; each member is a clone of it with another ``random_state``.
        None: ``MultiTaskRecommender()``. Every fit starts its members afresh (a
        ``warm_start`` of the estimator does not carry over).
    n_estimators : int, default=3
        Number of members, at least 1.
    random_state : int, numpy.random.RandomState or None, default=None
        Draws the members' ``random_state`` (as ``MultiTaskRecommender`` draws its seed), so
        the same value gives the same ensemble.

    Attributes
    ----------
    estimators_ : list of MultiTaskRecommender
        The fitted members.
    users_, items_ : pandas.Index
        Ids of the users and items seen in ``fit`` (the members'; they share them).
    rating_range_ : tuple of float or None
        ``(low, high)`` of the ratings seen in ``fit``; None without ratings.
    user_col, item_col : str
        Columns of ``X`` with the user and item ids: the fitted members' (before ``fit``,
        ``estimator``'s), read-only. They give the ensemble the id columns of the recommender
        it averages, so that code written for one (such as the scorers of
        :func:`skrec.metrics.make_ranking_scorer`) reads the ensemble's.
    n_features_in_ : int
        Number of columns of ``X`` in ``fit``.
    feature_names_in_ : ndarray of str
        Column names of ``X`` in ``fit``, when it was a frame with str column names.

    See Also
    --------
    MultiTaskRecommender : The recommender an ensemble averages.

    Notes
    -----
    The ensemble has no ``save``, ``similar_items`` or warm start: it pickles (``pickle``,
    ``joblib``) with its members. :meth:`recommend` scores every item for every requested user
    in each member (in chunks of users, so memory stays bounded) and averages the scores in
    pandas: about half a microsecond per user, item and member on 2 cores (400 users x 20,000
    items x 2 members: 10 s, against 1 s for one member's own top 10), so it suits catalogues
    of up to about 10^5 items. Warnings of the members (cold start, ...) are shown once, from
    the first member, and name ``MultiTaskRecommender``, as its error messages do; the
    estimator's own ``random_state`` is replaced by each member's.

    Examples
    --------
    >>> import pandas as pd
    >>> from skrec import MultiTaskRecommender, SeedEnsemble
    >>> X = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "movie_id": [10, 20, 10, 30, 20]})
    >>> ensemble = SeedEnsemble(MultiTaskRecommender(epochs=2), n_estimators=2, random_state=0)
    >>> ensemble = ensemble.fit(X, [5, 3, 4, 2, 4])
    >>> ensemble.predict(pd.DataFrame({"user_id": [1], "movie_id": [30]})).shape
    (1,)
    >>> ensemble.recommend([1, 2], k=1)[["user_id", "rank", "movie_id"]]
       user_id  rank  movie_id
    0        1     1        30
    1        2     1        20
    """

    def __init__(self, estimator=None, n_estimators=3, *, random_state=None):
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.non_deterministic = self.random_state is None
        tags.regressor_tags.poor_score = True  # `score` is the multi-task score, not R^2
        return tags

    def fit(self, X, y=None, sample_weight=None, *, users=None, items=None):
        """Fit ``n_estimators`` clones of ``estimator``, each with its own ``random_state``.

        The arguments go to every member's :meth:`MultiTaskRecommender.fit`, which says more.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, n_columns)
            One row per interaction, with the member's ``user_col`` and ``item_col``.
        y : array-like of shape (n_samples,) or None, default=None
            Ratings; NaN for an interaction without one, None for implicit feedback only.
        sample_weight : array-like of shape (n_samples,), float or None, default=None
            Weight of each row in every member's losses.
        users : pandas.DataFrame or None, default=None
            Side frame of the users (their features).
        items : pandas.DataFrame or None, default=None
            Side frame of the items (their features, and columns for :meth:`recommend`).

        Returns
        -------
        self : SeedEnsemble
            The fitted ensemble. If a member's fit fails, the ensemble is left as it was.

        Raises
        ------
        InvalidParameterError
            If ``estimator`` is not a :class:`MultiTaskRecommender` or None, or
            ``n_estimators`` or ``random_state`` is out of range.
        """
        estimator = self._estimator()
        members = [clone(estimator).set_params(random_state=seed) for seed in self._member_seeds()]
        fitted = []
        for position, member in enumerate(members):
            with _quiet(position):
                fitted.append(member.fit(X, y, sample_weight, users=users, items=items))
        self.estimators_ = fitted
        first = fitted[0]
        self.users_, self.items_, self.rating_range_ = first.users_, first.items_, first.rating_range_
        self.n_features_in_ = first.n_features_in_
        if hasattr(first, "feature_names_in_"):
            self.feature_names_in_ = first.feature_names_in_
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return self

    @property
    def user_col(self):
        """Column of ``X`` with the user ids: the fitted members' ``user_col`` (before ``fit``, ``estimator``'s)."""
        return self._member().user_col

    @property
    def item_col(self):
        """Column of ``X`` with the item ids: the fitted members' ``item_col`` (before ``fit``, ``estimator``'s)."""
        return self._member().item_col

    def _member(self):
        """The first fitted member; before ``fit``, the estimator the members will be cloned from."""
        if hasattr(self, "estimators_"):
            return self.estimators_[0]
        return MultiTaskRecommender() if self.estimator is None else self.estimator

    def _estimator(self):
        """The checked ``estimator`` (a default ``MultiTaskRecommender`` for None)."""
        check_params(self, ENSEMBLE_CONSTRAINTS)
        if self.estimator is None:
            return MultiTaskRecommender()
        if not isinstance(self.estimator, MultiTaskRecommender):
            raise InvalidParameterError(
                f"The 'estimator' parameter of SeedEnsemble must be a MultiTaskRecommender or None. Got {self.estimator!r} instead."
            )
        return self.estimator

    def _member_seeds(self):
        """One ``random_state`` per member, drawn from ``random_state``."""
        rng = check_random_state(self.random_state)
        return [int(seed) for seed in rng.randint(np.iinfo(np.int32).max, size=self.n_estimators)]

    def predict(self, X, *, history=None, users=None, items=None):
        """The mean of the members' predicted ratings of each (user, item) pair.

        The arguments go to every member's :meth:`MultiTaskRecommender.predict`.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, 2)
            The (user, item) pairs.
        history : pandas.DataFrame or None, default=None
            Interactions of users unseen in ``fit``, folded in by each member.
        users : pandas.DataFrame or None, default=None
            Side frame of users unseen in ``fit``, rated from their features.
        items : pandas.DataFrame or None, default=None
            Side frame of items unseen in ``fit``, rated from their features.

        Returns
        -------
        ratings : ndarray of shape (n_samples,)
            Mean predicted ratings, on the scale of the ``y`` of ``fit``.

        Raises
        ------
        ValueError, TypeError
            As :meth:`MultiTaskRecommender.predict` raises them.
        """
        check_is_fitted(self)
        return self._mean(lambda member: member.predict(X, history=history, users=users, items=items))

    def _predict_codes(self, u, i, new=None):
        """The members' mean rating of encoded pairs (see ``MultiTaskRecommender._predict_codes``)."""
        return self._mean(lambda member: member._predict_codes(u, i, new))

    def _mean(self, rate):
        """Mean of ``rate(member)`` over the members; only the first member's warnings are shown."""
        total = 0.0
        for position, member in enumerate(self.estimators_):
            with _quiet(position):
                total = total + rate(member)
        return total / len(self.estimators_)

    def score(self, X, y=None, sample_weight=None):
        """The multi-task score of :meth:`MultiTaskRecommender.score`, of the ensemble's ratings and lists.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, 2)
            Held-out (user, item) pairs.
        y : array-like of shape (n_samples,) or None, default=None
            Their ratings; NaN or None where there is none.
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Weight of each held-out row.

        Returns
        -------
        score : float
            ``0.5 * NDCG@10 + 0.5 * (1 - RMSE / (high - low))`` of :meth:`recommend` and
            :meth:`predict` (NDCG@10 alone without ratings); higher is better.
        """
        check_is_fitted(self)
        return self.estimators_[0]._multitask_score(X, y, sample_weight, self._predict_codes, self.recommend)

    def recommend(self, user_ids, k=10, *, exclude_seen=True, history=None, candidates=None, exclude_items=None, users=None, items=None):
        """Top-``k`` items of each user by the mean of the members' ``recommend`` scores.

        The arguments go to every member's :meth:`MultiTaskRecommender.recommend`, which says more.

        Parameters
        ----------
        user_ids : id or iterable of ids
            As in :meth:`MultiTaskRecommender.recommend`.
        k : int, default=10
            Items per user, at most the catalogue.
        exclude_seen : bool, default=True
            Leave out the items each user interacted with in ``fit``.
        history : pandas.DataFrame or None, default=None
            Interactions of users unseen in ``fit``, which every member folds in.
        candidates : iterable of item ids or None, default=None
            The only items that may be recommended.
        exclude_items : iterable of item ids, pandas.DataFrame or None, default=None
            Items (or (user, item) pairs) that must not be recommended.
        users : pandas.DataFrame or None, default=None
            Side frame of users unseen in ``fit``, scored from their features.
        items : pandas.DataFrame or None, default=None
            Side frame of the items; items unseen in ``fit`` join the catalogue.

        Returns
        -------
        recommendations : pandas.DataFrame
            The columns of :meth:`MultiTaskRecommender.recommend`, the users in the order
            it gives them; ``score`` is the members' mean score.

        Raises
        ------
        ValueError, TypeError
            As :meth:`MultiTaskRecommender.recommend` raises them.

        Warns
        -----
        ColdStartWarning
            Once, when some users get the most popular items.
        """
        check_is_fitted(self)
        candidates, exclude_items = _reusable(candidates), _reusable(exclude_items)  # every member reads them
        kwargs = dict(exclude_seen=exclude_seen, history=history, candidates=candidates, exclude_items=exclude_items, users=users, items=items)
        first = self.estimators_[0].recommend(user_ids, k, **kwargs)  # checks the arguments, warns once
        requested = pd.unique(first[self.user_col])
        new_items = self.estimators_[0]._serving_ids(None, items)["item"]  # as the members count their catalogue
        n_items = len(self.items_) + (0 if new_items is None else len(new_items.index))
        chunk = max(1, _SCORE_BUDGET // n_items)
        parts = [self._chunk(requested[start : start + chunk], n_items, k, kwargs) for start in range(0, len(requested), chunk)]
        return pd.concat(parts, ignore_index=True) if parts else first

    def _chunk(self, users, n_items, k, kwargs):
        """The top-``k`` rows of ``users`` by the members' mean score over every item they may get."""
        user_col, item_col = self.user_col, self.item_col
        scores = None
        for member in self.estimators_:
            with _quiet(1):
                every = member.recommend(users, n_items, **kwargs)
            scores = every if scores is None else scores.assign(score=scores["score"].to_numpy() + _aligned(every, scores, user_col, item_col))
        scores["score"] = (scores["score"] / len(self.estimators_)).astype(every["score"].dtype)
        order = pd.Index(users).get_indexer(scores[user_col])
        best = scores.assign(_user=order).sort_values(["_user", "score"], ascending=[True, False], kind="stable")
        best = best.groupby("_user", sort=False).head(k).drop(columns="_user").reset_index(drop=True)
        best["rank"] = best.groupby(user_col, sort=False).cumcount() + 1
        return best


def _aligned(frame, like, user_col, item_col):
    """``frame``'s scores in the row order of ``like`` (the same (user, item) pairs)."""
    index = pd.MultiIndex.from_frame(frame[[user_col, item_col]])
    return frame["score"].to_numpy()[index.get_indexer(pd.MultiIndex.from_frame(like[[user_col, item_col]]))]


def _reusable(ids):
    """``ids`` as a list when it is an iterator (a generator is read once; every member reads it)."""
    return list(ids) if isinstance(ids, collections.abc.Iterator) else ids


@contextlib.contextmanager
def _quiet(position):
    """Warnings shown for the first member (``position`` 0), ignored for the others (they repeat them)."""
    if position == 0:
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
