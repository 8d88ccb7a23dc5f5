"""Behaviour of MultiTaskRecommender: fit/predict/recommend/score, known answers and invariances."""

import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_validate

from skrec import SEED_PARAMS, MultiTaskRecommender
from skrec.exceptions import ColdStartWarning

FAST = dict(epochs=3, batch_size=64, embedding_dim=8, layer_sizes=(16,), learning_rate=0.02, random_state=0)
# The Keras-RS example's model, small: its rating-only and retrieval-only variants each fail
# at the other task, which the score tests rely on.
SEED_FAST = {**SEED_PARAMS, **FAST, "learning_rate": 0.1}


def make_ratings(n_users=40, n_items=30, per_user=12, seed=0):
    """Two taste groups: even users love items 0-14 and dislike 15-29, odd users the reverse.

    Users rate mostly items of their own group (so the retrieval task has a pattern to learn)
    and a few of the other group; ratings are 5/4 inside the group and 1/2 outside. Ids have
    gaps (users 100, 103, ...; items 7, 18, ...) so that no raw id can be an embedding row.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        own = np.arange(15) if u % 2 == 0 else np.arange(15, 30)
        other = np.setdiff1d(np.arange(n_items), own)
        liked = rng.choice(own, per_user - 2, replace=False)
        disliked = rng.choice(other, 2, replace=False)
        rows += [(u, i, int(rng.choice([4, 5]))) for i in liked]
        rows += [(u, i, int(rng.choice([1, 2]))) for i in disliked]
    frame = pd.DataFrame(rows, columns=["user_id", "movie_id", "rating"])
    frame["user_id"] = 100 + 3 * frame["user_id"]
    frame["movie_id"] = 7 + 11 * frame["movie_id"]
    frame["timestamp"] = np.arange(len(frame), dtype="int64")
    return frame


@pytest.fixture(scope="module")
def ratings():
    return make_ratings()


@pytest.fixture(scope="module")
def fitted(ratings):
    # Shared by read-only tests: never refit or mutate it.
    return MultiTaskRecommender(**{**FAST, "epochs": 20}).fit(ratings, ratings["rating"])


# --------------------------------------------------------------------------- estimator API
def test_constructor_stores_params_unchanged():
    sizes = [64, 32]
    est = MultiTaskRecommender(layer_sizes=sizes, learning_rate=0.5)
    assert est.layer_sizes is sizes
    assert est.get_params()["learning_rate"] == 0.5
    with pytest.raises(TypeError):
        MultiTaskRecommender(32)  # keyword-only


def test_seed_params_are_the_keras_rs_example():
    params = MultiTaskRecommender(**SEED_PARAMS).get_params()
    assert params["embedding_dim"] == 32 and tuple(params["layer_sizes"]) == (256, 128)
    assert params["rating_head"] == "mlp" and params["retrieval_negatives"] == "in_batch"
    assert params["optimizer"] == "adagrad" and params["learning_rate"] == 0.1
    assert params["batch_size"] == 1000 and params["epochs"] == 5
    assert set(SEED_PARAMS) <= set(params)


def test_clone_and_set_params():
    est = MultiTaskRecommender(retrieval_weight=0.3, random_state=1)
    twin = clone(est)
    assert twin.get_params() == est.get_params() and twin is not est
    assert twin.set_params(ranking_weight=0.0).ranking_weight == 0.0


@pytest.mark.parametrize("method", ["predict", "recommend", "score"])
def test_unfitted_estimator_raises(method, ratings):
    est = MultiTaskRecommender()
    args = {"predict": (ratings,), "recommend": ([100],), "score": (ratings, ratings["rating"])}
    with pytest.raises(NotFittedError):
        getattr(est, method)(*args[method])


def test_fit_sets_fitted_state(fitted, ratings):
    assert fitted.model_ is not None
    assert list(fitted.users_) == sorted(ratings["user_id"].unique())
    assert list(fitted.items_) == sorted(ratings["movie_id"].unique())
    assert fitted.rating_range_ == (1.0, 5.0)
    assert set(fitted.history_) >= {"loss", "retrieval_loss", "rating_loss"}
    assert len(fitted.history_["loss"]) == 20
    # the net learns: the training loss falls
    assert fitted.history_["loss"][-1] < fitted.history_["loss"][0]


# --------------------------------------------------------------------------- predict
def test_predict_is_on_the_scale_of_y_and_beats_the_mean(fitted, ratings):
    pred = fitted.predict(ratings)
    assert pred.shape == (len(ratings),)
    assert pred.min() >= 1.0 and pred.max() <= 5.0
    rmse = np.sqrt(np.mean((pred - ratings["rating"]) ** 2))
    baseline = ratings["rating"].std(ddof=0)
    assert rmse < 0.6 * baseline


def test_predict_is_row_wise(fitted, ratings):
    # Shuffling or subsetting rows does not change the prediction of a row.
    pred = fitted.predict(ratings)
    order = np.random.default_rng(1).permutation(len(ratings))[:50]
    np.testing.assert_allclose(fitted.predict(ratings.iloc[order]), pred[order], rtol=1e-6)


def test_predict_accepts_a_two_column_array(fitted, ratings):
    pairs = ratings[["user_id", "movie_id"]]
    np.testing.assert_allclose(fitted.predict(pairs.to_numpy()), fitted.predict(pairs), rtol=1e-6)


def test_predict_unknown_pairs_use_the_documented_fallback(fitted, ratings):
    known_user, known_item = ratings["user_id"].iloc[0], ratings["movie_id"].iloc[0]
    X = pd.DataFrame({"user_id": [known_user, 99999, 99999], "movie_id": [99999, known_item, 88888]})
    with pytest.warns(ColdStartWarning, match="Pairs with a user or item not seen in fit get the mean training rating"):
        pred = fitted.predict(X)
    r = ratings["rating"]
    np.testing.assert_allclose(
        pred,
        [r[ratings["user_id"] == known_user].mean(), r[ratings["movie_id"] == known_item].mean(), r.mean()],
    )


# --------------------------------------------------------------------------- recommend
def test_recommend_output_contract(fitted, ratings):
    users = [106, 100, 103]
    recs = fitted.recommend(users, k=5)
    assert recs.columns.tolist() == ["user_id", "rank", "movie_id", "score"]
    assert recs["user_id"].tolist() == sorted(users * 5)
    assert recs["rank"].tolist() == [1, 2, 3, 4, 5] * 3
    for _, group in recs.groupby("user_id"):
        assert group["score"].is_monotonic_decreasing
    # items the users rated in fit are excluded
    seen = ratings.merge(recs, on=["user_id", "movie_id"])
    assert seen.empty


def test_recommend_learns_the_taste_groups(fitted, ratings):
    # Known answer: users' unseen top items come from their own taste group.
    recs = fitted.recommend(fitted.users_, k=3)
    group = ((recs["movie_id"] - 7) // 11) < 15
    own = (recs["user_id"] - 100) // 3 % 2 == 0
    assert (group == own).mean() > 0.8


def test_recommend_can_include_seen_items(fitted, ratings):
    recs = fitted.recommend([100], k=len(fitted.items_), exclude_seen=False)
    assert len(recs) == len(fitted.items_)
    assert set(recs["movie_id"]) == set(fitted.items_)


def test_recommend_batch_equals_per_user(fitted):
    batch = fitted.recommend([100, 103, 106], k=4)
    single = pd.concat([fitted.recommend(u, k=4) for u in [100, 103, 106]], ignore_index=True)
    pd.testing.assert_frame_equal(batch, single)


def test_recommend_in_small_chunks_equals_one_chunk(fitted, monkeypatch):
    # A memory budget of two users' scores splits the request into many chunks: same answer.
    whole = fitted.recommend(fitted.users_, k=4)
    monkeypatch.setattr("skrec._retrieval.SCORE_BUDGET", 2 * len(fitted.items_))
    pd.testing.assert_frame_equal(fitted.recommend(fitted.users_, k=4), whole)


def test_recommend_returns_all_unseen_when_fewer_than_k(fitted, ratings):
    n_seen = (ratings["user_id"] == 100).sum()
    recs = fitted.recommend([100], k=len(fitted.items_))
    assert len(recs) == len(fitted.items_) - n_seen


def test_recommend_duplicate_users_answered_once(fitted):
    assert len(fitted.recommend([100, 100, 103], k=2)) == 4


def test_recommend_carries_item_columns(ratings):
    movies = pd.DataFrame({"movie_id": sorted(ratings["movie_id"].unique())})
    movies["title"] = "Movie " + movies["movie_id"].astype(str)
    est = MultiTaskRecommender(**FAST).fit(ratings, ratings["rating"], items=movies)
    recs = est.recommend([100], k=3)
    assert recs.columns.tolist() == ["user_id", "rank", "movie_id", "score", "title"]
    assert (recs["title"] == "Movie " + recs["movie_id"].astype(str)).all()


@pytest.mark.parametrize(
    "k, error, match",
    [
        (0, ValueError, r"`k` must be >= 1; got 0"),
        (-3, ValueError, r"`k` must be >= 1; got -3"),
        (2.5, TypeError, r"`k` must be an int; got 2.5"),
        (31, ValueError, r"`k`=31 is larger than the catalogue: the model knows 30 items"),
    ],
)
def test_recommend_rejects_bad_k(fitted, k, error, match):
    with pytest.raises(error, match=match):
        fitted.recommend([100], k=k)


def test_unknown_users_get_the_popular_items_or_an_error(fitted, ratings):
    with pytest.warns(ColdStartWarning, match="Users not seen in fit and without history get the most popular items"):
        recs = fitted.recommend([100, 1, 2], k=2)
    popular = ratings["movie_id"].value_counts()
    new = recs[recs["user_id"] == 1]
    np.testing.assert_array_equal(new["score"], popular[new["movie_id"]].to_numpy())  # users per item
    assert new["score"].iloc[0] == popular.max() and new["score"].is_monotonic_decreasing
    assert recs["user_id"].tolist() == [100, 100, 1, 1, 2, 2]  # known users first, then new ones by id
    strict = pickle.loads(pickle.dumps(fitted)).set_params(unknown_users="error")
    with pytest.raises(ValueError, match=r"2 user id\(s\) not seen in fit and without a usable history .*: 1, 2\. "):
        strict.recommend([100, 1, 2], k=2)
    with pytest.raises(ValueError, match="`user_ids` is empty"):
        fitted.recommend([], k=2)


# --------------------------------------------------------------------------- ids
def test_string_ids_and_huge_ints(ratings):
    # Zero-padded strings and shifted ints keep the ids' order, hence the same embedding rows.
    strings = ratings.assign(
        user_id="u" + ratings["user_id"].astype(str).str.zfill(4),
        movie_id="m" + ratings["movie_id"].astype(str).str.zfill(4),
    )
    huge = ratings.assign(user_id=ratings["user_id"] + 2**40, movie_id=ratings["movie_id"] + 2**33)
    a = MultiTaskRecommender(**FAST).fit(ratings, ratings["rating"])
    b = MultiTaskRecommender(**FAST).fit(strings, strings["rating"])
    c = MultiTaskRecommender(**FAST).fit(huge, huge["rating"])
    np.testing.assert_allclose(b.predict(strings), a.predict(ratings), rtol=1e-5)
    np.testing.assert_allclose(c.predict(huge), a.predict(ratings), rtol=1e-5)
    assert b.recommend(["u0100"], k=3)["movie_id"].str.startswith("m").all()
    assert (c.recommend([100 + 2**40], k=3)["movie_id"] > 2**33).all()


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "make_X, make_y, error, match",
    [
        (lambda r: r.drop(columns="movie_id"), lambda r: r["rating"], ValueError,
         r"X has no column 'movie_id'.*Set `user_col` and `item_col`"),
        (lambda r: r, lambda r: r["rating"].where(r.index != 3, np.inf), ValueError,
         r"y holds 1 infinite ratings \(first at row 3\); use NaN for an interaction without a rating"),
        (lambda r: r, lambda r: r["rating"].astype(str), TypeError, r"y must hold numeric ratings"),
        (lambda r: r, lambda r: r["rating"].iloc[:-1], ValueError, r"X has 480 rows but y has 479 ratings"),
        (lambda r: r.iloc[:0], lambda r: r["rating"].iloc[:0], ValueError, r"X is empty"),
        (lambda r: r.assign(user_id=r["user_id"].astype(object).where(r.index != 5)), lambda r: r["rating"],
         ValueError, r"X\['user_id'\] has missing ids \(NaN/None\), first at row 5"),
        (lambda r: r.assign(movie_id=r["movie_id"].astype(object).where(r.index % 2 == 0, "x")), lambda r: r["rating"],
         TypeError, r"X\['movie_id'\] mixes id types"),
        (lambda r: r[["user_id"]].to_numpy(), lambda r: r["rating"], ValueError, r"X has 1 feature\(s\) \(shape=\(480, 1\)\) while a minimum of 2 is required"),
    ],
    ids=["missing-column", "inf-rating", "string-rating", "length-mismatch", "empty", "nan-id", "mixed-ids", "1-column-array"],
)
def test_fit_rejects_bad_input_without_touching_it(ratings, make_X, make_y, error, match):
    X, y = make_X(ratings.copy()), make_y(ratings.copy())
    X_before, y_before = X.copy(), y.copy()
    with pytest.raises(error, match=match):
        MultiTaskRecommender(**FAST).fit(X, y)
    if isinstance(X, pd.DataFrame):
        pd.testing.assert_frame_equal(X, X_before)
    pd.testing.assert_series_equal(y, y_before)


@pytest.mark.parametrize(
    "param, value, match",
    [
        ("embedding_dim", 0, r"The 'embedding_dim' parameter of MultiTaskRecommender must be an int in the range \[1, inf\). Got 0 instead."),
        ("layer_sizes", (8, -1), r"'layer_sizes' .* must be a sequence of ints >= 1"),
        ("retrieval_weight", -1.0, r"'retrieval_weight' .* must be a float in the range \[0.0, inf\). Got -1.0"),
        ("learning_rate", 0.0, r"'learning_rate' .* must be 'auto' or a float in the range \(0.0, inf\). Got 0.0"),
        ("user_col", "movie_id", r"`user_col` and `item_col` must differ"),
    ],
)
def test_fit_rejects_bad_params(ratings, param, value, match):
    with pytest.raises((ValueError, TypeError), match=match):
        MultiTaskRecommender(**{**FAST, param: value}).fit(ratings, ratings["rating"])


def test_fit_does_not_modify_inputs(ratings):
    X, y = ratings.copy(), ratings["rating"].copy()
    items = pd.DataFrame({"movie_id": ratings["movie_id"].unique(), "title": "t"})
    items_before = items.copy()
    MultiTaskRecommender(**FAST).fit(X, y, items=items)
    pd.testing.assert_frame_equal(X, ratings)
    pd.testing.assert_series_equal(y, ratings["rating"])
    pd.testing.assert_frame_equal(items, items_before)


def test_fit_rejects_bad_side_frames(ratings):
    with pytest.raises(ValueError, match=r"`items` has no column 'movie_id'"):
        MultiTaskRecommender(**FAST).fit(ratings, ratings["rating"], items=pd.DataFrame({"id": [1]}))
    with pytest.raises(ValueError, match=r"`users` lists user_id=100 more than once"):
        MultiTaskRecommender(**FAST).fit(ratings, ratings["rating"], users=pd.DataFrame({"user_id": [100, 100]}))


# --------------------------------------------------------------------------- reproducibility
def test_same_random_state_same_model(ratings):
    a = MultiTaskRecommender(**FAST).fit(ratings, ratings["rating"])
    b = MultiTaskRecommender(**FAST).fit(ratings, ratings["rating"])
    np.testing.assert_array_equal(a.predict(ratings), b.predict(ratings))
    pd.testing.assert_frame_equal(a.recommend(a.users_, k=5), b.recommend(b.users_, k=5))
    c = MultiTaskRecommender(**{**FAST, "random_state": 1}).fit(ratings, ratings["rating"])
    assert not np.array_equal(a.predict(ratings), c.predict(ratings))


@pytest.mark.parametrize("dumps, loads", [(pickle.dumps, pickle.loads), (None, None)], ids=["pickle", "joblib"])
def test_persistence_round_trip(fitted, ratings, tmp_path, dumps, loads):
    if dumps is None:
        joblib.dump(fitted, tmp_path / "rec.joblib")
        restored = joblib.load(tmp_path / "rec.joblib")
    else:
        restored = loads(dumps(fitted))
    np.testing.assert_array_equal(restored.predict(ratings), fitted.predict(ratings))
    pd.testing.assert_frame_equal(restored.recommend(fitted.users_, k=5), fitted.recommend(fitted.users_, k=5))
    assert restored.score(ratings, ratings["rating"]) == fitted.score(ratings, ratings["rating"])


# --------------------------------------------------------------------------- score and model selection
def test_score_rewards_both_tasks(ratings):
    train, test = ratings.iloc[::2], ratings.iloc[1::2]
    scores = {}
    for weights in [(1.0, 1.0), (0.0, 1.0), (1.0, 0.0)]:
        est = MultiTaskRecommender(**{**SEED_FAST, "epochs": 20, "retrieval_weight": weights[0], "ranking_weight": weights[1]})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ColdStartWarning)
            scores[weights] = est.fit(train, train["rating"]).score(test, test["rating"])
    assert all(0.0 <= s <= 1.0 for s in scores.values())
    assert scores[(1.0, 1.0)] > max(scores[(0.0, 1.0)], scores[(1.0, 0.0)])


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_grid_search_over_loss_weights(ratings, n_jobs):
    grid = {"retrieval_weight": [0.0, 1.0], "ranking_weight": [0.0, 1.0]}
    cv = KFold(2, shuffle=True, random_state=0)  # rows are grouped by user: shuffle them
    search = GridSearchCV(MultiTaskRecommender(**{**SEED_FAST, "epochs": 10}), grid, cv=cv, n_jobs=n_jobs, error_score="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdStartWarning)
        search.fit(ratings, ratings["rating"])
    assert search.best_params_ == {"retrieval_weight": 1.0, "ranking_weight": 1.0}
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_regression_scorer_strings_work(ratings):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdStartWarning)
        result = cross_validate(
            MultiTaskRecommender(**FAST), ratings, ratings["rating"], cv=KFold(2, shuffle=True, random_state=0),
            scoring=["neg_root_mean_squared_error", "neg_mean_absolute_error"], error_score="raise",
        )
    assert (result["test_neg_root_mean_squared_error"] < 0).all()
    assert (-result["test_neg_root_mean_squared_error"] < 4).all()


# --------------------------------------------------------------------------- model options
IMPROVED = dict(
    rating_head="dot", implicit_feedback=True, retrieval_negatives="catalogue", l2=0.01,
    rating_blend=2.0, optimizer="adam", learning_rate=0.02, lr_schedule="cosine",
)


@pytest.mark.parametrize("rated_share, item_implicit", [(1.0, False), (0.25, False), (1.0, True)])
def test_rating_blend_recommend_is_the_exact_top_k_of_the_blended_score(ratings, rated_share, item_implicit):
    y = ratings["rating"].where(np.random.default_rng(0).random(len(ratings)) < rated_share)
    params = {**FAST, **IMPROVED, "early_stopping": False, "item_implicit_feedback": item_implicit}
    est = MultiTaskRecommender(**params).fit(ratings, y)
    from skrec._item_item import ease_weights
    from skrec._retrieval import predict_scaled, user_vectors

    scale = est.model_.rating_bias_scale  # the rating biases learn slower with scarce ratings
    assert scale == pytest.approx(np.sqrt(np.mean(~np.isnan(y))))

    model, seen = est.model_, est._interactions_.seen
    codes = np.arange(len(est.users_))
    logits = keras_numpy(model.retrieval_scores(user_vectors(model, codes, seen)))
    # predicted scaled rating of every (user, item) pair, computed through the model itself
    users, items = np.repeat(codes, len(est.items_)), np.tile(np.arange(len(est.items_)), len(codes))
    rating = predict_scaled(model, users, items, seen).reshape(len(codes), -1)
    blended = logits + est.rating_blend * rating
    assert est.item_item_ == "ease"  # the default on a small catalogue: EASE's score of the history joins
    blended += est.recipe_.item_item_weight * seen.toarray() @ ease_weights(seen, est.recipe_.item_item_l2)
    blended[est._interactions_.seen.toarray()] = -np.inf
    expected = np.argsort(-blended, axis=1, kind="stable")[:, :5]
    recs = est.recommend(est.users_, k=5)
    got = est.items_.get_indexer(recs["movie_id"]).reshape(len(codes), 5)
    np.testing.assert_array_equal(got, expected)
    # the user bias is left out of the score: it cannot change a user's ranking
    np.testing.assert_allclose(
        recs["score"].to_numpy().reshape(len(codes), 5) - np.take_along_axis(blended, expected, 1),
        np.repeat(-est.rating_blend * scale * keras_numpy(model.user_embedding.embeddings)[:, -1:], 5, axis=1),
        rtol=1e-4, atol=1e-4,
    )


def keras_numpy(x):
    return np.asarray(x.value if hasattr(x, "value") else x)


def test_improved_configuration_learns_both_tasks(ratings):
    est = MultiTaskRecommender(**{**FAST, **IMPROVED, "epochs": 30, "early_stopping": False}).fit(ratings, ratings["rating"])
    rmse = np.sqrt(np.mean((est.predict(ratings) - ratings["rating"]) ** 2))
    assert rmse < 0.6 * ratings["rating"].std(ddof=0)
    recs = est.recommend(est.users_, k=3)
    group = ((recs["movie_id"] - 7) // 11) < 15
    own = (recs["user_id"] - 100) // 3 % 2 == 0
    assert (group == own).mean() > 0.8


@pytest.mark.parametrize("item_implicit", [False, True])
def test_early_stopping_restores_the_best_epoch(ratings, item_implicit):
    est = MultiTaskRecommender(**{**FAST, **IMPROVED, "epochs": 12, "early_stopping": True, "n_iter_no_change": 2,
                                  "validation_fraction": 0.2, "item_implicit_feedback": item_implicit}).fit(ratings, ratings["rating"])
    history = est.history_
    assert {"val_score", "val_ndcg", "val_rmse"} <= set(history)
    assert all(0.0 <= v <= 1.0 for v in history["val_score"])
    n = len(history["val_score"])
    best = int(np.argmax(history["val_score"]))
    assert n == 12 or n - 1 - best >= 2  # stopped only after `n_iter_no_change` epochs without a gain


def _tables(est):
    return [keras_numpy(w) for w in est.model_.trainable_weights]


def test_swa_fraction_averages_the_weights_of_the_last_epochs(ratings):
    # With a constant rate, the first epochs of a longer fit are those of a shorter one, so the
    # average of the last two of three epochs is the mean of the 2-epoch and 3-epoch models.
    params = {**FAST, **IMPROVED, "lr_schedule": "constant", "swa_fraction": 0.0}
    fit = lambda **p: MultiTaskRecommender(**{**params, **p}).fit(ratings, ratings["rating"])
    two, three, averaged = fit(epochs=2), fit(epochs=3), fit(epochs=3, swa_fraction=0.5)
    for a, b, mean in zip(_tables(two), _tables(three), _tables(averaged)):
        np.testing.assert_allclose(mean, (a + b) / 2, rtol=1e-4, atol=1e-6)
    assert not np.allclose(two.predict(ratings), three.predict(ratings), atol=1e-3)  # the epochs differ


@pytest.mark.parametrize("early_stopping", [False, True])
def test_item_rater_terms_are_those_of_the_fitted_weights(ratings, early_stopping):
    # With weight averaging (or the best epoch restored), the rater terms that predict reads
    # must be recomputed from the final user table, over every rater of each item the estimator
    # has seen (not the step's sample of 2, and early stopping's held-out rows too).
    params = {**FAST, **IMPROVED, "epochs": 4, "item_implicit_feedback": True, "max_raters": 2, "swa_fraction": 0.5,
              "early_stopping": early_stopping, "validation_fraction": 0.2}
    est = MultiTaskRecommender(**params).fit(ratings, ratings["rating"])
    raters = est._interactions_.seen.T.tocsr().astype(float)
    assert np.diff(raters.indptr).min() > 2
    z = est.model_.rater_scale * keras_numpy(est.model_.rater_embedding.embeddings)  # the rows are the entries times the scale
    expected = (raters @ z) / np.sqrt(np.diff(raters.indptr))[:, None]
    np.testing.assert_allclose(keras_numpy(est.model_.rater_term), expected, rtol=1e-4, atol=1e-6)
    assert np.abs(expected).max() > 0.01  # the table was trained and is not all zeros


def test_swa_fraction_is_not_used_with_early_stopping(ratings):
    params = {**FAST, **IMPROVED, "epochs": 4, "early_stopping": True, "validation_fraction": 0.2}
    plain = MultiTaskRecommender(**params).fit(ratings, ratings["rating"])
    averaged = MultiTaskRecommender(**params, swa_fraction=1.0).fit(ratings, ratings["rating"])
    for a, b in zip(_tables(plain), _tables(averaged)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"rating_blend": 1.0, "rating_head": "mlp"}, r"`rating_blend`=1.0 .* needs rating_head='dot'"),
        ({"rating_head": "svd"}, r"'rating_head' .* must be one of \{'dot', 'mlp'\}. Got 'svd'"),
        ({"retrieval_negatives": "negative"}, r"'retrieval_negatives' .* must be one of"),
        ({"lr_schedule": "step"}, r"'lr_schedule' .* must be one of \{'auto', 'cosine', 'constant'\}"),
        ({"swa_fraction": 1.5}, r"'swa_fraction' .* range \[0.0, 1.0\]. Got 1.5"),
        ({"optimizer": "nope"}, r"`optimizer` must be the name of a Keras optimizer"),
        ({"early_stopping": True, "validation_fraction": 1.5}, r"'validation_fraction' .* \(0.0, 1.0\). Got 1.5"),
        ({"early_stopping": True, "validation_fraction": 0.9999}, r"it must leave at least one rating to train on"),
    ],
)
def test_fit_rejects_bad_model_options(ratings, params, match):
    with pytest.raises(ValueError, match=match):
        MultiTaskRecommender(**{**FAST, **params}).fit(ratings, ratings["rating"])


def test_training_batches_have_one_shape_and_cover_every_rating():
    # One batch shape means one compiled training step; the short last batch is completed with
    # rows from the epoch's start, and every rating is still seen in each epoch.
    from skrec._interactions import RatingBatches as _Batches

    batches = _Batches(np.arange(10), np.arange(10), np.arange(10, dtype="float32"), 4, seed=0)
    for _ in range(2):
        rows = [batches[j][0]["user"] for j in range(len(batches))]
        assert len(rows) == 3 and {len(r) for r in rows} == {4}
        assert set(np.concatenate(rows)) == set(range(10))
        assert len(set(rows[-1])) == 4  # no rating twice in one batch
        batches.on_epoch_end()
    small = _Batches(np.arange(3), np.arange(3), np.zeros(3, dtype="float32"), 4, seed=0)
    assert len(small) == 1 and len(small[0][1]) == 3
