"""Serving a fitted model: ratings of encoded pairs, the parts of a ``recommend`` call, and the multi-task score.

Each function reads the fitted state it needs (the Keras model, the
:class:`~skrec._interactions.Interactions`, the feature encoders) as arguments; the estimator's
public methods validate their input and call these.
"""

import numpy as np
import pandas as pd
import scipy.sparse as sp

from skrec import metrics
from skrec._audiences import audiences
from skrec._diversity import pool_size, rerank
from skrec._explain import UserParts, explanation_frame
from skrec._interactions import implicit_weights
from skrec._new_ids import extended_codes, new_ids, rate_folded, rate_pairs
from skrec._requests import answer, folded_users
from skrec._retrieval import predict_scaled, similar_items, table_rows, unit_item_vectors
from skrec._training import multitask_score
from skrec._validation import check_exclusions, check_history, check_id_list, check_item_list, check_k, check_side_frame
from skrec._warnings import warn
from skrec.exceptions import ColdStartWarning

__all__ = [
    "serving_ids",
    "predict_codes",
    "folded_rows",
    "checked_history",
    "checked_candidates",
    "checked_exclusions",
    "ridge_weight",
    "ridge_count",
    "check_unknown_users",
    "nothing_allowed",
    "recommendation_frame",
    "ranked_answer",
    "score_of",
    "similar_frame",
    "audience_frame",
    "explain_frame",
]


def serving_ids(model, interactions, encoders, cols, users, items):
    """The ids of the serving frames that ``fit`` did not see: ``{"user": NewIds or None, "item": ...}``.

    ``cols`` is ``(user_col, item_col)``.
    """
    frames = {"user": (users, "users", cols[0], interactions.users), "item": (items, "items", cols[1], interactions.items)}
    return {space: None if args[0] is None else _new_ids_of(model, encoders, space, *args) for space, args in frames.items()}


def _new_ids_of(model, encoders, space, frame, name, col, vocabulary):
    frame = check_side_frame(frame, col, name=name)
    vocabulary.check_kind(frame.index, f"`{name}`")
    if encoders.get(space) is None:
        raise ValueError(
            f"`{name}` was given, but this model was fitted without {space} features: ids it did not "
            f"see cannot be scored from a frame. Refit with the `{name}` frame (and {space}_features not None)."
        )
    return new_ids(model, space, encoders[space], frame, vocabulary, f"`{name}`")


def predict_codes(model, interactions, u, i, new=None, folded=None):
    """Ratings of encoded pairs (``-1`` = unknown id, past the vocabulary = ``new``'s ids), on the scale of ``y``.

    ``folded`` is ``(row, vectors, biases)``: each pair's row among users folded in from a
    history (``-1`` for none), and their :func:`~skrec._fold_in.fold_in` vectors and biases.
    """
    known = (u >= 0) & (i >= 0)
    low, high = interactions.rating_range
    out = np.empty(len(u), dtype=np.float64)
    fitted = known & (u < len(interactions.users)) & (i < len(interactions.items))
    if fitted.any():
        out[fitted] = predict_scaled(model, u[fitted], i[fitted], interactions.seen) * interactions.span + low
    if (known & ~fitted).any():
        pairs = known & ~fitted
        scaled = rate_pairs(model, u[pairs], i[pairs], interactions.seen, new["user"], new["item"])
        out[pairs] = scaled * interactions.span + low
    pairs = np.zeros(len(u), bool) if folded is None else ~known & (folded[0] >= 0) & (i >= 0)
    if pairs.any():
        rows = folded[0][pairs]
        out[pairs] = rate_folded(model, folded[1][rows], folded[2][rows], i[pairs], None if new is None else new["item"]) * interactions.span + low
    cold = ~known & ~pairs
    if cold.any():
        out[cold] = _cold_start(interactions, u[cold], i[cold])
    return np.clip(out, low, high)


def folded_rows(model, interactions, user_ids, history, ranking_weight, new_users, new_items):
    """``predict``'s ``folded``: each pair's row among the users of ``history`` folded in (``-1`` for others), their vectors and biases.

    ``history`` is :func:`checked_history`'s (users unknown to ``fit`` only), or None.
    """
    if history is None:
        return None
    in_history = pd.Index(user_ids).isin(pd.unique(history[0]))
    ridge = (ridge_weight(model, ranking_weight), ridge_count(model, interactions))
    ids, vectors, biases, _ = folded_users(model, interactions, pd.Index(user_ids[in_history]), history, ridge, new_users, new_items)
    return ids.get_indexer(user_ids), vectors, biases


