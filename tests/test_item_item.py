"""The EASE item-item term of the recommend score: its weights, its place in the score, when it is on."""

import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import skrec._recipe
import skrec._model
from skrec import MultiTaskRecommender
from skrec._item_item import START_L2, _holdout, _ndcg_at_k, _walk, ease_weights, validated_l2
from skrec import metrics
from skrec.datasets import make_interactions
from skrec.exceptions import InvalidParameterError

PARAMS = dict(epochs=3, embedding_dim=8, batch_size=128, learning_rate=0.01, random_state=0)


@pytest.fixture(scope="module")
def ratings():
    return make_interactions(60, 40, 1500, random_state=0)


@pytest.fixture(scope="module")
def pair(ratings):
    """The same fit with and without the term (it does not change training)."""
    X, y = ratings[["user_id", "movie_id"]], ratings["rating"]
    with_term = MultiTaskRecommender(**PARAMS, item_item="ease", item_item_weight=3.0, item_item_l2=20.0).fit(X, y)
    without = MultiTaskRecommender(**PARAMS, item_item=None).fit(X, y)
    return with_term, without


def test_ease_weights_solve_the_penalised_regression_with_a_zero_diagonal():
    rng = np.random.default_rng(0)
    X = sp.csr_matrix(rng.random((50, 12)) < 0.3)  # boolean, as the seen matrix
    B = ease_weights(X, 7.0).astype(np.float64)
    dense = X.toarray().astype(np.float64)
    G = dense.T @ dense
    assert np.all(np.diag(B) == 0)
    # Stationarity of ||X - XB||^2 + l2 ||B||^2 with diag(B) = 0: the gradient
    # (G + l2 I) B - G is zero off the diagonal (the diagonal is the constraint's multiplier).
    gradient = (G + 7.0 * np.eye(12)) @ B - G
    np.testing.assert_allclose(gradient - np.diag(np.diag(gradient)), 0, atol=1e-4)
    assert np.abs(B).max() > 0.01


def _scores(model, users, **kwargs):
    frame = model.recommend(users, k=len(model.items_), **kwargs)
    return frame.set_index(["user_id", "movie_id"])["score"]


def test_the_term_adds_weight_times_the_history_row_times_the_ease_weights(ratings, pair):
    with_term, without = pair
    users = np.sort(ratings["user_id"].unique())[:10]
    B = ease_weights(with_term._interactions_.seen, 20.0)
    seen = with_term._interactions_.seen[with_term.users_.get_indexer(users)].toarray().astype(np.float64)
    term = pd.DataFrame(3.0 * seen @ B, index=users, columns=with_term.items_).stack()
    got, base = _scores(with_term, users), _scores(without, users)
    assert got.index.sort_values().equals(base.index.sort_values())  # the same unseen items, every one
    difference = (got - base.reindex(got.index)).to_numpy()
    np.testing.assert_allclose(difference, term.reindex(got.index).to_numpy(), atol=2e-4)
    assert np.abs(difference).max() > 0.05
    assert with_term.item_item_ == "ease" and without.item_item_ is None


def test_folded_in_users_get_the_term_of_their_history(ratings, pair):
    with_term, without = pair
    items = np.asarray(with_term.items_[:6])
    history = pd.DataFrame({"user_id": 10_000, "movie_id": items, "rating": [5, 4, 1, 3, 5, 2]})
    got = _scores(with_term, [10_000], history=history)
    base = _scores(without, [10_000], history=history).reindex(got.index)
    x = np.isin(with_term.items_, items).astype(np.float64)
    term = pd.Series(3.0 * x @ ease_weights(with_term._interactions_.seen, 20.0), index=with_term.items_)
    np.testing.assert_allclose((got - base).to_numpy(), term.reindex(got.index.get_level_values(1)).to_numpy(), atol=2e-4)
    assert not got.index.get_level_values(1).isin(items).any()


def test_the_top_k_is_the_best_of_the_blended_scores(ratings, pair):
    with_term, _ = pair
    users = np.sort(ratings["user_id"].unique())[:10]
    full = with_term.recommend(users, k=len(with_term.items_))
    top = with_term.recommend(users, k=5)
    expected = full.sort_values(["user_id", "score"], ascending=[True, False], kind="stable").groupby("user_id").head(5)
    np.testing.assert_allclose(top["score"].to_numpy(), expected["score"].to_numpy(), rtol=1e-5)


def test_candidates_get_the_scores_of_the_whole_catalogue(ratings, pair):
    # (New items of serving frames get no term: tests/test_side_features.py runs with the default, the term on.)
    with_term, _ = pair
    users = np.sort(ratings["user_id"].unique())[:3]
    candidates = list(with_term.items_[:8])
    out = with_term.recommend(users, k=3, candidates=candidates, exclude_seen=False).set_index(["user_id", "movie_id"])["score"]
    full = _scores(with_term, users, exclude_seen=False)
    assert out.index.get_level_values(1).isin(candidates).all() and len(out) == 9
    np.testing.assert_allclose(out.to_numpy(), full.reindex(out.index).to_numpy(), rtol=1e-5)


