"""Real interaction data: interactions without ratings, sample weights, new users, filters, similar items.

Each input kind is pinned by the value it must produce: an unrated row changes retrieval and not
the rating loss, a weight of 2 is a duplicated row for the rating loss, a folded-in copy of a
training user gets recommendations close to the user's own, filters never let a filtered item
through, an item is never similar to itself.
"""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.model_selection import GridSearchCV, KFold

import skrec
from skrec import MultiTaskRecommender
from skrec._model import MultiTaskModel
from skrec.exceptions import ColdStartWarning
from skrec.metrics import make_ranking_scorer

from test_estimator import FAST, make_ratings

FASTER = {**FAST, "epochs": 10}


@pytest.fixture(scope="module")
def ratings():
    return make_ratings()


@pytest.fixture(scope="module")
def fitted(ratings):
    # Shared by read-only tests: never refit or mutate it.
    return MultiTaskRecommender(**FASTER).fit(ratings, ratings["rating"])


# ------------------------------------------------------------------------------ losses
def losses(model, users, items, ratings, rated, weights):
    """The (retrieval, rating) losses of one batch, as the training step computes them."""
    x = {"user": np.array(users), "item": np.array(items), "rated": np.array(rated, "float32")}
    model.retrieval_loss_tracker.reset_state()
    model.rating_loss_tracker.reset_state()
    model.compute_loss(x, np.array(ratings, "float32"), model(x, training=True), np.array(weights, "float32"))
    return float(np.asarray(model.retrieval_loss_tracker.result())), float(np.asarray(model.rating_loss_tracker.result()))


@pytest.fixture(scope="module")
def small_model():
    model = MultiTaskModel(4, 6, embedding_dim=3, rating_head="dot", retrieval_negatives="catalogue", seed=0)
    model.build()
    return model


def test_an_unrated_row_changes_retrieval_but_not_the_rating_loss(small_model):
    rated = losses(small_model, [0, 1, 2], [0, 1, 2], [0.2, 0.9, 0.5], [1, 1, 1], [1, 1, 1])
    plus_unrated = losses(small_model, [0, 1, 2, 3], [0, 1, 2, 5], [0.2, 0.9, 0.5, 0.0], [1, 1, 1, 0], [1, 1, 1, 1])
    assert plus_unrated[1] == pytest.approx(rated[1], rel=1e-6)
    # With catalogue negatives each row's retrieval loss is its own: the batch's is the mean of
    # the four rows' losses, the unrated row's included.
    alone = [losses(small_model, [u], [i], [0.0], [1], [1])[0] for u, i in zip([0, 1, 2, 3], [0, 1, 2, 5])]
    assert plus_unrated[0] == pytest.approx(np.mean(alone), rel=1e-6)
    assert rated[0] == pytest.approx(np.mean(alone[:3]), rel=1e-6)


def test_a_weight_of_two_is_a_duplicated_row_for_the_rating_loss(small_model):
    weighted = losses(small_model, [0, 1], [0, 1], [0.2, 0.9], [1, 1], [2, 1])
    duplicated = losses(small_model, [0, 0, 1], [0, 0, 1], [0.2, 0.2, 0.9], [1, 1, 1], [1, 1, 1])
    assert weighted[1] == pytest.approx(duplicated[1], rel=1e-6)


def test_the_penalty_weighs_the_rater_term_apart_and_by_its_own_weight():
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    models = [MultiTaskModel(4, 6, embedding_dim=3, rating_head="dot", retrieval_negatives="catalogue", item_implicit_feedback=True, l2=l2, rater_penalty=0.3, seed=0) for l2 in (0.0, 0.5)]
    for model in models:
        model.build()
    tables = {name: rng.normal(size=getattr(models[0], name).embeddings.shape).astype("float32") for name in ("user_embedding", "item_embedding", "rater_embedding")}
    raters = sp.csr_matrix(rng.random((6, 4)))
    for model in models:
        for name, values in tables.items():
            getattr(model, name).embeddings.assign(values)
        model.set_rater_terms(raters)
    x = {"user": np.array([0, 1, 3]), "item": np.array([2, 5, 0])}
    y = np.array([0.2, 0.9, 0.5], "float32")
    loss = [float(np.asarray(m.compute_loss(x, y, m(x, training=True), np.ones(3, "float32")))) for m in models]
    users, items = tables["user_embedding"][x["user"]], tables["item_embedding"][x["item"]]
    terms = (raters @ tables["rater_embedding"])[x["item"]]
    # The user row [vector | rating bias], the item row's [vector | rating bias] (not its retrieval bias), the term apart.
    per_row = (users**2).sum(1) + (items[:, :4] ** 2).sum(1) + 0.3 * (terms**2).sum(1)
    assert loss[1] - loss[0] == pytest.approx(0.5 * per_row.mean(), rel=1e-4)


