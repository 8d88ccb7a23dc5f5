"""Side features: the users and items frames feed the towers, and cold-start ids are scored from them."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

from skrec import MultiTaskRecommender, load
from skrec._features import default_encoder, encode_features, padded_features
from skrec.exceptions import ColdStartWarning
from skrec.exceptions import InvalidParameterError

FAST = dict(epochs=30, embedding_dim=8, batch_size=256, learning_rate=0.02, random_state=0)


def _taste_data(seed=0, n_users=60, n_items=40, n_cold=6):
    """Users of two groups; each group rates its kind of item 5 and the other kind 1.

    The last ``n_cold`` items (half of each kind) and the last 2 users (one per group) are
    listed in the side frames but have no rating in ``X``.
    """
    rng = np.random.default_rng(seed)
    users = pd.DataFrame({"user_id": np.arange(n_users), "group": np.where(np.arange(n_users) % 2, "b", "a")})
    items = pd.DataFrame({"movie_id": np.arange(n_items) + 1000, "kind": np.where(np.arange(n_items) % 2, "b", "a")})
    items["title"] = [f"Item {i}" for i in range(n_items)]
    warm_users, warm_items = users.iloc[:-2], items.iloc[:-n_cold]
    pairs = pd.DataFrame(
        [(u, i) for u in warm_users.user_id for i in warm_items.movie_id if rng.random() < 0.5], columns=["user_id", "movie_id"]
    )
    same = users.set_index("user_id").group[pairs.user_id].to_numpy() == items.set_index("movie_id").kind[pairs.movie_id].to_numpy()
    ratings = np.where(same, 5.0, 1.0)
    return pairs, ratings, users, items


@pytest.fixture(scope="module")
def taste():
    return _taste_data()


@pytest.fixture(scope="module")
def with_features(taste):
    X, y, users, items = taste
    return MultiTaskRecommender(**FAST).fit(X, y, users=users, items=items)


def test_default_encoder_picks_an_encoder_per_dtype():
    frame = pd.DataFrame(
        {
            "flag": [True, False, True, False, True, True],
            "genre_action": [0, 1, 1, 0, 0, 0],
            "age": [18.0, 25.0, np.nan, 60.0, 33.0, 41.0],
            "released": pd.to_datetime(["1990-01-01", "1995-06-01", "2001-01-01", "1990-03-01", "2005-01-01", "2010-01-01"]),
            "colour": pd.Categorical(["red", "red", "blue", None, "blue", None]),
            "size": ["S", "S", "M", "M", "L", "XL"],
            "genres": ["Action|Comedy", "Drama", None, "Comedy", "Drama", "Drama"],
            "title": ["A", "B", "C", "D", "E", "E"],
            "duration": pd.to_timedelta([1, 2, 3, 4, 5, 6], unit="D"),
        }
    )
    names = list(default_encoder(frame).fit(frame).get_feature_names_out())
    assert "flag__flag" in names and "genre_action__genre_action" in names
    assert {"genres__Action", "genres__Comedy", "genres__Drama"} <= set(names)
    assert {"colour__colour_red", "colour__colour_blue", "colour__colour_missing"} <= set(names)
    assert {"size__size_S", "size__size_M", "size__size_infrequent_sklearn"} <= set(names)  # L and XL: one row each
    assert sum(n.startswith("age__") for n in names) >= 3 and sum(n.startswith("released__") for n in names) >= 3
    assert not any(n.startswith(("title", "duration")) for n in names)


def test_feature_rows_are_padded_with_unit_norm_and_unknown_ids_get_none():
    frame = pd.DataFrame({"colour": ["red", "blue", "red"], "genres": ["A|B", "A", "B|C"]}, index=pd.Index([10, 20, 30]))
    rows = encode_features(frame, "auto").rows(pd.Index([30, 99, 10]))
    dense = rows.toarray()
    assert dense.shape == (3, 5) and dense[1].sum() == 0
    np.testing.assert_array_equal(dense[0], dense[0].astype(bool))  # 0/1 values for 0/1 features
    ids, weights = padded_features(rows)
    assert ids.shape == (3, 3)
    np.testing.assert_allclose(np.sqrt((weights**2).sum(axis=1)), [1.0, 0.0, 1.0], rtol=1e-6)
    rebuilt = np.zeros_like(dense)
    for row in range(3):
        np.add.at(rebuilt[row], ids[row], weights[row] * np.sqrt(dense[row].sum() or 1))
    np.testing.assert_allclose(rebuilt, dense, rtol=1e-6)


def test_cold_start_items_are_rated_from_their_features(taste, with_features):
    X, y, users, items = taste
    cold_a, cold_b = items.movie_id.iloc[-6::2], items.movie_id.iloc[-5::2]
    assert set(cold_a) | set(cold_b) <= set(with_features.items_)
    group_a = users.user_id[users.group == "a"].iloc[:10]
    pairs = lambda cold: pd.DataFrame({"user_id": np.repeat(group_a, len(cold)), "movie_id": np.tile(cold, len(group_a))})  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ColdStartWarning: the items are known from their features
        liked, disliked = with_features.predict(pairs(cold_a)), with_features.predict(pairs(cold_b))
    # Measured 1.41 stars with the defaults, 1.93 with item_implicit_feedback=False (the raters'
    # term of the warm items carries part of their kind, which the features then learn less
    # of), 0 without features.
    assert liked.mean() - disliked.mean() > 1.0


def test_cold_start_items_are_recommended_to_the_users_who_like_their_kind(taste, with_features):
    X, y, users, items = taste
    cold = items.movie_id.iloc[-6:]
    top = with_features.recommend(users.user_id.iloc[:20], k=3, candidates=cold)
    kinds = items.set_index("movie_id").kind[top.movie_id].to_numpy()
    groups = users.set_index("user_id").group[top.user_id].to_numpy()
    assert (kinds == groups).mean() == 1.0


def test_cold_start_users_are_served_from_their_features(taste, with_features):
    X, y, users, items = taste
    new_a, new_b = users.user_id.iloc[-2], users.user_id.iloc[-1]  # groups a, b; no rating in X
    top = with_features.recommend([new_a, new_b], k=5)
    kinds = items.set_index("movie_id").kind[top.movie_id].to_numpy()
    expected = np.where(top.user_id.to_numpy() == new_a, "a", "b")
    assert (kinds == expected).mean() >= 0.9


def test_without_features_frames_change_nothing_but_the_titles(taste):
    X, y, users, items = taste
    plain = MultiTaskRecommender(**FAST).fit(X, y)
    unused = MultiTaskRecommender(**FAST, user_features=None, item_features=None).fit(X, y, users=users, items=items)
    assert len(unused.items_) == len(plain.items_) and len(unused.item_feature_names_) == 0
    np.testing.assert_allclose(unused.predict(X.iloc[:50]), plain.predict(X.iloc[:50]), rtol=1e-6)
    assert "title" in unused.recommend(X.user_id.iloc[:1], k=2).columns


def test_a_frame_without_usable_columns_adds_titles_only_and_allows_warm_starts(taste):
    X, y, users, items = taste
    model = MultiTaskRecommender(**{**FAST, "epochs": 1}, warm_start=True).fit(X, y, items=items[["movie_id", "title"]])
    assert len(model.items_) == X.movie_id.nunique() and len(model.item_feature_names_) == 0
    model.fit(X, y, items=items[["movie_id", "title"]])
    assert "title" in model.recommend(X.user_id.iloc[:1], k=2).columns


def test_a_transformer_is_cloned_fitted_on_the_frame_and_used(taste):
    X, y, users, items = taste
    encoder = ColumnTransformer([("kind", OneHotEncoder(), ["kind"])])
    model = MultiTaskRecommender(**FAST, item_features=encoder, user_features=None).fit(X, y, items=items)
    assert list(model.item_feature_names_) == ["kind__kind_a", "kind__kind_b"]
    assert not hasattr(encoder, "transformers_")  # the caller's transformer is left unfitted
    cold = items.movie_id.iloc[-6:]
    rated = model.predict(pd.DataFrame({"user_id": 0, "movie_id": cold}))  # user 0 is in group "a"
    assert rated[::2].mean() - rated[1::2].mean() > 1.0  # 1.4 to 1.6 stars over random_state 0-5


def test_the_frames_passed_in_are_not_modified(taste):
    X, y, users, items = taste
    before = users.copy(), items.copy()
    MultiTaskRecommender(**{**FAST, "epochs": 1}).fit(X, y, users=users, items=items)
    pd.testing.assert_frame_equal(users, before[0])
    pd.testing.assert_frame_equal(items, before[1])


def test_save_load_and_pickle_keep_the_features(taste, with_features, tmp_path):
    X, y, users, items = taste
    pairs = pd.DataFrame({"user_id": [0, 1, users.user_id.iloc[-1]], "movie_id": items.movie_id.iloc[-3:].to_numpy()})
    expected = with_features.predict(pairs)
    with_features.save(tmp_path / "model")
    for restored in (load(tmp_path / "model"), pickle.loads(pickle.dumps(with_features))):
        np.testing.assert_allclose(restored.predict(pairs), expected, rtol=1e-5)
        np.testing.assert_array_equal(restored.item_feature_names_, with_features.item_feature_names_)


def test_save_keeps_a_transformer_parameter_and_its_fitted_state(taste, tmp_path):
    X, y, users, items = taste
    encoder = ColumnTransformer([("kind", OneHotEncoder(), ["kind"])])
    model = MultiTaskRecommender(**{**FAST, "epochs": 1}, item_features=encoder).fit(X, y, items=items.iloc[:-6])
    model.save(tmp_path / "model")
    restored = load(tmp_path / "model")
    assert isinstance(restored.item_features, ColumnTransformer) and not hasattr(restored.item_features, "transformers_")
    new = items.iloc[-6:].assign(movie_id=lambda f: f.movie_id + 10_000)
    pairs = pd.DataFrame({"user_id": 0, "movie_id": new.movie_id})
    np.testing.assert_allclose(restored.predict(pairs, items=new), model.predict(pairs, items=new), rtol=1e-6)


def _is_kind_a(frame):
    return (frame[["kind"]] == "a").astype(float)


class _KindA:
    """A transformer of a type skops.io does not trust by default."""

    def fit(self, frame, y=None):
        return self

    def transform(self, frame):
        return (frame[["kind"]] == "a").to_numpy(dtype=float)


def test_save_refuses_a_transformer_it_cannot_read_back_and_load_refuses_untrusted_types(taste, tmp_path):
    X, y, users, items = taste
    lam = MultiTaskRecommender(**{**FAST, "epochs": 1}, item_features=FunctionTransformer(lambda f: f[["kind"]] == "a"))
    with pytest.raises(ValueError, match="cannot be stored with skops.io.*nothing was written"):
        lam.fit(X, y, items=items).save(tmp_path / "lambda")
    assert not list(tmp_path.iterdir())
    custom = MultiTaskRecommender(**{**FAST, "epochs": 1}, item_features=_KindA()).fit(X, y, items=items)
    custom.save(tmp_path / "custom")
    with pytest.raises(ValueError, match=r"not trusted by default: \['test_side_features._KindA'\]"):
        load(tmp_path / "custom")
    restored = load(tmp_path / "custom", trusted=["test_side_features._KindA"])
    np.testing.assert_allclose(restored.predict(X.iloc[:20]), custom.predict(X.iloc[:20]), rtol=1e-6)
    function = MultiTaskRecommender(**{**FAST, "epochs": 1}, item_features=FunctionTransformer(_is_kind_a)).fit(X, y, items=items)
    function.save(tmp_path / "function")
    with pytest.raises(ValueError, match="test_side_features._is_kind_a"):
        load(tmp_path / "function")


def _renamed(frame, col, offset=10_000):
    return frame.assign(**{col: frame[col] + offset})


def test_new_items_of_a_serving_frame_are_rated_exactly_like_cold_items_of_fit(taste, with_features):
    X, y, users, items = taste
    cold = items.iloc[-6:]  # in fit's frame, absent from X: scored from features alone
    new = _renamed(cold, "movie_id")  # the same features under ids the model never met
    user_ids = np.repeat(users.user_id.iloc[:10].to_numpy(), 6)
    fitted = with_features.predict(pd.DataFrame({"user_id": user_ids, "movie_id": np.tile(cold.movie_id, 10)}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ColdStartWarning: the frame describes them
        served = with_features.predict(pd.DataFrame({"user_id": user_ids, "movie_id": np.tile(new.movie_id, 10)}), items=new)
    np.testing.assert_allclose(served, fitted, rtol=1e-5)
    with pytest.warns(ColdStartWarning):  # without the frame: the mean fallback
        fallback = with_features.predict(pd.DataFrame({"user_id": user_ids, "movie_id": np.tile(new.movie_id, 10)}))
    assert np.ptp(fallback.reshape(10, 6), axis=1).max() == 0


def test_new_items_of_a_serving_frame_are_recommended_by_kind_with_their_columns(taste):
    X, y, users, items = taste
    model = MultiTaskRecommender(**FAST).fit(X, y, users=users, items=items.iloc[:-6])  # the model never hears of them
    new = items.iloc[-6:]
    before = new.copy()
    top = model.recommend(users.user_id.iloc[:20], k=3, items=new, candidates=new.movie_id)
    pd.testing.assert_frame_equal(new, before)
    kinds = new.set_index("movie_id").kind[top.movie_id].to_numpy()
    groups = users.set_index("user_id").group[top.user_id].to_numpy()
    assert (kinds == groups).mean() == 1.0
    assert list(top.title) == list(new.set_index("movie_id").title[top.movie_id])
    everything = model.recommend(users.user_id.iloc[:1], k=len(items), exclude_seen=False, items=new)
    assert set(everything.movie_id) == set(items.movie_id)
    shown = model.recommend(users.user_id.iloc[:5], k=3, items=new, exclude_items=new.movie_id.iloc[:3])
    assert not shown.movie_id.isin(new.movie_id.iloc[:3]).any()


def test_new_users_of_a_serving_frame_are_served_like_cold_users_of_fit(taste, with_features):
    X, y, users, items = taste
    cold = users.iloc[-2:]  # groups a, b; in fit's frame, absent from X
    new = _renamed(cold, "user_id")
    fitted = with_features.recommend(cold.user_id, k=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ColdStartWarning
        served = with_features.recommend(new.user_id, k=5, users=new)
    np.testing.assert_array_equal(served.movie_id, fitted.movie_id)
    np.testing.assert_allclose(served.score, fitted.score, rtol=1e-5)
    pairs = pd.DataFrame({"user_id": np.repeat(new.user_id, 4), "movie_id": np.tile(items.movie_id.iloc[:4], 2)})
    expected = with_features.predict(pairs.assign(user_id=pairs.user_id - 10_000))
    np.testing.assert_allclose(with_features.predict(pairs, users=new), expected, rtol=1e-5)


def test_a_new_user_with_features_and_history_starts_the_fold_in_from_the_features(taste, with_features):
    X, y, users, items = taste
    new = _renamed(users.iloc[-2:-1], "user_id")  # group a
    history = pd.DataFrame({"user_id": new.user_id.iloc[0], "movie_id": items.movie_id.iloc[[1, 3]]})  # two "b" items, no rating
    featured = with_features.recommend(new.user_id, k=5, users=new, history=history)
    assert not featured.movie_id.isin(history.movie_id).any()
    history_only = with_features.recommend(new.user_id, k=5, history=history)
    kinds = items.set_index("movie_id").kind
    assert (kinds[featured.movie_id] == "a").mean() > (kinds[history_only.movie_id] == "a").mean()


def test_serving_frames_are_checked(taste, with_features):
    X, y, users, items = taste
    plain = MultiTaskRecommender(**{**FAST, "epochs": 1}).fit(X, y)
    with pytest.raises(ValueError, match="`items` was given, but this model was fitted without item features"):
        plain.predict(X.iloc[:2], items=items)
    with pytest.raises(ValueError, match=r"`items` lacks the column\(s\) \['kind'\]"):
        with_features.recommend([0], items=_renamed(items, "movie_id")[["movie_id", "title"]])
    with pytest.raises(ValueError, match="`users` has no column 'user_id'"):
        with_features.predict(X.iloc[:2], users=users.rename(columns={"user_id": "uid"}))


@pytest.mark.parametrize("value", ["yes", 3, OneHotEncoder])
def test_a_feature_spec_that_is_not_a_transformer_is_refused(taste, value):
    X, y, users, items = taste
    with pytest.raises(InvalidParameterError, match="item_features"):
        MultiTaskRecommender(item_features=value).fit(X, y, items=items)


class _WrongRows:
    def fit(self, frame, y=None):
        return self

    def transform(self, frame):
        return np.ones((len(frame) + 1, 2))


def test_bad_feature_inputs_raise_before_training(taste):
    X, y, users, items = taste
    with pytest.raises(ValueError, match="returned 41 rows for a frame of 40"):
        MultiTaskRecommender(item_features=_WrongRows()).fit(X, y, items=items)
    with pytest.raises(ValueError, match="`items` frame are string"):
        MultiTaskRecommender().fit(X, y, items=items.assign(movie_id=items.movie_id.astype(str)))


def test_a_warm_start_keeps_the_features_and_adds_the_items_of_its_frame(taste):
    X, y, users, items = taste
    model = MultiTaskRecommender(**FAST, warm_start=True).fit(X, y, users=users, items=items.iloc[:-6])
    names = model.item_feature_names_.copy()
    ids, weights = model.model_.feature_arrays("item")
    model.set_params(epochs=1).fit(X.iloc[:50], y[:50], items=items.iloc[-6:])  # only the new items' rows
    np.testing.assert_array_equal(model.item_feature_names_, names)
    assert set(items.movie_id.iloc[-6:]) <= set(model.items_)
    new_ids, new_weights = model.model_.feature_arrays("item")
    np.testing.assert_array_equal(new_ids[: len(ids), : ids.shape[1]], ids)  # the fitted items keep their features
    np.testing.assert_array_equal(new_weights[: len(ids), : ids.shape[1]], weights)
    cold_a, cold_b = items.movie_id.iloc[-6::2], items.movie_id.iloc[-5::2]
    group_a = users.user_id[users.group == "a"].iloc[:10]
    pairs = lambda cold: pd.DataFrame({"user_id": np.repeat(group_a, 3), "movie_id": np.tile(cold, len(group_a))})  # noqa: E731
    assert model.predict(pairs(cold_a)).mean() - model.predict(pairs(cold_b)).mean() > 1.5


def test_a_warm_start_of_a_model_without_features_uses_none(taste):
    X, y, users, items = taste
    model = MultiTaskRecommender(**{**FAST, "epochs": 1}, warm_start=True).fit(X, y)
    model.fit(X, y, items=items)
    assert len(model.item_feature_names_) == 0 and "title" in model.recommend(X.user_id.iloc[:1], k=2).columns


def test_cold_start_items_are_never_negatives(taste, with_features):
    X, y, users, items = taste
    cold = with_features.items_.get_indexer(items.movie_id.iloc[-6:])
    mask = np.asarray(with_features.model_.item_negative.value)
    assert (mask[cold] == 0).all() and mask.sum() == len(mask) - 6  # catalogue softmax: cold logits removed
    from skrec._interactions import build_training_set

    data = build_training_set(X.user_id, X.movie_id, y, np.ones(len(y)), extra_items=pd.Index(items.movie_id))
    negatives = data.negative_items()
    assert len(negatives) == len(items) - 6 and not np.isin(cold, negatives).any()  # sampled: never drawn
    batches = data.batches(64, 0, n_negatives=32)
    drawn = np.concatenate([batches[b][0]["candidate"] for b in range(len(batches))])
    assert not np.isin(cold, drawn).any()


def test_id_dropout_hides_only_ids_with_features_at_its_rate():
    from skrec._interactions import RatingBatches

    n = 20000
    featured = np.arange(100) < 50  # ids 0..49 have features
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 100, n), rng.integers(0, 100, n)
    batches = RatingBatches(users, items, np.zeros(n, "float32"), n, 0, id_dropout=(0.25, featured, None))
    inputs = batches[0][0]
    hidden = inputs["user_keep"] == 0
    assert not hidden[~featured[inputs["user"]]].any()
    assert abs(hidden[featured[inputs["user"]]].mean() - 0.25) < 0.02
    assert (inputs["item_keep"] == 1).all()  # no item features: nothing hidden


def test_the_fold_in_rates_history_items_by_their_features(taste, with_features):
    X, y, users, items = taste
    cold = items.iloc[-6:]  # in fit's frame, never rated: their rows are their features alone
    history = pd.DataFrame({"user_id": [-1] * 6 + [-2] * 6, "movie_id": np.tile(cold.movie_id, 2)})
    history["rating"] = np.where(np.tile(cold.kind, 2) == np.repeat(["a", "b"], 6), 5.0, 1.0)  # -1 likes a, -2 likes b
    top = with_features.recommend([-1, -2], k=5, history=history)
    kinds = items.set_index("movie_id").kind[top.movie_id].to_numpy()
    assert (kinds == np.where(top.user_id == -1, "a", "b")).mean() == 1.0


def test_a_history_of_the_calls_new_items_folds_in_and_is_excluded(taste):
    X, y, users, items = taste
    model = MultiTaskRecommender(**FAST).fit(X, y, users=users, items=items.iloc[:-6])
    new = items.iloc[-6:]  # unknown to the model, described by the call's frame
    history = pd.DataFrame({"user_id": [-1] * 6, "movie_id": new.movie_id, "rating": np.where(new.kind == "a", 5.0, 1.0)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # folded in: no popular fallback
        top = model.recommend([-1], k=5, items=new, history=history)
        among_new = model.recommend([-1], k=3, items=new, history=history.iloc[:3], candidates=new.movie_id)
    assert (items.set_index("movie_id").kind[top.movie_id] == "a").all()  # the ratings of new items count
    assert not among_new.movie_id.isin(history.movie_id.iloc[:3]).any()  # and they are excluded


def test_ids_of_another_kind_than_the_models_are_refused(taste, with_features):
    X, y, users, items = taste
    as_text = X.iloc[:3].astype(str)
    with pytest.raises(TypeError, match="'user_id' ids of X are strings, but the model's are numbers"):
        with_features.predict(as_text)
    with pytest.raises(TypeError, match="'user_id' ids of `user_ids` are strings"):
        with_features.recommend(["0"])
    with pytest.raises(TypeError, match="'movie_id' ids of `items` are strings"):
        with_features.recommend([0], items=items.astype({"movie_id": str}))


def test_serving_frames_that_cannot_be_encoded_and_unknown_candidates_are_reported(taste, with_features):
    X, y, users, items = taste
    with pytest.raises(ValueError, match="`items` lacks the column"):
        with_features.predict(X.iloc[:2], items=_renamed(items, "movie_id")[["movie_id", "title"]])
    with pytest.warns(UserWarning, match="None of the `candidates`"):
        assert with_features.recommend([0], k=2, candidates=[-5, -6]).empty