def test_auto_turns_the_term_on_for_small_catalogues_only(ratings, monkeypatch):
    X, y = ratings[["user_id", "movie_id"]], ratings["rating"]
    assert MultiTaskRecommender(**PARAMS).fit(X, y).item_item_ == "ease"
    monkeypatch.setattr(skrec._recipe, "ITEM_ITEM_MAX_ITEMS", 39)  # the data set has 40 items
    model = MultiTaskRecommender(**PARAMS).fit(X, y)
    assert model.item_item_ is None and not model.model_.item_item_weight
    assert MultiTaskRecommender(**PARAMS, item_item="ease").fit(X, y).item_item_ == "ease"
    assert MultiTaskRecommender(**PARAMS, item_item_weight=0.0).fit(X, y).item_item_ is None


def test_a_warm_start_recomputes_the_weights_over_every_seen_pair(ratings):
    first, second = ratings.iloc[:900], ratings.iloc[900:]
    model = MultiTaskRecommender(**PARAMS, warm_start=True).fit(first[["user_id", "movie_id"]], first["rating"])
    model.fit(second[["user_id", "movie_id"]], second["rating"])
    expected = ease_weights(model._interactions_.seen, model.recipe_.item_item_l2)
    np.testing.assert_allclose(np.asarray(model.model_.item_item.value), expected, atol=1e-6)
    assert model._interactions_.seen.nnz > len(first.drop_duplicates(["user_id", "movie_id"]))


def test_a_warm_start_takes_a_new_weight_and_penalty_of_the_term(ratings):
    first, second = ratings.iloc[:900], ratings.iloc[900:]
    model = MultiTaskRecommender(**PARAMS, warm_start=True).fit(first[["user_id", "movie_id"]], first["rating"])
    model.set_params(item_item_weight=2.0, item_item_l2=50.0).fit(second[["user_id", "movie_id"]], second["rating"])
    assert model.model_.item_item_weight == 2.0 and model.item_item_ == "ease"
    expected = ease_weights(model._interactions_.seen, 50.0)
    np.testing.assert_allclose(np.asarray(model.model_.item_item.value), expected, atol=1e-6)


@pytest.mark.parametrize(("first", "then"), [({"item_item": "ease"}, {"item_item": None}), ({"item_item": None}, {"item_item": "ease"}), ({}, {"item_item_weight": 0.0})])
def test_a_warm_start_refuses_to_turn_the_term_on_or_off_naming_item_item(ratings, first, then):
    X, y = ratings[["user_id", "movie_id"]], ratings["rating"]
    model = MultiTaskRecommender(**PARAMS, **first, warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match=r"\['item_item'\]"):
        model.set_params(**then).fit(X, y)


def test_a_penalty_too_small_for_the_solve_is_refused_before_training(ratings, monkeypatch):
    twin = ratings[ratings["movie_id"] == ratings["movie_id"].iloc[0]].assign(movie_id=-1)  # an item seen by the same users
    data = pd.concat([ratings, twin], ignore_index=True)
    monkeypatch.setattr(skrec._model.MultiTaskModel, "fit", lambda *a, **k: pytest.fail("trained before the solve"))
    model = MultiTaskRecommender(**PARAMS, item_item="ease", item_item_l2=1e-300)
    with pytest.raises(ValueError, match="item_item_l2=1e-300 is too small"):
        model.fit(data[["user_id", "movie_id"]], data["rating"])
    assert not hasattr(model, "model_")


def test_pickle_and_save_keep_the_term(ratings, pair, tmp_path):
    with_term, _ = pair
    users = np.sort(ratings["user_id"].unique())[:5]
    expected = with_term.recommend(users, k=5)
    pd.testing.assert_frame_equal(pickle.loads(pickle.dumps(with_term)).recommend(users, k=5), expected)
    with_term.save(tmp_path / "model")
    pd.testing.assert_frame_equal(skrec.load(tmp_path / "model").recommend(users, k=5), expected)


@pytest.mark.parametrize(("name", "value"), [("item_item", "yes"), ("item_item", True), ("item_item_weight", -1.0), ("item_item_l2", 0.0)])
def test_bad_values_are_refused_with_the_parameter_name(ratings, name, value):
    with pytest.raises(InvalidParameterError, match=name):
        MultiTaskRecommender(**PARAMS, **{name: value}).fit(ratings[["user_id", "movie_id"]], ratings["rating"])


