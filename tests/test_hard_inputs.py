"""Hard inputs and training faults: each documented case gets its documented answer."""

import numpy as np
import pandas as pd
import pytest

from skrec import MultiTaskRecommender
from skrec.exceptions import TrainingDivergedError

from test_estimator import FAST, make_ratings


@pytest.fixture(scope="module")
def ratings():
    return make_ratings(n_users=12, per_user=8)


def fit(X, y, **params):
    return MultiTaskRecommender(**{**FAST, **params}).fit(X, y)


def test_constant_ratings_predict_that_constant(ratings):
    est = fit(ratings, np.full(len(ratings), 4.0))
    assert est.rating_range_ == (4.0, 4.0)
    np.testing.assert_array_equal(est.predict(ratings), 4.0)
    assert est.recommend([100], k=2).shape[0] == 2


def test_a_single_rating(ratings):
    one = ratings.iloc[:1]
    est = fit(one, one["rating"])
    assert est.predict(one).tolist() == [float(one["rating"].iloc[0])]
    # the only item is seen: nothing is left to recommend unless seen items are allowed
    assert est.recommend(one["user_id"], k=1).empty
    assert est.recommend(one["user_id"], k=1, exclude_seen=False)["movie_id"].tolist() == one["movie_id"].tolist()


def test_one_user_and_one_item(ratings):
    one_user = ratings[ratings["user_id"] == 100]
    est = fit(one_user, one_user["rating"])
    assert len(est.users_) == 1
    assert est.recommend([100], k=3, exclude_seen=False).shape[0] == 3
    assert est.recommend([100], k=3).empty  # the user has seen the whole (fitted) catalogue
    one_item = ratings[ratings["movie_id"] == ratings["movie_id"].iloc[0]]
    est = fit(one_item, one_item["rating"])
    assert len(est.items_) == 1 and est.predict(one_item).shape == (len(one_item),)


def test_ratings_outside_the_fitted_scale_are_scored_as_given(ratings):
    est = fit(ratings, ratings["rating"])
    pred = est.predict(ratings.head(3))
    assert (pred >= 1).all() and (pred <= 5).all()  # predictions stay in rating_range_
    assert np.isfinite(est.score(ratings.head(20), np.full(20, 10.0)))


def test_duplicate_pairs_train_as_repeated_ratings(ratings):
    doubled = pd.concat([ratings, ratings.iloc[:10]], ignore_index=True)
    est = fit(doubled, doubled["rating"])
    recs = est.recommend(est.users_, k=3)
    assert recs.merge(doubled, on=["user_id", "movie_id"]).empty  # each pair counted once as seen


@pytest.mark.parametrize(
    "convert",
    [
        lambda s: s.astype("Int64"),
        lambda s: s.astype("category"),
        lambda s: s.astype("int32"),
        lambda s: s.astype("float64"),
        lambda s: s.astype(str).astype("string"),
    ],
    ids=["nullable-Int64", "categorical", "int32", "integral-float", "string-dtype"],
)
def test_id_dtypes(ratings, convert):
    X = ratings.assign(user_id=convert(ratings["user_id"]), movie_id=convert(ratings["movie_id"]))
    X_before = X.copy()
    est = fit(X, ratings["rating"])
    pd.testing.assert_frame_equal(X, X_before)
    assert est.predict(X).shape == (len(X),)
    assert est.recommend(X["user_id"].unique()[:2], k=2).shape[0] == 4


def test_missing_ratings_in_a_nullable_column_are_interactions_without_a_rating(ratings):
    y = ratings["rating"].astype("Float64")
    y.iloc[4] = pd.NA
    est = fit(ratings, y)
    assert est._interactions_.means.count == len(ratings) - 1  # the NA row has no rating
    assert est._interactions_.seen.nnz == len(ratings)  # but it is an interaction
    with pytest.raises(ValueError, match=r"y holds 1 infinite ratings"):
        fit(ratings, ratings["rating"].where(ratings.index != 0, np.inf))


def test_missing_id_in_a_nullable_column_is_named(ratings):
    X = ratings.assign(movie_id=ratings["movie_id"].astype("Int64"))
    X.loc[7, "movie_id"] = pd.NA
    with pytest.raises(ValueError, match=r"X\['movie_id'\] has missing ids \(NaN/None\), first at row 7"):
        fit(X, ratings["rating"])


def test_renamed_columns_and_extra_columns(ratings):
    renamed = ratings.rename(columns={"user_id": "uid", "movie_id": "iid"})
    with pytest.raises(ValueError, match=r"X has no column 'user_id'.*Set `user_col` and `item_col`"):
        fit(renamed, ratings["rating"])
    est = fit(renamed.assign(extra="ignored"), ratings["rating"], user_col="uid", item_col="iid")
    assert est.recommend([100], k=1).columns.tolist() == ["uid", "rank", "iid", "score"]