# ------------------------------------------------------------------------------ fit without ratings
def test_unrated_rows_train_retrieval_and_leave_the_rating_means(ratings):
    extra = pd.DataFrame({"user_id": [100, 103], "movie_id": [7 + 11 * 29, 7 + 11 * 1]})
    X = pd.concat([ratings[["user_id", "movie_id"]], extra], ignore_index=True)
    y = np.concatenate([ratings["rating"].to_numpy(float), [np.nan, np.nan]])
    est = MultiTaskRecommender(**FASTER).fit(X, y)
    assert est._interactions_.means.count == len(ratings)
    assert est._interactions_.seen.nnz == len(X)
    assert est.rating_range_ == (1.0, 5.0)
    recs = est.recommend([100], k=len(est.items_))  # the unrated interaction counts as seen
    assert 7 + 11 * 29 not in set(recs["movie_id"])


@pytest.mark.parametrize("y", [None, "all-nan"])
def test_an_implicit_feedback_model_recommends_and_refuses_to_predict(ratings, y):
    target = None if y is None else np.full(len(ratings), np.nan)
    # 480 interactions, 16 per item: l2="auto" gives 0.1, and the stronger prior needs 30 epochs
    # at a rate of 0.05 (at 0.02, 3 of 15 seeds learn the groups and the others learn nothing
    # from interactions alone; at 0.05, 8 of 8 learn them)
    est = MultiTaskRecommender(**{**FASTER, "epochs": 30, "learning_rate": 0.05}).fit(ratings[["user_id", "movie_id"]], target)
    assert est.l2_ == pytest.approx(0.1)
    assert est.rating_range_ is None
    recs = est.recommend(est.users_, k=3)
    own_group = ((recs["movie_id"] - 7) // 11 < 15) == ((recs["user_id"] - 100) // 3 % 2 == 0)
    assert own_group.mean() > 0.8  # retrieval learned the taste groups from interactions alone
    with pytest.raises(ValueError, match=r"fitted without ratings .* has no rating scale to predict"):
        est.predict(ratings)
    score = est.score(ratings[["user_id", "movie_id"]])
    assert score == pytest.approx(est.score(ratings[["user_id", "movie_id"]], np.full(len(ratings), np.nan)))
    assert 0.0 <= score <= 1.0
    scorer = make_ranking_scorer("ndcg", k=3)
    assert 0.0 <= scorer(est, ratings[["user_id", "movie_id"]], None) <= 1.0


def test_item_implicit_feedback_changes_nothing_without_ratings(ratings):
    # The rater term only enters the rating head, which clicks alone do not train: the model is
    # built without it (no rater table to fit, no rater lists to read) and recommends the same.
    X = ratings[["user_id", "movie_id"]]
    on = MultiTaskRecommender(**FASTER, item_implicit_feedback=True).fit(X)
    off = MultiTaskRecommender(**FASTER, item_implicit_feedback=False).fit(X)
    assert not on.model_.item_implicit_feedback
    assert "rater_embedding" not in on.model_.table_names()
    pd.testing.assert_frame_equal(on.recommend(on.users_, k=5), off.recommend(off.users_, k=5))


@pytest.mark.parametrize(
    "y, error, match",
    [
        (lambda n: np.where(np.arange(n) == 2, np.inf, 4.0), ValueError, r"y holds 1 infinite ratings \(first at row 2\)"),
        (lambda n: np.arange(n) % 2 == 0, TypeError, r"y must hold numeric ratings; got dtype bool"),
        (lambda n: np.array(["4"] * (n - 1) + ["good"], dtype=object), TypeError, r"row \d+ holds 'good'"),
    ],
)
def test_bad_targets_still_raise(ratings, y, error, match):
    with pytest.raises(error, match=match):
        MultiTaskRecommender(**FAST).fit(ratings, y(len(ratings)))


def test_missing_values_of_every_kind_mark_unrated_rows(ratings):
    y = ratings["rating"].to_numpy(dtype=object, copy=True)
    y[[0, 1, 2]] = [None, np.nan, pd.NA]
    est = MultiTaskRecommender(**FAST).fit(ratings, y)
    assert est._interactions_.means.count == len(ratings) - 3


# ------------------------------------------------------------------------------ sample weights
@pytest.mark.parametrize(
    "weights, match",
    [
        (lambda n: np.ones(n - 1), r"sample_weight.shape == \(\d+,\), expected \(\d+,\)"),
        (lambda n: -np.ones(n), r"finite, non-negative"),
        (lambda n: np.where(np.arange(n) == 0, np.nan, 1.0), r"finite, non-negative"),
        (lambda n: np.zeros(n), r"zero for every row"),
    ],
)
def test_sample_weights_are_checked(ratings, weights, match):
    with pytest.raises(ValueError, match=match):
        MultiTaskRecommender(**FAST).fit(ratings, ratings["rating"], sample_weight=weights(len(ratings)))


def test_zero_weights_drop_rows_from_the_rating_means_and_weights_reach_score(ratings):
    weights = np.where(ratings["user_id"] == 100, 0.0, 1.0)
    est = MultiTaskRecommender(**FAST).fit(ratings, ratings["rating"], sample_weight=weights)
    assert est._interactions_.means.count == weights.sum()
    assert np.isnan(est._interactions_.means.user_sum[0] / est._interactions_.means.user_count[0])
    everyone = est.score(ratings, ratings["rating"])
    only_100 = est.score(ratings, ratings["rating"], sample_weight=1.0 - weights)
    assert everyone != pytest.approx(only_100)


def test_sample_weight_is_routed_by_a_search(ratings):
    with sklearn.config_context(enable_metadata_routing=True):
        est = MultiTaskRecommender(**{**FAST, "epochs": 1}).set_fit_request(sample_weight=True).set_score_request(sample_weight=True)
        search = GridSearchCV(est, {"l2": [0.0, 0.01]}, cv=KFold(2, shuffle=True, random_state=0), error_score="raise")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ColdStartWarning)
            search.fit(ratings, ratings["rating"], sample_weight=np.linspace(0.5, 2.0, len(ratings)))
    assert search.best_estimator_._interactions_.means.count == pytest.approx(np.linspace(0.5, 2.0, len(ratings)).sum())