def _cold_start(interactions, u, i):
    warn("Pairs with a user or item not seen in fit get the mean training rating of the known side, or the global mean.", ColdStartWarning)
    return interactions.means.predict(u, i)


def checked_history(history, interactions, cols, rating_col="rating"):
    """The validated ``history`` (ids, items, scaled ratings); ValueError for users seen in ``fit``.

    Ratings are read from the column ``rating_col`` (the name of ``y`` in ``fit``) or ``"rating"``.
    """
    if history is None:
        return None
    users, items, ratings = check_history(history, *cols, rating_col if interactions.has_ratings else None)
    interactions.users.check_kind(users, "`history`")
    interactions.items.check_kind(items, "`history`")
    known = pd.unique(users[interactions.users.transform(users) >= 0])
    if len(known):
        raise ValueError(
            f"`history` holds {len(known)} user(s) seen in fit (e.g. {known[:1].tolist()[0]!r}): it is for new users. "
            f"To keep items from a known user, pass them as `exclude_items`."
        )
    if not interactions.has_ratings:
        return users, items, np.full(len(users), np.nan)
    _check_in_range(ratings, interactions.rating_range)
    return users, items, (ratings - interactions.rating_range[0]) / interactions.span


def _check_in_range(ratings, rating_range):
    """Refuse a history rating outside the fitted range: the fold-in would extrapolate from it."""
    low, high = rating_range
    outside = np.flatnonzero((ratings < low) | (ratings > high))
    if len(outside):
        row = int(outside[0])
        raise ValueError(
            f"`history` rating {float(ratings[row])!r} (row {row}) is outside rating_range_ "
            f"({float(low)!r}, {float(high)!r}) of fit: give ratings on the scale of fit's y."
        )


def checked_candidates(candidates, interactions):
    """``candidates`` as an Index of item ids of the model's kind, or None."""
    if candidates is None:
        return None
    ids = check_item_list(candidates, name="candidates")
    interactions.items.check_kind(ids, "`candidates`")
    return ids


def checked_exclusions(exclude_items, interactions, cols):
    """``(user ids or None, item ids)`` of ``exclude_items``, each of the model's kind, or None."""
    exclude = check_exclusions(exclude_items, *cols)
    if exclude is not None:
        if exclude[0] is not None:
            interactions.users.check_kind(exclude[0], "`exclude_items`")
        interactions.items.check_kind(exclude[1], "`exclude_items`")
    return exclude


def ridge_weight(model, ranking_weight):
    """The fold-in's ridge weight per rated item: ``l2 / ranking_weight`` (the model's, which old pickles hold too)."""
    return float(model.l2) / float(ranking_weight) if ranking_weight else np.inf


def ridge_count(model, interactions):
    """The fold-in's count of rated items per user under ``l2_form="per_id"``, else None (each user's own).

    The training penalty then charges every id ``n / sum(weights)`` times its squared norm
    (``TrainingSet.penalty_shares``), which for one user's ridge problem is ``n`` times the
    rated share of the weights: the weighted rated interactions (of every fit) over the
    fewer of the users and the items that have one.
    """
    if model.l2_form != "per_id":
        return None
    ids = min(np.count_nonzero(np.diff(interactions.seen.indptr)), np.count_nonzero(interactions.popularity()))
    return float(interactions.means.count / max(ids, 1))


def nothing_allowed(with_candidates):
    """The warning of a ``recommend`` call whose filters leave no item to recommend."""
    if with_candidates:
        return "None of the `candidates` is an item the model knows (or a new item of `items`) and not in `exclude_items`: nothing is recommended."
    return "`exclude_items` leaves out every item of the catalogue: nothing is recommended."


def check_unknown_users(request, unknown_users):
    """Warn about, or refuse (``unknown_users="error"``), the users who get the popular items."""
    unknown = request.user_ids[request.n_scored :]
    if not len(unknown):
        return
    if unknown_users == "error":
        shown = ", ".join(repr(x) for x in unknown[:5].tolist())
        raise ValueError(
            f"{len(unknown)} user id(s) not seen in fit and without a usable history (none given, or only of items "
            f"the model does not know): {shown}"
            f"{', ...' if len(unknown) > 5 else ''}. Pass their interactions as `history`, or set "
            f"unknown_users='popular' to give them the most popular items."
        )
    warn("Users not seen in fit and without history get the most popular items.", ColdStartWarning)