# -- the validated penalty ---------------------------------------------------------------------
def _clustered(n_users=400, n_items=60, seed=0):
    """Users who each see most items of one of six blocks and a few others."""
    rng = np.random.default_rng(seed)
    block = rng.integers(0, 6, n_users)
    inside = (np.arange(n_items)[None, :] // 10) == block[:, None]
    return sp.csr_matrix(rng.random((n_users, n_items)) < np.where(inside, 0.6, 0.03))


def test_the_holdout_splits_a_fifth_of_each_users_pairs_with_five_or_more():
    seen = _clustered()
    fit, held, users = _holdout(seen.astype(np.float64), np.random.default_rng(0))
    assert (fit + held != seen).nnz == 0 and fit.multiply(held).nnz == 0  # a partition of the seen pairs
    lengths, n_held = np.diff(seen.indptr), np.diff(held.indptr)
    np.testing.assert_array_equal(users, np.flatnonzero(lengths >= 5))
    np.testing.assert_array_equal(n_held[users], np.maximum(1, np.round(0.2 * lengths[users])))
    assert n_held[lengths < 5].sum() == 0


def test_the_holdout_ndcg_is_skrec_metrics_ndcg_of_the_top_ten_unseen_items():
    seen = _clustered()
    fit, held, users = _holdout(seen.astype(np.float64), np.random.default_rng(1))
    weights = ease_weights(fit, 50.0)
    got = _ndcg_at_k(fit[users], held[users], weights).mean()
    scores = np.asarray(fit[users] @ weights, dtype=np.float64)
    scores[fit[users].nonzero()] = -np.inf
    top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    recommended = pd.DataFrame({"user_id": np.repeat(users, 10), "rank": np.tile(np.arange(1, 11), len(users)), "movie_id": top.ravel()})
    rows, cols = held[users].nonzero()
    relevant = pd.DataFrame({"user_id": users[rows], "movie_id": cols})
    assert got == pytest.approx(metrics.ndcg_at_k(relevant, recommended, k=10), abs=1e-9)
    assert got > 0.3  # the blocks make held-out items predictable


def _per_user(curve, noise=0.001, n_users=200):
    """Per-user scores: ``curve(l2)`` plus noise fixed per (user, penalty)."""
    return lambda l2: curve(l2) + np.random.default_rng(int(l2)).normal(0.0, noise, n_users)


def test_the_walk_stops_at_the_peak_of_a_single_peaked_score():
    for peak in (5.0, 100.0, 500.0, 2000.0, 50000.0):
        assert _walk(_per_user(lambda l2: -abs(np.log(l2) - np.log(peak)))) == peak
    assert _walk(_per_user(lambda l2: 0.0)) == START_L2  # no rise either way: the start


def test_the_walk_takes_no_step_for_a_rise_within_noise():
    # 1000 is better on average by 0.002, less than one standard error of 200 users' differences of sd 0.1
    assert _walk(_per_user(lambda l2: 0.002 * (l2 == 1000.0), noise=0.1)) == START_L2
    assert _walk(_per_user(lambda l2: 0.05 * (l2 == 1000.0), noise=0.1)) == 1000.0


def test_the_validated_penalty_is_the_best_one_tried_and_repeats_with_its_seed():
    seen = _clustered()
    l2, why = validated_l2(seen, seed=3)
    tried = {float(a): float(b) for a, b in (part.split(": ") for part in why.split("(")[1].rstrip(")").split(", "))}
    assert l2 in tried and tried[l2] >= max(tried.values()) - 0.01 and len(tried) >= 3  # the best, or within noise of it
    assert validated_l2(seen, seed=3) == (l2, why)


def test_too_few_users_to_validate_keep_the_reference_penalty():
    seen = _clustered(n_users=40)
    n_users = int((np.diff(seen.indptr) >= 5).sum())
    assert validated_l2(seen, seed=0) == (START_L2, f"{n_users} users with 5+ items < 50: not validated")


def test_a_catalogue_of_ten_items_or_fewer_keeps_the_reference_penalty():
    seen = sp.csr_matrix(np.random.default_rng(0).random((200, 8)) < 0.8)
    assert validated_l2(seen, seed=0) == (START_L2, "8 items <= 10: not validated")


def test_a_default_fit_serves_the_term_at_its_validated_penalty_and_weight():
    ratings = make_interactions(300, 60, 9000, random_state=1)
    model = MultiTaskRecommender(**{**PARAMS, "epochs": 1}).fit(ratings[["user_id", "movie_id"]], ratings["rating"])
    recipe = model.recipe_
    assert dict(recipe.reasons)["item_item_l2"].startswith("auto: NDCG@10 on 20% of the pairs of 300 users")
    assert (model.model_.item_item_l2, model.model_.item_item_weight) == (recipe.item_item_l2, recipe.item_item_weight)
    assert recipe.item_item_weight == pytest.approx(2000.0 / recipe.item_item_l2)
    np.testing.assert_allclose(np.asarray(model.model_.item_item.value), ease_weights(model._interactions_.seen, recipe.item_item_l2))