# ------------------------------------------------------------------------------ new users
def test_folding_in_a_users_own_history_recommends_close_to_their_own(fitted, ratings):
    users = fitted.users_[:10]
    history = ratings[ratings["user_id"].isin(users)].assign(user_id=lambda f: f["user_id"] + 100_000)
    own = fitted.recommend(users, k=5)
    folded = fitted.recommend(users + 100_000, k=5, history=history)
    overlap = pd.merge(own.assign(user_id=own["user_id"] + 100_000), folded, on=["user_id", "movie_id"])
    assert len(overlap) / len(own) >= 0.6
    assert folded.merge(history, on=["user_id", "movie_id"]).empty  # their history is excluded


def test_the_fold_in_solves_the_ridge_problem_on_the_rating_heads_item_vectors(ratings):
    # With item_implicit_feedback the rating head's item vector is q_i plus the item's rater
    # term: the new user's vector v and bias b must minimise, over the user's ratings,
    # sum (r - mean - b_i - b - v . x_i)^2 + lam * n * (|v - prior|^2 + b^2), x_i = q_i + term_i.
    from skrec._fold_in import fold_in

    est = MultiTaskRecommender(**{**FASTER, "item_implicit_feedback": True}).fit(ratings, ratings["rating"])
    model, own = est.model_, ratings[ratings["user_id"] == 100]
    items = est.items_.get_indexer(own["movie_id"])
    low, high = est._interactions_.rating_range
    scaled, lam = (own["rating"].to_numpy() - low) / (high - low), 0.3
    v = fold_in(model, 1, np.zeros(len(items), int), items, scaled, lam)[0].astype(float)
    table = np.asarray(model.item_embedding.embeddings.value)
    x = table[items, :8] + np.asarray(model.rater_term.value)[items]
    target = scaled - float(np.asarray(model.global_mean.value)) - model.rating_bias_scale * table[items, 8]
    prior = np.asarray(model.implicit_embedding.embeddings.value)[items].sum(axis=0) / np.sqrt(len(items))
    n = len(items)
    b = (target - x @ v).sum() / (n + lam * n)  # the optimal bias given v
    gradient = -(target - x @ v - b) @ x + lam * n * (v - prior)
    np.testing.assert_allclose(gradient, 0.0, atol=1e-4)
    assert np.abs(np.asarray(model.rater_term.value)[items]).max() > 1e-3  # the term is there to be missed