def ranked_answer(model, interactions, request, k, rating_blend, diversity):
    """``recommend``'s top-``k`` ``(rows, ranks, item codes, scores)``; with ``diversity``, the top of a larger pool re-ranked (:func:`~skrec._diversity.rerank`)."""
    if not diversity:
        return answer(model, interactions, request, k, rating_blend)
    n_items = request.excluded.shape[1]
    rows, _, codes, scores = answer(model, interactions, request, pool_size(k, n_items), rating_blend)
    vectors = unit_item_vectors(model, None if request.new_items is None else request.new_items.rows)
    return rerank(rows, codes, scores, vectors, k, diversity)


def recommendation_frame(interactions, item_info, cols, answer, new_items=None):
    """The long output frame of ``recommend`` from the encoded top-k ``(users, ranks, items, scores)``.

    Item codes past the catalogue are ``new_items``'.
    """
    users, ranks, items, scores = answer
    catalogue = interactions.items.index
    if new_items is not None:
        catalogue = catalogue.append(new_items.index)
        if item_info is not None:
            item_info = pd.concat([item_info, new_items.frame.reindex(columns=item_info.columns)])
    out = pd.DataFrame({cols[0]: np.asarray(users), "rank": ranks, cols[1]: catalogue.take(items).to_numpy(), "score": scores})
    if item_info is not None:
        out = pd.concat([out, item_info.iloc[items].reset_index(drop=True)], axis=1)
    return out


def score_of(interactions, cols, pairs, ratings, weights, predict, recommend):
    """The multi-task score of held-out ``pairs`` (encoded, with their ids), rated by ``predict`` and ranked by ``recommend``.

    ``pairs`` is ``(user_ids, item_ids, u, i)``; see ``MultiTaskRecommender.score``.
    """
    user_ids, item_ids, u, i = pairs
    rated = ~np.isnan(ratings) & (weights > 0)
    gains = np.ones(len(u))
    if interactions.has_ratings:
        gains = np.where(np.isnan(ratings), 1.0, (ratings - interactions.rating_range[0]) / interactions.span)
    truth = pd.DataFrame({cols[0]: user_ids, cols[1]: item_ids, "gain": gains * weights})
    ndcg = _graded_ndcg(truth[(truth["gain"] > 0) & (u >= 0)], recommend, cols, len(interactions.items))
    if not (interactions.has_ratings and rated.any()):
        return ndcg
    rmse = float(np.sqrt(np.average((predict(u[rated], i[rated]) - ratings[rated]) ** 2, weights=weights[rated])))
    return multitask_score(ndcg, rmse / interactions.span)


def _graded_ndcg(truth, recommend, cols, n_items):
    """NDCG@10 of the ``recommend`` lists of ``truth``'s users, graded by its gains."""
    if not len(truth):
        return 0.0
    recommended = recommend(truth[cols[0]].unique(), k=min(10, n_items))
    return metrics.ndcg_at_k(truth, recommended, k=10, user_col=cols[0], item_col=cols[1], gain_col="gain")


def similar_frame(model, interactions, item_col, item_ids, k):
    """``similar_items``' frame: the ``k`` nearest items of each of ``item_ids`` (ids seen in ``fit``) by cosine."""
    requested = pd.Series(item_ids)
    codes = interactions.items.transform(requested)
    if (codes < 0).any():
        unknown = pd.unique(requested[codes < 0])
        raise ValueError(f"{len(unknown)} item id(s) not seen in fit: {', '.join(repr(x) for x in unknown[:5].tolist())}.")
    rows, ranks, items, scores = similar_items(model, np.unique(codes), k)
    inverse = interactions.items.inverse_transform
    return pd.DataFrame({item_col: inverse(rows), "rank": ranks, f"similar_{item_col}": inverse(items), "score": scores})