def test_a_diverging_fit_names_the_epoch_and_leaves_the_estimator_unfitted(ratings):
    est = MultiTaskRecommender(**{**FAST, "optimizer": "sgd", "learning_rate": 1e30})
    with pytest.raises(TrainingDivergedError, match=r"Training diverged: the loss is (nan|inf) at epoch 1"):
        est.fit(ratings, ratings["rating"])
    assert not hasattr(est, "model_")


def test_keyboard_interrupt_leaves_the_previous_state(ratings, monkeypatch):
    import skrec._interactions as module

    est = fit(ratings, ratings["rating"])
    before = est.predict(ratings)

    def interrupt(self, index):
        raise KeyboardInterrupt

    monkeypatch.setattr(module.RatingBatches, "__getitem__", interrupt)
    with pytest.raises(KeyboardInterrupt):
        est.set_params(embedding_dim=4).fit(ratings, ratings["rating"])
    np.testing.assert_array_equal(est.predict(ratings), before)  # the old model, not a half-fitted one
    fresh = MultiTaskRecommender(**FAST)
    with pytest.raises(KeyboardInterrupt):
        fresh.fit(ratings, ratings["rating"])
    assert not hasattr(fresh, "model_")


def test_warm_start_continues_training_and_grows_the_vocabularies(ratings):
    first = ratings[ratings["user_id"] != 100]
    rest = ratings[ratings["user_id"] == 100].assign(movie_id=lambda f: f["movie_id"].where(f.index % 2 == 0, 99999))
    est = MultiTaskRecommender(**{**FAST, "warm_start": True}).fit(first, first["rating"])
    old_users, old_items = est.users_.copy(), est.items_.copy()
    shared = est.items_.get_indexer(rest["movie_id"][rest["movie_id"] != 99999])
    old_rows = keras_rows(est)[shared]
    before = est.predict(first.head(5))
    est.fit(rest, rest["rating"])
    # known ids keep their rows; new ones are appended
    assert list(est.users_[: len(old_users)]) == list(old_users) and est.users_[-1] == 100
    assert est.items_[-1] == 99999 and len(est.items_) == len(old_items) + 1
    assert len(est.history_["loss"]) == 2 * FAST["epochs"]
    assert not np.array_equal(keras_rows(est)[shared], old_rows)  # training went on
    assert np.abs(est.predict(first.head(5)) - before).max() < 1.5  # not a fresh model
    # items rated in either fit are excluded; the new user is served
    recs = est.recommend([100], k=3)
    assert recs.merge(rest, on=["user_id", "movie_id"]).empty
    seen_first = first[first["user_id"] == 103]
    assert est.recommend([103], k=3).merge(seen_first, on=["user_id", "movie_id"]).empty


@pytest.mark.parametrize("param, value", [("embedding_dim", 16), ("item_implicit_feedback", False)])
def test_warm_start_refuses_a_changed_architecture(ratings, param, value):
    est = MultiTaskRecommender(**{**FAST, "warm_start": True}).fit(ratings, ratings["rating"])
    with pytest.raises(ValueError, match=rf"these parameters differ from the fitted model: \['{param}'\]"):
        est.set_params(**{param: value}).fit(ratings, ratings["rating"])


def test_warm_start_keeps_auto_negatives_and_refuses_another_explicit_choice(ratings):
    est = MultiTaskRecommender(**{**FAST, "warm_start": True, "retrieval_negatives": "auto"}).fit(ratings, ratings["rating"])
    fitted = est.retrieval_negatives_
    assert est.fit(ratings, ratings["rating"]).retrieval_negatives_ == fitted
    other = "in_batch" if fitted != "in_batch" else "catalogue"
    with pytest.raises(ValueError, match=r"these parameters differ from the fitted model: \['retrieval_negatives'\]"):
        est.set_params(retrieval_negatives=other).fit(ratings, ratings["rating"])
    assert est.retrieval_negatives_ == fitted


def _all_pairs(n_users, n_items, keep=1.0, seed=0):
    """Every user rating every item, or a seeded share of these pairs."""
    users, items = np.meshgrid(np.arange(n_users), np.arange(n_items), indexing="ij")
    frame = pd.DataFrame({"user_id": users.ravel(), "movie_id": items.ravel() + 1000})
    frame["rating"] = 1.0 + (frame["user_id"] + frame["movie_id"]) % 5
    return frame.sample(frac=keep, random_state=seed).reset_index(drop=True)


def keras_rows(est):
    return np.array(est.model_.item_embedding.embeddings.value)
