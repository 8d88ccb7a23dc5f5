"""MultiTaskRecommender: the scikit-learn estimator around the joint retrieval + ranking Keras model."""

import collections.abc
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from skrec import _persistence, metrics
from skrec._features import SideFeatures, encode_features, padded_features, unpadded_features
from skrec._interactions import build_training_set
from skrec._model import MultiTaskModel, check_same_architecture, copy_weights, model_from_state, model_state
from skrec._new_ids import extended_codes, new_ids, rate_pairs
from skrec._requests import answer, build_request
from skrec._retrieval import predict_scaled, similar_items
from skrec._training import TrainingOptions, data_parallel_devices, multitask_score, train
from skrec._validation import (
    check_exclusions,
    check_history,
    check_interactions,
    check_item_list,
    check_k,
    check_params,
    check_ratings,
    check_sample_weight,
    check_side_frame,
)
from skrec.exceptions import ColdStartWarning

__all__ = ["MultiTaskRecommender", "SEED_PARAMS", "load"]

#: The parameters of the Keras-RS example "Multi-task recommenders: retrieval + ranking".
#:
#: ``MultiTaskRecommender(**SEED_PARAMS)`` is that example's model (loss weights 1 and 1).
SEED_PARAMS = {
    "embedding_dim": 32,
    "layer_sizes": (256, 128),
    "rating_head": "mlp",
    "implicit_feedback": False,
    "item_implicit_feedback": False,
    "retrieval_negatives": "in_batch",
    "retrieval_weight": 1.0,
    "ranking_weight": 1.0,
    "l2": 0.0,
    "l2_form": "per_interaction",
    "rating_blend": 0.0,
    "item_item": None,
    "optimizer": "adagrad",
    "learning_rate": 0.1,
    "lr_schedule": "constant",
    "batch_size": 1000,
    "epochs": 5,
    "early_stopping": False,
    "swa_fraction": 0.0,
}


#: ``l2="auto"``: the penalty chosen on MovieLens 100k's training folds, used as it is down to
#: ``_L2_REFERENCE_COUNT`` training rows per user or per item (whichever is more) and raised in
#: inverse proportion below (see :meth:`MultiTaskRecommender._l2_for`).
_L2_BASE = 0.025
_L2_REFERENCE_COUNT = 64.0

#: ``l2="auto"`` under ``l2_form="per_id"``: ``_L2_PER_ID_BASE`` down to
#: ``_L2_PER_ID_REFERENCE_COUNT`` rated training rows per user or per item (whichever is more),
#: raised in inverse proportion below (see :meth:`MultiTaskRecommender._l2_for`).
_L2_PER_ID_BASE = 0.05
_L2_PER_ID_REFERENCE_COUNT = 32.0

#: The ``"auto"`` training settings follow the task that most training rows train: with a rating
#: on at least ``_RATING_RECIPE_SHARE`` of them, the rating recipe (``l2_form="per_id"``, a cosine
#: rate from ``_COSINE_LEARNING_RATE``), else the retrieval recipe (``"per_interaction"``, a
#: constant ``_CONSTANT_LEARNING_RATE`` averaged over the last ``_CONSTANT_SWA_FRACTION`` of the
#: epochs). See :meth:`MultiTaskRecommender._rating_recipe`.
_RATING_RECIPE_SHARE = 0.5
_COSINE_LEARNING_RATE = 0.006
_CONSTANT_LEARNING_RATE = 0.003
_CONSTANT_SWA_FRACTION = 0.5

#: ``item_implicit_feedback``'s rater terms weigh ``_RATER_PENALTY_BASE`` times the vectors in
#: the L2 penalty down to ``_RATER_REFERENCE_COUNT`` rated training rows per item, more in inverse
#: proportion below, at most as much as the vectors (see :meth:`MultiTaskRecommender._rater_penalty`).
_RATER_PENALTY_BASE = 0.1
_RATER_REFERENCE_COUNT = 40.0