def audience_frame(model, interactions, cols, item_ids, k, *, exclude_seen, candidates, new_items, rating_blend):
    """``recommend_users``' frame: the ``k`` users of highest score for each of ``item_ids``.

    ``item_ids`` are fitted items or ``new_items``' (a :class:`~skrec._new_ids.NewIds` or
    None); ``candidates`` the user ids that may be returned (fitted users), None for all.
    """
    requested = pd.Index(pd.unique(pd.Series(check_id_list(item_ids, "item_ids"))))
    if not len(requested):
        raise ValueError("`item_ids` is empty: give at least one item id.")
    interactions.items.check_kind(requested, "`item_ids`")
    codes = extended_codes(interactions.items.transform(requested), requested, new_items, len(interactions.items))
    _check_known(requested[codes < 0], "item id(s) neither seen in fit nor in the `items` frame")
    users = np.arange(len(interactions.users)) if candidates is None else _candidate_users(candidates, interactions)
    k = check_k(k, len(users), users=True)
    new_rows = None if new_items is None else new_items.rows
    rows, ranks, found, scores = audiences(model, interactions.seen, codes, users, k, rating_blend, exclude_seen=exclude_seen, new_rows=new_rows)
    return pd.DataFrame({cols[1]: requested[rows], "rank": ranks, cols[0]: interactions.users.inverse_transform(found), "score": scores})


def _candidate_users(candidates, interactions):
    """The sorted codes of the user ids ``candidates`` (``recommend_users``), all seen in ``fit``."""
    ids = check_item_list(candidates, name="candidates", of="user")
    interactions.users.check_kind(ids, "`candidates`")
    codes = interactions.users.transform(ids)
    _check_known(ids[codes < 0], "user id(s) of `candidates` not seen in fit")
    return np.unique(codes)


def _check_known(unknown, what):
    """``ValueError`` with the count and the first five of ``unknown`` (ids the model cannot score), if any."""
    if len(unknown):
        unknown = pd.unique(unknown)
        raise ValueError(f"{len(unknown)} {what}: {', '.join(repr(x) for x in unknown[:5].tolist())}.")


def explain_frame(model, interactions, cols, pairs, k, history, ranking_weight, rating_blend):
    """``explain``'s frame for the validated ``pairs`` (user ids, item ids): each pair's score in parts.

    Users are those of ``fit`` or folded in from ``history`` (:func:`checked_history`'s);
    items are fitted items.
    """
    user_ids, item_ids = (pd.Index(ids) for ids in pairs)
    items = interactions.items.transform(item_ids)
    _check_known(item_ids[items < 0], "item id(s) not seen in fit")
    codes = interactions.users.transform(user_ids)
    ridge = (ridge_weight(model, ranking_weight), ridge_count(model, interactions))
    folded_ids, vectors, _, folded_seen = folded_users(model, interactions, user_ids, history, ridge)
    position = folded_ids.get_indexer(user_ids)
    _check_known(user_ids[(codes < 0) & (position < 0)], "user id(s) neither seen in fit nor folded in from `history`")
    known, known_rows = np.unique(codes[codes >= 0], return_inverse=True)
    rows = np.empty(len(codes), np.int64)
    rows[codes >= 0], rows[codes < 0] = known_rows, len(known) + position[codes < 0]
    parts = _user_parts(model, interactions, known, vectors, folded_seen)
    return explanation_frame(model, parts, rows, items, rating_blend, k, (user_ids, item_ids, *cols, interactions.items.index))


def _user_parts(model, interactions, known, folded, folded_seen):
    """:class:`UserParts` of the fitted users ``known`` (codes), then of the folded-in users (vectors ``folded``, histories ``folded_seen``).

    A fitted user's vector is its own row, its features' sum and the SVD++ term; a folded-in
    user's is the SVD++ term of its history and the rest (the fold-in's ridge step).
    """
    dim = model.embedding_dim
    own = np.asarray(model.user_embedding.embeddings.value, dtype=np.float64)[known, :dim]
    history = sp.vstack([interactions.seen[known], folded_seen]).tocsr()
    svdpp = np.zeros((len(folded), dim))
    if model.implicit_feedback and len(folded):
        weights = implicit_weights(np.diff(folded_seen.indptr))
        svdpp = (folded_seen.astype(np.float64) @ np.asarray(model.implicit_embedding.embeddings.value, dtype=np.float64)) * weights[:, None]
    parts = {"user": np.concatenate([own, folded - svdpp])}
    if model.feature_names["user"]:
        features = table_rows(model, "user", known)[:, :dim] - own if len(known) else own
        parts["user features"] = np.concatenate([features, np.zeros((len(folded), dim))])
    return UserParts(parts, history)