def test_a_history_without_ratings_folds_in_through_the_svdpp_term(fitted, ratings):
    history = ratings[ratings["user_id"] == 100][["user_id", "movie_id"]].assign(user_id=-1)
    recs = fitted.recommend([-1], k=3, history=history)
    assert ((recs["movie_id"] - 7) // 11 < 15).all()  # user 100's taste group


def test_history_is_for_new_users_only(fitted, ratings):
    with pytest.raises(ValueError, match=r"`history` holds 1 user\(s\) seen in fit \(e.g. 100\)"):
        fitted.recommend([100], history=ratings[ratings["user_id"] == 100])


@pytest.fixture(scope="module")
def new_users(ratings):
    """A model fitted without users 100-118 (the first ten), their first 6 ratings as a history and the rest to predict."""
    held = ratings["user_id"].isin(ratings["user_id"].unique()[:10])
    rest = ratings[held]
    first = rest.groupby("user_id").cumcount() < 6
    model = MultiTaskRecommender(**FASTER).fit(ratings[~held], ratings[~held]["rating"])
    return model, rest[first], rest[~first]


def test_predict_rates_new_users_folded_in_from_their_history(new_users):
    model, history, later = new_users
    with pytest.warns(ColdStartWarning):
        fallback = model.predict(later)  # the items' mean ratings
    personal = model.predict(later, history=history)
    rmse = lambda p: np.sqrt(np.mean((p - later["rating"].to_numpy()) ** 2))  # noqa: E731
    assert rmse(personal) < 0.75 * rmse(fallback)


def test_predict_with_history_is_the_folded_in_users_rating(new_users):
    from skrec._fold_in import fold_in
    from skrec._serving import ridge_count, ridge_weight

    model, history, later = new_users
    user = history["user_id"].iloc[0]
    own, pairs = history[history["user_id"] == user], later[later["user_id"] == user]
    net, interactions = model.model_, model._interactions_
    low, span = interactions.rating_range[0], interactions.span
    items = model.items_.get_indexer(own["movie_id"])
    lam, count = ridge_weight(net, model.ranking_weight), ridge_count(net, interactions)
    v, b = fold_in(net, 1, np.zeros(len(items), int), items, (own["rating"].to_numpy() - low) / span, lam, count=count, return_bias=True)
    rated = model.items_.get_indexer(pairs["movie_id"])
    table = np.asarray(net.item_embedding.embeddings.value)
    x = table[rated, :8] + np.asarray(net.rater_term.value)[rated]
    scaled = float(np.asarray(net.global_mean.value)) + b[0] + net.rating_bias_scale * table[rated, 8] + x @ v[0]
    expected = np.clip(scaled * span + low, *interactions.rating_range)
    np.testing.assert_allclose(model.predict(pairs, history=history), expected, rtol=1e-5, atol=1e-4)


def test_predict_with_history_ranks_as_recommend_does_when_ratings_dominate_its_score(new_users):
    model, history, _ = new_users
    user = history["user_id"].iloc[0]
    # rating_blend scales recommend's rating term; at 1e4 the other terms cannot reorder it
    ranked = pickle.loads(pickle.dumps(model)).set_params(rating_blend=1e4).recommend([user], k=len(model.items_), exclude_seen=False, history=history)
    predicted = model.predict(pd.DataFrame({"user_id": user, "movie_id": ranked["movie_id"]}), history=history)
    inner = (predicted > model.rating_range_[0] + 0.01) & (predicted < model.rating_range_[1] - 0.01)  # not clipped
    assert inner.sum() > 10 and (np.diff(predicted[inner]) <= 1e-4).all()


def test_predict_with_history_leaves_other_users_to_the_fallback(new_users, ratings):
    model, history, later = new_users
    stranger = later.head(1).assign(user_id=-5)
    with pytest.warns(ColdStartWarning):
        out = model.predict(pd.concat([later.head(3), stranger]), history=history)
    with pytest.warns(ColdStartWarning):
        assert out[-1] == model.predict(stranger)[0]
    known = ratings[ratings["user_id"] == ratings["user_id"].iloc[-1]]
    with pytest.raises(ValueError, match="seen in fit"):
        model.predict(later, history=known)


# ------------------------------------------------------------------------------ filters
def test_candidates_and_exclusions_are_never_broken(fitted, ratings):
    users = fitted.users_
    items = fitted.items_.to_numpy()
    candidates, banned = items[::3], items[1::4]
    recs = fitted.recommend(users, k=4, candidates=candidates)
    assert recs["movie_id"].isin(candidates).all() and len(recs) == 4 * len(users)
    recs = fitted.recommend(users, k=4, exclude_items=banned)
    assert not recs["movie_id"].isin(banned).any()
    shown = fitted.recommend(users, k=2)[["user_id", "movie_id"]]
    recs = fitted.recommend(users, k=4, exclude_items=shown)
    assert recs.merge(shown, on=["user_id", "movie_id"]).empty
    with pytest.warns(ColdStartWarning):
        new = fitted.recommend([-5], k=4, candidates=candidates, exclude_items=banned)
    assert new["movie_id"].isin(np.setdiff1d(candidates, banned)).all()


def test_similar_items_never_contain_the_item(fitted):
    similar = fitted.similar_items(fitted.items_[:5], k=3)
    assert list(similar.columns) == ["movie_id", "rank", "similar_movie_id", "score"]
    assert (similar["movie_id"] != similar["similar_movie_id"]).all()
    assert similar["score"].between(-1.0001, 1.0001).all()
    assert similar.groupby("movie_id")["score"].apply(lambda s: s.is_monotonic_decreasing).all()
    same_group = ((similar["movie_id"] - 7) // 11 < 15) == ((similar["similar_movie_id"] - 7) // 11 < 15)
    assert same_group.mean() > 0.8
    with pytest.raises(ValueError, match=r"1 item id\(s\) not seen in fit: 3"):
        fitted.similar_items([3])


# ------------------------------------------------------------------------------ persistence
def test_new_fitted_state_survives_save_load_and_pickle(ratings, tmp_path):
    y = ratings["rating"].where(ratings.index % 3 != 0)
    est = MultiTaskRecommender(**FAST).fit(ratings, y, sample_weight=np.linspace(0.5, 1.5, len(ratings)))
    implicit = MultiTaskRecommender(**FAST).fit(ratings[["user_id", "movie_id"]])
    history = ratings[ratings["user_id"] == 100].assign(user_id=-1)
    for model in (est, implicit):
        model.save(tmp_path / "m.skrec")
        for twin in (skrec.load(tmp_path / "m.skrec"), pickle.loads(pickle.dumps(model))):
            assert twin.rating_range_ == model.rating_range_
            pd.testing.assert_frame_equal(twin.recommend([100, -1], k=3, history=history), model.recommend([100, -1], k=3, history=history))
            if model.rating_range_ is not None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ColdStartWarning)
                    np.testing.assert_array_equal(twin.predict(ratings.assign(user_id=-7)), model.predict(ratings.assign(user_id=-7)))


@pytest.mark.parametrize("share, expected", [(1.0, 1.0), (0.25, 0.5), (0.0, 1.0)])
def test_rating_biases_learn_slower_by_the_square_root_of_the_rated_share(share, expected, tmp_path):
    X = pd.DataFrame({"user_id": np.arange(400) % 20, "movie_id": np.arange(400) // 20})
    y = np.where(np.arange(400) % 4 < share * 4, 4.0 + (np.arange(400) % 2), np.nan)
    est = MultiTaskRecommender(epochs=1, embedding_dim=4, random_state=0, warm_start=True).fit(X, None if share == 0 else y)
    assert est.model_.rating_bias_scale == pytest.approx(expected)
    est.save(tmp_path / "model")
    assert skrec.load(tmp_path / "model").model_.rating_bias_scale == est.model_.rating_bias_scale
    if share:  # a warm start keeps the fitted model's scale, whatever its own share
        assert est.fit(X, np.full(400, 3.0)).model_.rating_bias_scale == pytest.approx(expected)