#: ``item_item="auto"`` adds the EASE term to catalogues of at most this many items: its solve
#: costs the cube of the catalogue (0.6 s at 1,682 items, 5.9 s at 4,096 on two busy cores), its weights the square.
_ITEM_ITEM_MAX_ITEMS = 4096


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

    The defaults are the configuration that beats EASE on top-10 ranking and Bayesian
    factorization machines (myfm) on rating error on MovieLens 100k
    (``docs/benchmark_movielens.md``): 64-d embeddings, an SVD++-style user vector, a biased
    matrix-factorisation rating head whose item vector also sums the item's raters
    (``item_implicit_feedback``), softmax retrieval over the catalogue (sampled for
    catalogues of more than 2,048 items), the EASE item-item term in the ranking score, and
    Adam for 24 epochs. Four settings are ``"auto"`` and follow the task that most training
    rows train: with a rating on at least half of them, the L2 penalty is charged once per
    user and item (``l2_form="per_id"``) and the rate decays from 0.006 on a cosine;
    otherwise (clicks, views) the penalty is charged per interaction and the rate is a
    constant 0.003 whose last 12 epochs' weights are averaged (stochastic weight averaging).
    ``MultiTaskRecommender(**skrec.SEED_PARAMS)`` is the model of the Keras-RS example
    "Multi-task recommenders: retrieval + ranking".

    **Cost at scale.** A training step costs the same whatever the numbers of ratings, users
    and items: the SVD++ term reads a bounded sample of each batch user's history
    (``max_history``), the retrieval loss scores a bounded sample of the catalogue
    (``n_negatives``), and on JAX only the embedding rows a batch names are read and updated
    (row-sparse updates: exact for SGD and Adagrad, "lazy Adam" for Adam, see Notes); with
    ``item_implicit_feedback`` a step also reads a bounded sample of each batch item's raters
    (``max_raters``). One epoch of the former defaults (the retrieval recipe without the
    item-side term) cost 6 to 9 s per million ratings on 2 CPU cores from 10^4 to 10^6 users
    and 10^4 to 10^5 items (``docs/speed_and_scale.md``); the rating recipe's term and samples
    of 64 make a fit on MovieLens 100k about four times as long.

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
    max_history : int, default=64
        Most history items the SVD++ term reads for a user in one training step. A longer
        history is replaced by a systematic sample of this many items, rescaled so that its
        expected sum is the full one; predictions and recommendations always use the whole
        history. While training, a user's ratings come in runs of up to 8 in a batch, so the
        history is read once for them. A sample trains on a noisier sum than the one served
        (heavy users are the ones it misfits): on validation splits of MovieLens 100k's
        training folds u1 and u2, 64 rather than 32 took RMSE from 0.8849 to 0.8840 (with
        ``max_raters=64``), at 16 rather than 8 history entries read per rating.
    item_implicit_feedback : bool, default=True
        Add to the item vector that the rating head reads the item-side counterpart of the
        SVD++ term: ``|R(i)|^-1/2`` times the sum of a second user table over the users
        ``R(i)`` who interacted with the item (the implicit-feedback features of items in
        myfm's Bayesian factorization machine examples; Rendle, "Factorization machines with
        libFM", ACM TIST 2012). Predicted ratings change, and so do recommendations through
        ``rating_blend``; the retrieval head does not read it, and without ratings (implicit
        feedback only) the model is built without it. It costs a second user table (``n_users x
        embedding_dim``, with its optimizer state while fitting) and a stored term per item
        (``n_items x embedding_dim``). The terms weigh 0.1 times the vectors in the L2
        penalty on items with 40 ratings or more on average, more in inverse proportion below
        (at most as much: an item's term is fitted to its ratings and overfits when they are
        few). On MovieLens 100k's validation splits it lowered the RMSE from 0.9003 to 0.8933
        (under the former defaults: per-interaction penalty, constant rate, ``max_raters=16``),
        with Recall@10 and NDCG@10 0.003 and 0.001 lower, at 2.1 times the fit time; with a
        quarter of the rows rated, from 0.9754 to 0.9682; with a tenth, it changed nothing
        (see the user guide). On data whose ratings do not depend on who rates what
        (``make_interactions``) it cannot help: under the former defaults it cost RMSE there
        (0.8259 against 0.8184 on MovieLens latest-small's shape), under the rating recipe
        the defaults still rate better than the former ones (0.8167).
    max_raters : int, default=64
        With ``item_implicit_feedback``, the most raters the item-side term reads for an item
        in one training step: a longer list is replaced by a systematic sample of this many,
        rescaled so that its expected sum is the full one (as ``max_history``); predictions
        and recommendations use every rater. A step reads at most ``max_raters / 2`` rater
        entries per rating (a batch's distinct items are fewer than its rows, and most have
        fewer raters than the cap); a batch whose lists would not fit has every item's cap
        lowered until they do. As for ``max_history``, a sample trains on a noisier term than
        the one served, most on popular items: on validation splits of MovieLens 100k's
        folds u1 and u2, 64 rather than 16 (with ``max_history=64``) took RMSE from 0.8895
        to 0.8840. Unused otherwise.
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
    l2 : "auto" or float, default="auto"
        Weight of the L2 penalty on the batch's user and item vectors and biases (charged per
        interaction, or per id: ``l2_form``). ``"auto"`` adapts it to the data's size: with ``n = n_interactions /
        min(n_users, n_items)``, the larger of the mean training interactions per user and
        per item, it is 0.025 for ``n >= 64`` and ``0.025 * 64 / n`` below (at most 1.6, for
        ``n = 1``); e.g. 20,000 interactions of 1,000 users with 5,000 items give ``n = 20``
        and 0.08. ``n`` counts the training rows as given (repeated pairs, unrated rows and
        rows of weight 0 included; cold-start ids of side frames and rows held out for early
        stopping not). The weight used is ``l2_``; a warm start keeps it under ``"auto"``
        (an explicit other value between warm fits raises ``ValueError``, like the loss
        weights). Both numbers were chosen on validation splits of MovieLens 100k (0.025 on
        the training folds, ``n`` 85; 64 on their rated rows thinned to 10-50%); see the user
        guide's "Small sparse data sets" for the figures and for why the larger mean counts.
        Under ``l2_form="per_id"``, ``"auto"`` is 0.05 down to 32 *rated* training rows per
        user or per item (whichever is more; all rows without ratings) and ``0.05 * 32 / m``
        below, for ``m`` such rows (see ``l2_form``).
    l2_form : {"auto", "per_interaction", "per_id"}, default="auto"
        How the L2 penalty is charged. ``"auto"``: ``"per_id"`` when at least half the
        training rows hold a rating, else ``"per_interaction"``; the form used is
        ``l2_form_``, and a warm start keeps it. ``"per_interaction"``: on each training row's user and
        item vectors and biases, so an id is penalised once per interaction (the
        "weighted-lambda" regularisation of Zhou et al., "Large-scale parallel collaborative
        filtering for the Netflix prize", AAIM 2008), and, with ``item_implicit_feedback``,
        on each row's rater term apart (see the user guide). ``"per_id"``: each row's user
        part (user vector, rating bias, and the user's own row of the rater table) weighs
        ``n / c_u`` and its item part (item vector, biases, the item's own row of the SVD++
        table) ``n / c_i``, with ``c`` the id's weighted training rows and ``n`` their mean
        per user or per item (whichever is more): summed over the data, every user and item
        is charged once, whatever its number of interactions, as by a Gaussian prior in MAP
        estimation (Salakhutdinov and Mnih, "Probabilistic matrix factorization", NeurIPS
        2007; the priors of Bayesian factorization machines, Rendle, ACM TIST 2012). With
        ``item_implicit_feedback`` and the cosine schedule it is what takes the defaults'
        RMSE on MovieLens 100k's validation splits from 0.9003 (the former defaults) to
        0.8862 (with ``max_raters=16`` and ``max_history=32``); on clicks alone it ranks
        lower than ``"per_interaction"``, hence ``"auto"``. The fold-in of a new user then
        charges the training's count per id instead of the user's own. See the user guide's
        "The per-id penalty" for the figures and where it does not pay. Changing it between
        warm fits raises ``ValueError``.
    rating_blend : float, default=2.0
        :meth:`recommend` ranks items by ``retrieval score + rating_blend * predicted rating``
        (the rating on the ``[0, 1]`` scale), so the rating head re-ranks what retrieval finds.
        Needs ``rating_head="dot"``, which keeps the blend one dot product: the top-k stays
        exact. ``0`` ranks by retrieval alone.
    item_item : {"auto", "ease"} or None, default="auto"
        Add an item-item term to the score :meth:`recommend` ranks by: ``item_item_weight *
        x_u B``, where ``x_u`` is the user's history (1 for each item the user interacted with
        in ``fit``, or in ``recommend``'s ``history`` for a folded-in user) and ``B`` the
        ``n_items x n_items`` weights of EASE (Steck, "Embarrassingly shallow autoencoders for
        sparse data", WWW 2019): a ridge regression of each item's column of the binary
        interaction matrix on the other items' columns, with a zero diagonal, solved in closed
        form once per ``fit``. It changes rankings (:meth:`recommend`, and so :meth:`score`)
        only, not ``predict`` or training. Its cost is the cube of the catalogue once per
        ``fit`` (0.6 s at 1,682 items, 5.9 s at 4,096, measured on two cores busy with other
        work; the solve peaks at about 8 times the weights' memory, 0.54 GB at 4,096 items)
        and the square in memory (``4 * n_items**2`` bytes, kept with the model and in saved
        files); :meth:`recommend` holds an ``n_items x (n_items + 2 * embedding_dim + 2)``
        candidate matrix and scores ``n_items`` more numbers per (user, item): on MovieLens
        100k, 0.15 s for its 943 users against 0.08 s without the term. ``"auto"``: on for
        catalogues of at most 4,096 items, off above; ``"ease"``: on whatever the size; None:
        off. The choice made is ``item_item_``. A warm start keeps the term on or off as fitted
        (under ``"auto"`` its first fit's choice, even when later fits take the catalogue
        past 4,096 items) and solves it again over every pair seen so far with that fit's
        ``item_item_weight`` and ``item_item_l2``; turning it on or off between warm fits
        (``item_item``, or ``item_item_weight`` to or from 0) raises ``ValueError`` naming
        ``item_item`` (refit with ``warm_start=False``). New items of a serving
        ``items`` frame get no term, and early stopping's epoch scores are computed without
        it (it joins the model after training).
    item_item_weight : float, default=4.0
        Weight of the item-item term in the score (the retrieval score is a logit, the term
        about a predicted 0/1 interaction). ``0`` turns it off.
    item_item_l2 : float, default=500.0
        EASE's L2 penalty (its lambda), in interactions: each item's regression is penalised
        as if by that many extra co-occurrences with itself. 500 is EASE's published value
        for MovieLens 20M (200 to 1,000 across its data sets); on MovieLens 100k's validation
        splits 250 to 500 ranked best and a weight of 3 to 4 (see the user guide's "The
        item-item term"). A value too small for the solve in floating point (far below 1) raises
        ``ValueError`` before training.
    optimizer : str, default="adam"
        Name of a Keras optimizer (``"adam"``, ``"adagrad"``, ``"sgd"``, ``"rmsprop"``, ...).
    optimizer_params : dict or None, default=None
        Further keyword arguments of the optimizer, e.g. ``{"beta_1": 0.8}``. They can also be
        set one by one as ``optimizer__<name>``, e.g. ``set_params(optimizer__beta_1=0.8)``
        or ``{"optimizer__beta_1": [0.8, 0.9]}`` in a parameter grid.
    learning_rate : "auto" or float, default="auto"
        (Initial) learning rate of the optimizer. ``"auto"``: 0.006 under a cosine schedule
        (whose mean rate over the run is then 0.003), 0.003 under a constant one.
    lr_schedule : {"auto", "constant", "cosine"}, default="auto"
        ``"cosine"`` decays the learning rate to 0 over ``epochs`` (Keras ``CosineDecay``).
        ``"auto"``: ``"cosine"`` when at least half the training rows hold a rating, else
        ``"constant"`` (with weight averaging, ``swa_fraction``). On validation splits of
        MovieLens 100k (10% of each user's ratings of folds u1 and u2) the cosine schedule
        rated and ranked better under the per-id penalty (RMSE 0.8840, Recall@10 0.2861
        against 0.8848 and 0.2818 for a constant 0.003 averaged over 12 epochs; on the test
        folds 0.8795 against 0.8815); on a quarter of its rows without ratings, the rating
        recipe (this schedule with the per-id penalty) ranked worse than the retrieval one
        (Recall@10 0.0812 against 0.0873, means over three seeds).
    batch_size : int, default=1024
        Ratings per training step (and, with in-batch negatives, the negatives plus one).
        Every step has this many rows: the last batch of an epoch is completed with rows
        from the epoch's start, so the training step is compiled once.
    epochs : int, default=24
        Maximum passes over the training ratings.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training ratings, compute the default
        :meth:`score` on them after each epoch (``history_["val_score"]``), stop after
        ``n_iter_no_change`` epochs without improvement and keep the best epoch's weights
        (``swa_fraction`` is then not used). Off by default: the average of the last epochs'
        weights beats any one epoch's, and training on all ratings beats holding some out.
    validation_fraction : float, default=0.05
        Share of the training ratings held out for early stopping (at least one rating).
    n_iter_no_change : int, default=3
        Epochs without improvement of the validation score before training stops.
    swa_fraction : "auto" or float, default="auto"
        Share of the epochs, at the end of training, whose weights are averaged (``"auto"``:
        0.5 under a constant learning rate, 0 under a cosine one, whose rate decays to zero
        and settles the weights): the fitted
        weights are the mean of the trainable weights at the ends of the last
        ``max(1, round(swa_fraction * epochs))`` epochs (stochastic weight averaging: Izmailov
        et al., "Averaging weights leads to wider optima and better generalization", UAI
        2018), which costs one copy of the weights. ``0`` keeps the last epoch's weights. In
        [0, 1]; not used with ``early_stopping``. On validation splits of MovieLens 100k's
        training folds (``benchmarks/validate_defaults.py``; the former defaults, with the
        per-interaction penalty), averaging the last 12 of 24 epochs at a constant rate of
        0.003 raised NDCG@10 from 0.2055 to 0.2152 and Recall@10
        from 0.2638 to 0.2737 against the former cosine schedule (0.005 over 16 epochs), at
        the same RMSE (0.9003 against 0.9000); the same 24 epochs without averaging
        (``swa_fraction=0``) gave 0.1998, 0.2569 and 0.9056.
    warm_start : bool, default=False
        If True and the estimator is fitted, ``fit`` continues training the fitted model on
        the new ratings instead of starting afresh (``epochs`` more passes, a fresh
        optimizer). Users and items seen for the first time get new embedding rows appended
        (known ids keep theirs, so ``users_`` and ``items_`` are then sorted only within each
        fit); ``rating_range_`` stays that of the first fit; items rated in any fit count as
        seen; ``history_`` grows. The architecture parameters must not change between fits.
    unknown_users : {"popular", "error"}, default="popular"
        What :meth:`recommend` does for a user not seen in ``fit`` and without ``history``:
        ``"popular"`` gives the items most users interacted with in ``fit``, with a
        :class:`~skrec.exceptions.ColdStartWarning`; ``"error"`` raises ``ValueError``.
    user_features, item_features : "auto", None or transformer, default="auto"
        How the columns of the ``users`` / ``items`` frames given to :meth:`fit` become
        features of the user / item vectors. Each user (item) vector is its own embedding plus
        the sum of its features' embeddings, weighted by the feature values scaled to unit norm
        per row (LightFM's design: Kula, "Metadata embeddings for user and item cold-start
        recommendations", 2015); the biases get the same feature terms. ``"auto"`` encodes
        each column by its dtype (categories and strings one indicator per value held by at
        least two rows, ``"A|B"`` strings one per token, 0/1 and bool columns as they are,
        other numbers and dates' years in 10 quantile bins; identifiers and free text such as
        titles are left out; see ``skrec._features.default_encoder``). A scikit-learn
        transformer (e.g. a ``ColumnTransformer``; any object with ``fit`` and
        ``transform``, dense or sparse output) is cloned and fitted on the frame without its
        id column. None uses no feature (the frame only adds titles to :meth:`recommend`).
        Ids listed in a frame whose features are used but absent from ``X`` are **cold-start**
        users or items: they get a row, are scored from their features alone (their own
        embedding stays zero) and are recommended and rated like the others; cold-start items
        are no negatives of the retrieval loss. A warm start keeps the fitted encoding: its
        frames (if any) are encoded by it and replace the features of the ids they list.
    id_dropout : float, default=0.0
        Share of training rows in which a user's or item's own embedding is hidden, so that
        its features alone must score it (DropoutNet: Volkovs et al., "DropoutNet: addressing
        cold start in recommender systems", NeurIPS 2017). Only ids with features are
        affected; in [0, 1). It trades known ids' accuracy for cold-start ids': on validation
        splits of MovieLens 100k's training folds (with the users and movies frames; measured
        with the defaults before weight averaging, ``swa_fraction``), 0.25
        raised NDCG@10 of movies held out of training from 0.184 to 0.205 and left known
        users' NDCG@10 as it was (0.210), but raised RMSE from 0.894 to 0.898; 0.5 was worse
        on known ids on both. Hence 0 by default; raise it when new items or users matter most.
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
    user_feature_names_, item_feature_names_ : ndarray of str
        The features of the users' and items' vectors (the feature transformer's
        ``get_feature_names_out``); empty without side features.
    item_info_ : pandas.DataFrame or None
        The ``items`` frame given to ``fit``, indexed by item id, restricted to ``items_``.
        Its columns are appended to the output of :meth:`recommend`.
    retrieval_negatives_ : str
        The retrieval loss's negatives used: ``retrieval_negatives`` with ``"auto"`` resolved.
    l2_ : float
        The L2 penalty's weight used: ``l2`` with ``"auto"`` resolved.
    l2_form_ : {"per_interaction", "per_id"}
        How the L2 penalty was charged: ``l2_form`` with ``"auto"`` resolved.
    item_item_ : "ease" or None
        Whether :meth:`recommend`'s score has the item-item term: ``item_item`` with
        ``"auto"`` resolved.
    n_features_in_ : int
        Number of columns of ``X`` in ``fit``; only the user and item columns are used.

    See Also
    --------
    skrec.metrics.make_ranking_scorer : Scorers for recall@k, NDCG@k, ... in model selection.

    Notes
    -----
    **Unknown users and items.** :meth:`predict` gives a pair whose user or item was not seen in
    ``fit`` the mean training rating of the side that is known (the item's mean for an unknown
    user, the user's mean for an unknown item, the global mean if both are unknown) and warns
    with :class:`skrec.exceptions.ColdStartWarning`, giving the count. :meth:`recommend` folds
    in an unknown user from ``history``, else follows ``unknown_users``.

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
    retrieval finds: on MovieLens this lifts NDCG@10 well above either head alone. On
    catalogues of up to 4,096 items an item-item term (EASE's weights over the user's
    history, ``item_item``) joins the score.
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
        item_item_weight=4.0,
        item_item_l2=500.0,
        optimizer="adam",
        optimizer_params=None,
        learning_rate="auto",
        lr_schedule="auto",
        batch_size=1024,
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

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, sample_weight=None, *, users=None, items=None):
        """Learn embeddings, the rating head and the retrieval head from interactions.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, n_columns)
            One row per interaction (a rating, a click, a view) with the columns ``user_col``
            and ``item_col``, or an array whose column 0 holds user ids and column 1 item ids;
            other columns are ignored. Ids may be ints (gaps and values above 2**31 are fine),
            strings or other labels, one type per column; non-integer floats are used as exact
            labels.
        y : array-like of shape (n_samples,) or None, default=None
            The ratings, numbers on any scale. NaN (or ``None``, ``pd.NA``) marks an
            interaction without a rating: it trains retrieval and the SVD++ history, not the
            rating loss, whose mean runs over the rated rows only; with a share ``s < 1`` of
            rated rows the rating biases learn ``sqrt(s)`` times slower than the rest (see
            the user guide, "Interactions without ratings"). ``None`` (or all NaN) trains an
            implicit-feedback model, which recommends but does not predict ratings.
        sample_weight : array-like of shape (n_samples,) or float, default=None
            Weight of each row in both losses (e.g. a confidence); each loss is the weighted
            mean over its rows. Non-negative and finite; None weighs every row 1. Routed by
            scikit-learn's metadata routing (``set_fit_request(sample_weight=True)``).
        users : pandas.DataFrame, default=None
            Side information keyed by ``user_col`` (e.g. ``fetch_movielens().users``), one
            row per user; its other columns become user features (see ``user_features``).
        items : pandas.DataFrame, default=None
            Side information keyed by ``item_col`` (e.g. ``fetch_movielens().movies``), one
            row per item; its other columns become item features (see ``item_features``) and
            are appended to the output of :meth:`recommend`.

        Returns
        -------
        self : MultiTaskRecommender
            The fitted estimator.

        Raises
        ------
        ValueError
            If a side frame lacks its id column or repeats an id, holds ids of another kind
            than ``X``'s, or its feature transformer returns another number of rows or values
            that are not finite; if ``item_item_l2`` is too small for the item-item solve
            (raised before training); or, with ``warm_start``, if a parameter of the model's
            architecture changed (named in the message).
        """
        check_params(self)
        user_ids, item_ids = check_interactions(X, self.user_col, self.item_col)
        ratings = check_ratings(y, len(user_ids))
        weights = check_sample_weight(sample_weight, len(user_ids))
        frames = self._check_side_frames(users, items, item_ids)
        self._check_devices()
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        features = self._side_features(frames)
        data = self._training_set(user_ids, item_ids, ratings, weights, seed, features)
        model = self._build_model(data, seed, features)
        history = self._train(model, data, seed)
        # Fitted state is only set once training succeeded: an interrupted fit leaves the
        # estimator as it was.
        encoders = {space: None if side is None else side.encoder for space, side in features.items()}
        self._set_fitted_state(model, data.interactions, self._merged_history(history), self._item_info(frames["item"], data), encoders)
        self._record_features(X)
        return self

    def _record_features(self, X):
        """``n_features_in_`` and, for a frame with str column names, ``feature_names_in_``."""
        self.n_features_in_ = X.shape[1] if hasattr(X, "shape") and len(X.shape) == 2 else 2
        names = getattr(X, "columns", None)
        if names is not None and all(isinstance(name, str) for name in names):
            self.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _read_ids(self, X):
        """The user and item ids of ``X``: by name from a frame, by position from an array.

        Fitted on a frame and given an array, the array's columns are read at the positions the
        user and item columns had in that frame, with scikit-learn's warning.
        """
        positions = (0, 1)
        if not isinstance(X, pd.DataFrame) and hasattr(self, "feature_names_in_"):
            warnings.warn(
                f"X does not have valid feature names, but {type(self).__name__} was fitted with feature names",
                UserWarning,
                stacklevel=3,
            )
            names = list(self.feature_names_in_)
            positions = (names.index(self.user_col), names.index(self.item_col))
        return check_interactions(X, self.user_col, self.item_col, positions=positions)

    def _warm(self):
        """Whether this fit continues the fitted model (``warm_start``)."""
        return self.warm_start and self.__sklearn_is_fitted__()

    def _check_side_frames(self, users, items, item_ids):
        """Validate the side frames; return them indexed by id (``{"user": ..., "item": ...}``, None if absent)."""
        frames = {"user": None, "item": None}
        if users is not None:
            frames["user"] = check_side_frame(users, self.user_col, name="users")
        if items is not None:
            frames["item"] = check_side_frame(items, self.item_col, name="items")
            _warn_if_sliced(frames["item"], item_ids)
        return frames

    def _feature_spec(self, space, frames):
        """The encoder of ``space``'s features (``"auto"`` or a transformer), or None when unused."""
        spec = self.user_features if space == "user" else self.item_features
        return None if frames[space] is None else spec

    def _check_devices(self):
        """Under a data-parallel distribution, every batch must split evenly over the devices."""
        devices = data_parallel_devices()
        if int(self.batch_size) % devices:
            raise ValueError(
                f"batch_size={self.batch_size} cannot be split evenly over the {devices} devices of the "
                f"active keras.distribution: set batch_size to a multiple of {devices}, e.g. "
                f"{int(self.batch_size) // devices * devices or devices}."
            )

    def _side_features(self, frames):
        """Step 1: the features of each side frame, ``{"user": SideFeatures or None, "item": ...}``.

        A warm start keeps the fitted encoding (so the feature embeddings it continues mean
        the same): the frames are encoded by it, and a side fitted without features stays so.
        """
        if self._warm():
            return {space: None if (encoder := self._encoders_.get(space)) is None else SideFeatures.of(frames[space], encoder, f"`{space}s`") for space in frames}
        return {space: None if (spec := self._feature_spec(space, frames)) is None else encode_features(frames[space], spec) for space in frames}

    def _training_set(self, user_ids, item_ids, ratings, weights, seed, features):
        """Step 2: encode the interactions (extending the fitted vocabularies when warm).

        The ids of a side frame with features get rows too (cold-start users and items).
        """
        extra = {space: None if side is None else side.index for space, side in features.items()}
        return build_training_set(
            user_ids,
            item_ids,
            ratings,
            weights,
            previous=self._interactions_ if self._warm() else None,
            validation_fraction=self.validation_fraction if self.early_stopping else None,
            seed=seed,
            extra_users=extra["user"],
            extra_items=extra["item"],
        )

    def _build_model(self, data, seed, features):
        """Step 3: a new Keras model sized for ``data`` (holding the fitted weights when warm)."""
        index = {"user": data.interactions.users.index, "item": data.interactions.items.index}
        padded = {s: None if f is None else padded_features(self._feature_rows(s, f, index[s])) for s, f in features.items()}
        names = {s: () if f is None else f.names for s, f in features.items()}
        widths = {s: 1 if p is None else p[0].shape[1] for s, p in padded.items()}
        l2_form = self._l2_form_for(data)
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
            l2=self._l2_for(data, l2_form),
            rating_mean=data.rating_mean(),
            seed=seed,
            user_feature_names=names["user"],
            item_feature_names=names["item"],
            user_feature_width=widths["user"],
            item_feature_width=widths["item"],
            rating_bias_scale=self._rating_bias_scale(data),
            item_implicit_feedback=self._item_implicit_for(data),
            rater_penalty=self._rater_penalty(data),
            item_item_weight=float(self.item_item_weight) if self._item_item_for(data.n_items) else 0.0,
            item_item_l2=float(self.item_item_l2),
            l2_form=l2_form,
        )
        if self._warm():
            check_same_architecture(self.model_, model)
            copy_weights(self.model_, model)
        else:
            model.build()
        for space, rows in padded.items():
            if rows is not None:
                model.set_features(space, *rows)
                model.mark_cold(space, data.interactions.cold(space))
        return model

    def _rating_bias_scale(self, data):
        """How much slower the rating biases learn than the rest: the square root of the share of rated rows.

        A batch holds that share of ratings, so the rating loss's gradient (the only one the
        rating biases get) is noisier by its inverse square root; scaling their learning rate
        by it keeps their step noise, after the square-root rule of learning rate and batch
        size (Krizhevsky 2014; Hoffer et al., NeurIPS 2017). 1 for fully rated and for
        implicit data; a warm start keeps the fitted model's.
        """
        if self._warm():
            return self.model_.rating_bias_scale
        share = data.rated_share()
        return float(np.sqrt(share)) if share > 0 else 1.0

    def _item_implicit_for(self, data):
        """Whether the model has the item-side implicit term: ``item_implicit_feedback`` if the data has ratings.

        The term enters the rating head only, which implicit feedback alone does not train, so
        without ratings the model is built without it (no rater table, no rater lists in the
        batches). A warm start with the option keeps the fitted model's choice.
        """
        if self._warm() and self.item_implicit_feedback:
            return self.model_.item_implicit_feedback
        return bool(self.item_implicit_feedback) and data.interactions.has_ratings

    def _rater_penalty(self, data):
        """The rater terms' weight in the L2 penalty relative to the vectors': 0.1 on well-rated items, up to 1.

        An item's rater term is fitted to that item's ratings, so with few ratings per item
        it overfits (MovieLens 100k with 10% of the rows rated: RMSE 1.0274 at 0.1, 1.0162 at
        1): the weight is ``_RATER_PENALTY_BASE * max(1, _RATER_REFERENCE_COUNT / n)`` (0.1
        and 40), at most 1, with ``n`` the rated training rows per item
        (:meth:`TrainingSet.ratings_per_item`); 1 without ratings or without the option (it is
        then unused, and the rows are not counted). A warm start keeps the fitted model's.
        """
        if self._warm():
            return self.model_.rater_penalty
        if not self.item_implicit_feedback:
            return 1.0
        n = data.ratings_per_item()
        return min(1.0, _RATER_PENALTY_BASE * max(1.0, _RATER_REFERENCE_COUNT / n)) if n > 0 else 1.0

    def _feature_rows(self, space, side, index):
        """Feature rows of the ids ``index``: the frame's, or when warm the fitted model's for ids it does not list."""
        rows = side.rows(index)
        if not self._warm():
            return rows
        fitted = unpadded_features(*self.model_.feature_arrays(space), rows.shape[1])
        fitted = sp.vstack([fitted, sp.csr_matrix((len(index) - fitted.shape[0], rows.shape[1]), dtype=np.float32)])
        listed = (side.index.get_indexer(index) >= 0).astype(np.float32)
        return sp.csr_matrix(sp.diags(listed) @ rows + sp.diags(1.0 - listed) @ fitted, dtype=np.float32)

    def _negatives_for(self, n_items):
        """The retrieval loss's negatives: ``retrieval_negatives``, with ``"auto"`` resolved.

        ``"auto"`` scores the whole catalogue when it has at most ``4 * n_negatives`` items (its
        exact gradient is worth up to four times the cost of the sampled one), else samples. A
        warm start keeps the fitted model's choice under ``"auto"``; another explicit choice is an
        architecture change, refused by :func:`check_same_architecture`.
        """
        if self._warm() and self.retrieval_negatives == "auto":
            return self.model_.retrieval_negatives
        if self.retrieval_negatives != "auto":
            return self.retrieval_negatives
        return "catalogue" if n_items <= 4 * self.n_negatives else "sampled"

    def _item_item_for(self, n_items):
        """Whether the recommend score has the EASE item-item term: ``item_item`` with ``"auto"`` resolved.

        ``"auto"`` adds it to catalogues of at most ``_ITEM_ITEM_MAX_ITEMS`` items (its fit
        costs the cube of the catalogue, its weights the square). A warm start keeps the
        fitted model's choice under ``"auto"``.
        """
        if self._warm() and self.item_item == "auto":
            return bool(self.model_.item_item_weight)
        on = n_items <= _ITEM_ITEM_MAX_ITEMS if self.item_item == "auto" else self.item_item == "ease"
        return on and self.item_item_weight > 0

    def _rating_recipe(self, data):
        """Whether the ``"auto"`` settings take the rating recipe: a rating on at least half the training rows.

        The per-id penalty and the cosine schedule were chosen for the rating task; the
        per-interaction penalty and a constant rate with weight averaging for retrieval, which
        is all that clicks train (validation splits of MovieLens 100k with a quarter of its
        rows and no ratings: Recall@10 0.0812 against 0.0873, means of three seeds; see the
        user guide's "The defaults' two recipes").
        """
        return data.rated_share() >= _RATING_RECIPE_SHARE

    def _l2_form_for(self, data):
        """``l2_form`` with ``"auto"`` resolved: ``"per_id"`` under the rating recipe; a warm start keeps the fitted model's."""
        if self.l2_form != "auto":
            return self.l2_form
        if self._warm():
            return self.model_.l2_form
        return "per_id" if self._rating_recipe(data) else "per_interaction"

    def _schedule_for(self, data):
        """``(lr_schedule, learning_rate, swa_fraction)`` with each ``"auto"`` resolved.

        ``lr_schedule="auto"`` is ``"cosine"`` under the rating recipe, else ``"constant"``;
        ``learning_rate="auto"`` is 0.006 under a cosine schedule (whose mean over the run
        is then 0.003), else 0.003; ``swa_fraction="auto"`` is 0 under a cosine schedule
        (its rate decays to zero and settles the weights), else 0.5.
        """
        schedule = self.lr_schedule
        if schedule == "auto":
            schedule = "cosine" if self._rating_recipe(data) else "constant"
        cosine = schedule == "cosine"
        rate = self.learning_rate
        if isinstance(rate, str):
            rate = _COSINE_LEARNING_RATE if cosine else _CONSTANT_LEARNING_RATE
        swa = self.swa_fraction
        if isinstance(swa, str):
            swa = 0.0 if cosine else _CONSTANT_SWA_FRACTION
        return schedule, float(rate), float(swa)

    def _l2_for(self, data, form):
        """The L2 penalty's weight: ``l2``, with ``"auto"`` resolved by the data's size.

        ``"auto"`` is ``_L2_BASE * max(1, _L2_REFERENCE_COUNT / n)`` with ``n`` the training rows
        per user or per item, whichever is more (:meth:`TrainingSet.interactions_per_id`): the
        penalty chosen on MovieLens 100k, stronger in inverse proportion to ``n`` on sparser
        data, after the MAP view of the penalty (a prior whose weight per id should not grow
        with the id's interactions, as a per-interaction penalty's does). Under
        ``l2_form="per_id"`` (a penalty per id already, which with a prior of fixed strength
        would grow as ``1 / m`` against the rating loss's mean) it is ``_L2_PER_ID_BASE *
        max(1, _L2_PER_ID_REFERENCE_COUNT / m)``, with ``m`` the rated training rows per user
        or per item (``n`` times the rated share; ``n`` without ratings). A warm start keeps
        the fitted model's weight under ``"auto"``.
        """
        if self._warm() and isinstance(self.l2, str):
            return self.model_.l2
        if not isinstance(self.l2, str):
            return float(self.l2)
        n = max(data.interactions_per_id(), 1.0)
        if form == "per_id":
            m = max(n * (data.rated_share() or 1.0), 1.0)
            return _L2_PER_ID_BASE * max(1.0, _L2_PER_ID_REFERENCE_COUNT / m)
        return _L2_BASE * max(1.0, _L2_REFERENCE_COUNT / n)

    def _train(self, model, data, seed):
        """Step 4: train ``model`` on ``data``; return the per-epoch history."""
        schedule, learning_rate, swa_fraction = self._schedule_for(data)
        options = TrainingOptions(
            optimizer=self.optimizer,
            optimizer_params=self.optimizer_params,
            learning_rate=learning_rate,
            lr_schedule=schedule,
            batch_size=int(self.batch_size),
            epochs=int(self.epochs),
            early_stopping=bool(self.early_stopping),
            n_iter_no_change=int(self.n_iter_no_change),
            rating_blend=float(self.rating_blend),
            verbose=int(self.verbose),
            max_history=int(self.max_history),
            max_raters=int(self.max_raters),
            n_negatives=int(self.n_negatives),
            devices=data_parallel_devices(),
            id_dropout=float(self.id_dropout),
            swa_fraction=swa_fraction,
        )
        return train(model, data, options, seed)

    def _merged_history(self, history):
        """This fit's history, appended to the earlier fits' when warm."""
        if not self._warm():
            return history
        names = list(self.history_) + [name for name in history if name not in self.history_]
        return {name: self.history_.get(name, []) + history.get(name, []) for name in names}

    def _item_info(self, item_frame, data):
        """The ``items`` frame restricted to the catalogue (the fitted one when warm and absent)."""
        if item_frame is None and self._warm():
            item_frame = self.item_info_
        return None if item_frame is None else item_frame.reindex(data.interactions.items.index)

    def _set_fitted_state(self, model, interactions, history, item_info, encoders):
        """Step 5: the fitted attributes, set together (by ``fit`` and by :func:`load`).

        ``encoders`` holds the fitted feature encoding of each space (``"user"``, ``"item"``;
        None without features), for the frames given to ``predict`` and ``recommend``.
        """
        self.model_ = model
        self.history_ = history
        self.users_ = interactions.users.index
        self.items_ = interactions.items.index
        self.rating_range_ = interactions.rating_range
        self.retrieval_negatives_ = model.retrieval_negatives
        self.l2_ = model.l2
        self.l2_form_ = model.l2_form
        self.item_item_ = "ease" if model.item_item_weight else None
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

        The file is a zip archive of ``metadata.json`` (the skrec, Keras and backend versions,
        the parameters, the Keras model's config, the side frames' schema) and ``arrays.npz``
        (the model's weights, the id vocabularies, the seen items, the rating sums, the side
        frames' columns), plus, with side features, the fitted feature transformers (and a
        transformer given as ``user_features`` / ``item_features``) in ``skops.io``'s format;
        loading it runs no code, unlike ``pickle``. It is written to a
        temporary file in the same folder and then moved into place, so an existing file is
        replaced only by a complete one. A file is read by the same major.minor version of
        skrec.

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

    # -------------------------------------------------------------- predict
    def predict(self, X, *, users=None, items=None):
        """Predict the rating of each (user, item) pair, on the scale of the ``y`` of ``fit``.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, 2)
            The pairs, as in :meth:`fit`.
        users, items : pandas.DataFrame or None, default=None
            Side frames (as in :meth:`fit`, with at least its columns) describing users or
            items that ``fit`` did not see: they are rated from their features, encoded as in
            ``fit`` (a new user has no history in ``predict``: its vector is its features').
            Rows of ids seen in ``fit`` are not used.

        Returns
        -------
        ratings : ndarray of shape (n_samples,)
            Predicted ratings, clipped to ``rating_range_``. Pairs with a user or item
            unknown to the model and to the frames get the cold-start fallback described in
            the class Notes.

        Raises
        ------
        ValueError
            If the model was fitted without any rating (implicit feedback): it has no rating
            scale to predict on; if a frame is given for a side the model has no features of,
            or lacks a column its features were fitted on.
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
        return self._predict_codes(u, i, new)

    def _check_id_kinds(self, user_ids, item_ids, where):
        """``TypeError`` when ``where``'s user or item ids are of another kind than the model's."""
        self._interactions_.users.check_kind(user_ids, where)
        self._interactions_.items.check_kind(item_ids, where)

    def _serving_ids(self, users, items):
        """The ids of the serving frames that ``fit`` did not see: ``{"user": NewIds or None, "item": ...}``."""
        out = {}
        for space, frame in (("user", users), ("item", items)):
            out[space] = None if frame is None else self._new_ids_of(space, frame)
        return out

    def _new_ids_of(self, space, frame):
        name, col = (("users", self.user_col) if space == "user" else ("items", self.item_col))
        frame = check_side_frame(frame, col, name=name)
        (self._interactions_.users if space == "user" else self._interactions_.items).check_kind(frame.index, f"`{name}`")
        if self._encoders_.get(space) is None:
            raise ValueError(
                f"`{name}` was given, but this model was fitted without {space} features: ids it did not "
                f"see cannot be scored from a frame. Refit with the `{name}` frame (and {space}_features not None)."
            )
        vocabulary = self._interactions_.users if space == "user" else self._interactions_.items
        return new_ids(self.model_, space, self._encoders_[space], frame, vocabulary, f"`{name}`")

    def _predict_codes(self, u, i, new=None):
        """Ratings of encoded pairs (``-1`` = unknown id, past the vocabulary = ``new``'s ids), on the scale of ``y``."""
        known = (u >= 0) & (i >= 0)
        low, high = self.rating_range_
        out = np.empty(len(u), dtype=np.float64)
        fitted = known & (u < len(self.users_)) & (i < len(self.items_))
        if fitted.any():
            scaled = predict_scaled(self.model_, u[fitted], i[fitted], self._interactions_.seen)
            out[fitted] = scaled * self._interactions_.span + low
        if (known & ~fitted).any():
            pairs = known & ~fitted
            scaled = rate_pairs(self.model_, u[pairs], i[pairs], self._interactions_.seen, new["user"], new["item"])
            out[pairs] = scaled * self._interactions_.span + low
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
        return self._interactions_.means.predict(u, i)

    # ------------------------------------------------------------ recommend
    def recommend(self, user_ids, k=10, *, exclude_seen=True, history=None, candidates=None, exclude_items=None, users=None, items=None):
        """Return the top-``k`` items of each user, best first.

        Parameters
        ----------
        user_ids : scalar or iterable
            One user id or any iterable of them (list, array, Series, set, generator, ...).
            Repeated ids are answered once. Users not seen in ``fit`` are folded in from
            ``history`` if it has rows for them, else get the most popular items (see
            ``unknown_users``).
        k : int, default=10
            Items per user, ``1 <= k <= len(items_)``.
        exclude_seen : bool, default=True
            Leave out the items each user interacted with in ``fit`` (or, for a folded-in
            user, in ``history``). A user with fewer than ``k`` items left gets all of them.
        history : pandas.DataFrame or None, default=None
            Interactions of users not seen in ``fit``, with the columns ``user_col`` and
            ``item_col`` and an optional ``"rating"`` column (NaN for none). Their vectors are
            computed without refitting (fold-in: the SVD++ term of the history, refined by the
            rated items with the item side fixed; see the user guide). Items unknown to the
            model are ignored, except the new items of ``items``, whose ratings fold in.
            Users seen in ``fit`` may not appear: pass their recent interactions as
            ``exclude_items`` instead.
        candidates : list-like or None, default=None
            Item ids that may be recommended (e.g. those in stock); ids unknown to the model
            are ignored (with a warning if none is left). None allows the whole catalogue.
        exclude_items : list-like, pandas.DataFrame or None, default=None
            Items never to recommend: a list-like of item ids for every user, or a frame of
            (``user_col``, ``item_col``) pairs for some users (e.g. items already shown).
        users : pandas.DataFrame or None, default=None
            A side frame (as in :meth:`fit`) describing users that ``fit`` did not see: their
            vectors are their features' (encoded as in ``fit``), the start of the fold-in when
            they also have a ``history``. Rows of users seen in ``fit`` are not used.
        items : pandas.DataFrame or None, default=None
            A side frame describing items that ``fit`` did not see: they join the catalogue
            for this call (cold start), scored from their features; ``candidates`` and
            ``exclude_items`` may name them. Rows of items seen in ``fit`` are not used. The
            output shows the frame's values of the columns of ``item_info_`` for them.

        Returns
        -------
        recommendations : pandas.DataFrame
            One row per (user, recommended item), user by user (the users seen in ``fit`` in
            the order of ``users_``, then the folded-in users by id, then the users who get
            the popular items by id), best first, with the columns ``user_col``, ``"rank"``
            (1 = best), ``item_col``, ``"score"`` and the columns of ``item_info_`` if
            ``items`` was given to ``fit``. ``score`` (higher is better) is what the items are
            ranked by: the retrieval score (the retrieval head's logit) plus ``rating_blend``
            times the predicted rating on the ``[0, 1]`` scale, without the user's rating bias
            (it cannot change a user's ranking), plus ``item_item_weight`` times the EASE
            score of the user's history when ``item_item_`` is ``"ease"``; with
            ``rating_blend=0``, or for a model fitted without ratings, without the rating
            term. For users who get the popular
            items it is the number of users who interacted with the item in ``fit``.

        Raises
        ------
        ValueError
            If ``user_ids`` is empty, if ``k`` is below 1 or above the catalogue size, if
            ``history`` holds users seen in ``fit``, or, with ``unknown_users="error"``, if a
            user is unknown and has no history.
        TypeError
            If ``k`` is not an int, ``user_ids`` is a DataFrame or an array of more than one
            dimension, ``candidates`` or ``exclude_items`` is a string, or ids of
            ``user_ids``, ``history`` or a frame are of another kind (strings, numbers) than
            the model's.

        Warns
        -----
        ColdStartWarning
            When some users get the most popular items, with their count.
        """
        check_is_fitted(self)
        new = self._serving_ids(users, items)
        k = check_k(k, len(self.items_) + (0 if new["item"] is None else len(new["item"].index)))
        requested = pd.Index(pd.unique(pd.Series(_id_list(user_ids, "user_ids"))))
        if not len(requested):
            raise ValueError("`user_ids` is empty: give at least one user id.")
        self._interactions_.users.check_kind(requested, "`user_ids`")
        request = build_request(
            self.model_,
            self._interactions_,
            requested,
            exclude_seen=exclude_seen,
            history=self._checked_history(history),
            candidates=None if candidates is None else check_item_list(candidates, name="candidates"),
            exclude=check_exclusions(exclude_items, self.user_col, self.item_col),
            lam=self._ridge_weight(),
            lam_count=None if history is None else self._ridge_count(),
            new_users=new["user"],
            new_items=new["item"],
        )
        self._check_unknown_users(request)
        if request.candidates is not None and not len(request.candidates):
            warnings.warn("None of the `candidates` is an item the model knows (or a new item of `items`): nothing is recommended.", UserWarning, stacklevel=2)
        rows, ranks, codes, scores = answer(self.model_, self._interactions_, request, k, self._rating_blend())
        return self._recommendation_frame(request.user_ids[rows], ranks, codes, scores, new["item"])

    def _checked_history(self, history):
        """The validated ``history`` (ids, items, scaled ratings); ValueError for known users."""
        if history is None:
            return None
        users, items, ratings = check_history(history, self.user_col, self.item_col)
        self._check_id_kinds(users, items, "`history`")
        known = pd.unique(users[self._interactions_.users.transform(users) >= 0])
        if len(known):
            raise ValueError(
                f"`history` holds {len(known)} user(s) seen in fit (e.g. {known[:1].tolist()[0]!r}): it is for new users. "
                f"To keep items from a known user, pass them as `exclude_items`."
            )
        if self._interactions_.has_ratings:
            ratings = (ratings - self.rating_range_[0]) / self._interactions_.span
        return users, items, ratings if self._interactions_.has_ratings else np.full(len(users), np.nan)

    def _ridge_weight(self):
        """The fold-in's ridge weight per rated item: ``l2_ / ranking_weight`` (the model's, which old pickles hold too)."""
        return float(self.model_.l2) / float(self.ranking_weight) if self.ranking_weight else np.inf

    def _ridge_count(self):
        """The fold-in's count of rated items per user under ``l2_form="per_id"``, else None (each user's own).

        The training penalty then charges every id ``n / sum(weights)`` times its squared norm
        (``TrainingSet.penalty_shares``), which for one user's ridge problem is ``n`` times the
        rated share of the weights: the weighted rated interactions (of every fit) over the
        fewer of the users and the items that have one. The model's ``l2_form`` is read (old
        files hold ``"per_interaction"``).
        """
        if self.model_.l2_form != "per_id":
            return None
        seen = self._interactions_.seen
        ids = min(np.count_nonzero(np.diff(seen.indptr)), np.count_nonzero(self._interactions_.popularity()))
        return float(self._interactions_.means.count / max(ids, 1))

    def _rating_blend(self):
        """``rating_blend``, or 0 for a model fitted without ratings (its rating head is untrained)."""
        return float(self.rating_blend) if self._interactions_.has_ratings else 0.0

    def _check_unknown_users(self, request):
        """Warn about, or refuse (``unknown_users="error"``), users who get the popular items."""
        unknown = request.user_ids[request.n_scored :]
        if not len(unknown):
            return
        if self.unknown_users == "error":
            shown = ", ".join(repr(x) for x in unknown[:5].tolist())
            raise ValueError(
                f"{len(unknown)} user id(s) not seen in fit and without history: {shown}"
                f"{', ...' if len(unknown) > 5 else ''}. Pass their interactions as `history`, or set "
                f"unknown_users='popular' to give them the most popular items."
            )
        warnings.warn(
            f"{len(unknown)} user(s) were not seen in fit and have no history: they get the most popular items.",
            ColdStartWarning,
            stacklevel=3,
        )

    def _recommendation_frame(self, users, ranks, items, scores, new_items=None):
        """The long output frame of :meth:`recommend` from encoded top-k rows (new items past the catalogue)."""
        catalogue = self._interactions_.items.index
        info = self.item_info_
        if new_items is not None:
            catalogue = catalogue.append(new_items.index)
            if info is not None:
                info = pd.concat([info, new_items.frame.reindex(columns=info.columns)])
        out = pd.DataFrame({self.user_col: np.asarray(users), "rank": ranks, self.item_col: catalogue.take(items).to_numpy(), "score": scores})
        if info is not None:
            out = pd.concat([out, info.iloc[items].reset_index(drop=True)], axis=1)
        return out

    def similar_items(self, item_ids, k=10):
        """Return the ``k`` items most similar to each of ``item_ids``, by the model's item vectors.

        Similarity is the cosine of the items' retrieval vectors (the vectors the retrieval
        score takes with a user's query). An item is never similar to itself.

        Parameters
        ----------
        item_ids : scalar or iterable
            Ids of items seen in ``fit``; repeated ids are answered once.
        k : int, default=10
            Similar items per item, ``1 <= k < len(items_)``.

        Returns
        -------
        similar : pandas.DataFrame
            One row per (item, similar item), item by item in the order of ``items_``, best
            first, with the columns ``item_col``, ``"rank"``, ``"similar_" + item_col`` and
            ``"score"`` (the cosine, in ``[-1, 1]``).

        Raises
        ------
        ValueError
            If an item is unknown, or ``k`` is out of range.
        """
        check_is_fitted(self)
        k = check_k(k, len(self.items_) - 1)
        requested = pd.Series(_id_list(item_ids, "item_ids"))
        codes = self._interactions_.items.transform(requested)
        if (codes < 0).any():
            unknown = pd.unique(requested[codes < 0])
            raise ValueError(f"{len(unknown)} item id(s) not seen in fit: {', '.join(repr(x) for x in unknown[:5].tolist())}.")
        codes = np.unique(codes)
        rows, ranks, items, scores = similar_items(self.model_, codes, k)
        inverse = self._interactions_.items.inverse_transform
        return pd.DataFrame(
            {self.item_col: inverse(rows), "rank": ranks, f"similar_{self.item_col}": inverse(items), "score": scores}
        )

    # ---------------------------------------------------------------- score
    def score(self, X, y=None, sample_weight=None):
        """Multi-task score on held-out interactions: the mean of a retrieval and a rating term.

        ``score = 0.5 * NDCG@10 + 0.5 * (1 - RMSE / (high - low))`` where

        * NDCG@10 grades the :meth:`recommend` lists (seen items excluded) of the users in
          ``X`` with gains ``(rating - low) / (high - low)`` of their held-out ratings, or 1
          for a held-out interaction without a rating, times its ``sample_weight`` (users
          unknown to the model are left out);
        * RMSE is that of :meth:`predict` on the rows of ``X`` with a rating (cold-start pairs
          included), weighted by ``sample_weight``;
        * ``low, high = rating_range_``.

        For a model fitted without ratings, or held-out interactions without any, the score
        is the NDCG@10 alone. Both terms lie in ``[0, 1]`` for ratings inside
        ``rating_range_``; higher is better. A model that neglects either task scores low, so
        ``GridSearchCV`` with the default scorer tunes the loss weights meaningfully. Use
        :func:`skrec.metrics.make_ranking_scorer` or ``"neg_root_mean_squared_error"`` to
        select on one task only.

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
        u, i = self._interactions_.encode(user_ids, item_ids)
        rated = ~np.isnan(ratings) & (weights > 0)
        gains = np.ones(len(u)) if not self._interactions_.has_ratings else np.where(
            np.isnan(ratings), 1.0, (ratings - self.rating_range_[0]) / self._interactions_.span
        )
        truth = pd.DataFrame({self.user_col: user_ids, self.item_col: item_ids, "gain": gains * weights})
        ndcg = self._graded_ndcg(truth[(truth["gain"] > 0) & (u >= 0)], recommend)
        if not (self._interactions_.has_ratings and rated.any()):
            return ndcg
        predicted = predict_codes(u[rated], i[rated])
        rmse = float(np.sqrt(np.average((predicted - ratings[rated]) ** 2, weights=weights[rated])))
        return multitask_score(ndcg, rmse / self._interactions_.span)

    def _graded_ndcg(self, truth, recommend):
        """NDCG@10 of the ``recommend`` lists of ``truth``'s users, graded by its gains."""
        if not len(truth):
            return 0.0
        recommended = recommend(truth[self.user_col].unique(), k=min(10, len(self.items_)))
        return metrics.ndcg_at_k(truth, recommended, k=10, user_col=self.user_col, item_col=self.item_col, gain_col="gain")


def _id_list(ids, name):
    """One id (a str, a number, any non-iterable label) or any iterable of ids, as a list.

    Raises
    ------
    TypeError
        If ``ids`` is a DataFrame or an array of more than one dimension.
    """
    if isinstance(ids, (str, bytes)) or not isinstance(ids, collections.abc.Iterable):
        return [ids]
    if isinstance(ids, np.ndarray) and ids.ndim == 0:
        return [ids.item()]
    if isinstance(ids, pd.DataFrame) or (isinstance(ids, np.ndarray) and ids.ndim > 1):
        raise TypeError(
            f"`{name}` must be one id or an iterable of ids (list, array, Series, set, generator, ...); "
            f"got a {type(ids).__name__} of shape {np.shape(ids)}: pass one of its columns."
        )
    return list(ids)


def _warn_if_sliced(frame, item_ids):
    """Warn when an ``items`` frame looks cut per fold by a scikit-learn search.

    Searches and ``cross_validate`` slice every fit parameter as long as ``X``, as if it were a
    per-row column: an ``items`` frame that happens to have ``len(X)`` rows then loses rows.
    """
    missing = pd.Index(pd.unique(item_ids)).difference(frame.index)
    if len(frame) == len(item_ids) and len(missing):
        warnings.warn(
            f"`items` has as many rows as X ({len(frame)}) and lacks {len(missing)} of X's items: a "
            f"scikit-learn search or cross_validate may have sliced it like a per-row column of X. "
            f"Items it lacks have no side information; see the user guide on side frames in searches.",
            UserWarning,
            stacklevel=4,
        )


def load(path, *, trusted=()):
    """Read an estimator written by :meth:`MultiTaskRecommender.save`.

    Parameters
    ----------
    path : str or path-like
        The file.
    trusted : sequence of str, default=()
        Types (``"module.name"``) that the stored feature transformers may hold besides
        scikit-learn's, NumPy's, SciPy's and skrec's own, which are trusted; a file holding
        any other type is refused (``skops.io``'s rule: loading builds only trusted types).

    Returns
    -------
    estimator : MultiTaskRecommender
        The fitted estimator, with the same ``predict``, ``recommend`` and ``score`` outputs as
        the one that was saved (on the same backend).

    Raises
    ------
    ValueError
        If the file is not a skrec model file, is truncated or corrupt, was written by a
        version of skrec or Keras this one cannot read, or holds an untrusted type (the
        message names it).

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
    state = _persistence.load(path, trusted=tuple(trusted))
    estimator = MultiTaskRecommender(**state.params)
    estimator._set_fitted_state(state.model, state.interactions, state.history, state.item_info, state.encoders)
    estimator.n_features_in_ = 2
    return estimator

