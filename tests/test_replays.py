"""Replays of bad and edge-case input (issue #33's kinds): each test pins what a user gets.

Filters that never ignore an id, side frames that keep their columns, a scale-free
``sample_weight``, datetime features served with another dtype, the history's rating column,
and warnings that point at the caller's line.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from skrec import MultiTaskRecommender
from skrec.exceptions import ColdStartWarning

from test_reliability import FASTER, fitted, ratings  # noqa: F401 (fixtures)


# ------------------------------------------------------------------------------ sample_weight
@pytest.mark.parametrize("factor", [1e-300, 1e-20, 3.7, 1e35, 1e300])
def test_scaling_every_weight_by_a_constant_gives_the_same_model(ratings, factor):
    weights = np.random.default_rng(0).uniform(0.5, 2.0, len(ratings))
    base = MultiTaskRecommender(**FASTER).fit(ratings, ratings["rating"], sample_weight=weights)
    scaled = MultiTaskRecommender(**FASTER).fit(ratings, ratings["rating"], sample_weight=weights * factor)
    np.testing.assert_allclose(scaled.predict(ratings), base.predict(ratings), atol=1e-4)


# ------------------------------------------------------------------------------ filters
@pytest.mark.parametrize(
    "argument",
    [
        {"exclude_items": ["30"]},
        {"candidates": [30, "10"]},
        {"candidates": ["30"]},
        {"exclude_items": pd.DataFrame({"user_id": [100], "movie_id": ["30"]})},
        {"exclude_items": pd.DataFrame({"user_id": ["100"], "movie_id": [30]})},
    ],
)
def test_filter_ids_of_another_kind_are_refused_by_name(fitted, argument):
    name = next(iter(argument))
    with pytest.raises(TypeError, match=rf"`{name}` are .*'1' and 1 are different ids"):
        fitted.recommend([100], k=1, **argument)


def test_filter_ids_of_a_string_model_must_be_strings(ratings):
    as_strings = ratings.astype({"user_id": str, "movie_id": str})
    model = MultiTaskRecommender(**{**FASTER, "epochs": 1}).fit(as_strings, as_strings["rating"])
    with pytest.raises(TypeError, match="`exclude_items`"):
        model.recommend(["100"], k=1, exclude_items=[7])
    top = model.recommend(["100"], k=1)["movie_id"].iloc[0]
    assert model.recommend(["100"], k=1, exclude_items=[top])["movie_id"].iloc[0] != top


def test_excluded_and_candidate_items_of_the_right_kind_are_applied(fitted):
    top = fitted.recommend([100], k=2)["movie_id"].tolist()
    assert fitted.recommend([100], k=1, exclude_items=[top[0]])["movie_id"].tolist() == [top[1]]
    assert fitted.recommend([100], k=1, candidates=np.array([top[1]]))["movie_id"].tolist() == [top[1]]


# ------------------------------------------------------------------------------ side frames
def titled(ratings, extra=None):
    items = pd.DataFrame({"movie_id": np.unique(ratings["movie_id"])})
    items["title"] = "Film " + items["movie_id"].astype(str)
    return items if extra is None else items.assign(**extra)


@pytest.mark.parametrize("column", ["rank", "score", "user_id"])
def test_an_items_column_that_recommend_writes_itself_is_refused_at_fit(ratings, column):
    items = titled(ratings, {column: 1})
    model = MultiTaskRecommender(**FASTER, item_features=None)
    with pytest.raises(ValueError, match=rf"`items` has a column '{column}', which `recommend` writes itself.*rename"):
        model.fit(ratings, ratings["rating"], items=items)
    assert not hasattr(model, "model_")


def test_renamed_item_columns_leave_score_and_metrics_working(ratings):
    items = titled(ratings, {"rank": 1}).rename(columns={"rank": "item_rank"})
    model = MultiTaskRecommender(**FASTER, item_features=None).fit(ratings, ratings["rating"], items=items)
    top = model.recommend([100], k=3)
    assert list(top.columns) == ["user_id", "rank", "movie_id", "score", "title", "item_rank"]
    assert np.isfinite(model.score(ratings, ratings["rating"]))


def test_a_side_frame_with_a_repeated_column_name_is_refused_by_name(ratings):
    items = titled(ratings)
    items = pd.concat([items, items[["title"]]], axis=1)
    with pytest.raises(ValueError, match="`items` has more than one column named 'title'"):
        MultiTaskRecommender(**FASTER).fit(ratings, ratings["rating"], items=items)


def test_a_warm_fit_with_a_partial_items_frame_keeps_the_other_items_columns(ratings):
    items = titled(ratings)
    model = MultiTaskRecommender(**{**FASTER, "epochs": 1}, item_features=None, warm_start=True)
    model.fit(ratings, ratings["rating"], items=items)
    new = pd.DataFrame({"user_id": [100, 103], "movie_id": [999, 999], "rating": [5.0, 4.0]})
    model.fit(new, new["rating"], items=pd.DataFrame({"movie_id": [999], "title": ["New film"]}))
    expected = dict(zip(items["movie_id"], items["title"])) | {999: "New film"}
    assert model.item_info_["title"].to_dict() == expected
    top = model.recommend([106], k=5)
    assert (top["title"] == top["movie_id"].map(expected)).all()


@pytest.mark.parametrize("served", [["1995-06-01"], [1995]], ids=["string", "integer year"])
def test_a_datetime_feature_served_with_another_dtype_is_refused_by_frame_and_column(ratings, served):
    items = titled(ratings, {"released": pd.Timestamp("1990-01-01") + pd.to_timedelta(np.arange(len(np.unique(ratings["movie_id"]))) * 400, "D")})
    model = MultiTaskRecommender(**{**FASTER, "epochs": 1}).fit(ratings, ratings["rating"], items=items[["movie_id", "released"]])
    new = pd.DataFrame({"movie_id": [999], "released": served})
    with pytest.raises(ValueError, match=r"`items`.*column 'released' held datetimes in fit"):
        model.recommend([100], k=2, items=new)
    with pytest.raises(ValueError, match=r"`items`.*'released'"):
        model.predict(pd.DataFrame({"user_id": [100], "movie_id": [999]}), items=new)


# ------------------------------------------------------------------------------ history ratings
@pytest.fixture(scope="module")
def starred(ratings):
    frame = ratings.rename(columns={"user_id": "customer", "movie_id": "sku", "rating": "stars"})
    return MultiTaskRecommender(**FASTER, user_col="customer", item_col="sku").fit(frame, frame["stars"])


def test_a_history_reads_ratings_from_the_column_y_was_named_in_fit(starred):
    assert starred.rating_col_ == "stars"
    liked = pd.DataFrame({"customer": [-1] * 3, "sku": [7, 18, 29], "stars": [5.0, 5.0, 1.0]})
    disliked = liked.assign(stars=[1.0, 1.0, 5.0])
    as_rating = liked.rename(columns={"stars": "rating"})
    # every item's score: low ratings may leave a top 5 as it is (they mostly move the user's bias)
    scores = lambda history: starred.recommend([-1], k=len(starred.items_) - 3, history=history).sort_values("sku")["score"].to_numpy()  # noqa: E731
    assert not np.allclose(scores(liked), scores(disliked), atol=1e-3)
    np.testing.assert_array_equal(scores(liked), scores(as_rating))


def test_a_history_with_unplaceable_columns_and_no_rating_column_is_refused(starred):
    history = pd.DataFrame({"customer": [-1, -1], "sku": [7, 18], "score": [5.0, 1.0]})
    with pytest.raises(ValueError, match=r"`history` has the column\(s\) \['score'\].*no rating column 'stars'"):
        starred.recommend([-1], k=2, history=history)
    assert len(starred.recommend([-1], k=2, history=history[["customer", "sku"]])) == 2


def test_the_rating_column_survives_saving_and_pickling(starred, tmp_path):
    import pickle

    import skrec

    starred.save(tmp_path / "m.skrec")
    assert skrec.load(tmp_path / "m.skrec").rating_col_ == "stars"
    assert pickle.loads(pickle.dumps(starred)).rating_col_ == "stars"


# ------------------------------------------------------------------------------ warnings
def test_every_warning_names_the_callers_line(fitted):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted.predict(pd.DataFrame({"user_id": [-5], "movie_id": [7]}))
        fitted.score(pd.DataFrame({"user_id": [-5, 100], "movie_id": [7, 7]}), [4.0, 5.0])
        fitted.recommend([-5], k=1)
        fitted.recommend([100], k=1, candidates=[-9])
        fitted.predict(fitted.users_[:1].to_frame(name="user_id").assign(movie_id=7).to_numpy())
    assert len(caught) >= 5
    assert {w.filename for w in caught} == {__file__}


def test_warnings_in_a_search_point_at_the_search_not_at_skrec(ratings):
    from sklearn.model_selection import GridSearchCV, KFold

    search = GridSearchCV(MultiTaskRecommender(**{**FASTER, "epochs": 1}), {"ranking_weight": [0.5, 1.0]}, cv=KFold(3, shuffle=True, random_state=0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(ratings, ratings["rating"])
    cold = [w for w in caught if w.category is ColdStartWarning]
    assert cold and len({str(w.message) for w in cold}) == 1  # one text: the default filter can merge them
    assert not any("/skrec/" in w.filename for w in cold)


# ------------------------------------------------------------------------------ smaller kinds
def test_recommend_refuses_none_and_missing_user_ids(fitted):
    with pytest.raises(TypeError, match="`user_ids` is None"):
        fitted.recommend(None)
    with pytest.raises(ValueError, match="`user_ids` holds a missing id .* at position 1"):
        fitted.recommend([100, np.nan])
    with pytest.raises(ValueError, match="`candidates` holds a missing id"):
        fitted.recommend([100], candidates=[7, None])


def test_excluding_every_item_names_exclude_items_not_candidates(fitted):
    with pytest.warns(UserWarning, match="`exclude_items` leaves out every item"):
        assert fitted.recommend([100], k=1, exclude_items=list(fitted.items_)).empty


def test_the_unknown_user_error_says_a_history_of_unknown_items_is_not_usable(fitted):
    strict = MultiTaskRecommender(**FASTER).set_params(unknown_users="error")
    strict.__dict__.update({k: v for k, v in fitted.__dict__.items() if k.endswith("_")})
    history = pd.DataFrame({"user_id": [-1], "movie_id": [123456], "rating": [4.0]})
    with pytest.raises(ValueError, match="without a usable history .*only of items the model does not know"):
        strict.recommend([-1], history=history)


def test_similar_items_k_error_counts_the_other_items(fitted):
    n = len(fitted.items_)
    with pytest.raises(ValueError, match=rf"larger than the {n - 1} other items: the model knows {n} items"):
        fitted.similar_items([7], k=n)


@pytest.mark.parametrize("trusted", [None, "collections.OrderedDict", ["collections.OrderedDict"]])
def test_load_takes_one_type_name_none_or_a_list(fitted, tmp_path, trusted):
    import skrec

    fitted.save(tmp_path / "m.skrec")
    assert len(skrec.load(tmp_path / "m.skrec", trusted=trusted).recommend([100], k=2)) == 2


def test_load_refuses_trusted_names_that_are_not_strings(fitted, tmp_path):
    import skrec

    fitted.save(tmp_path / "m.skrec")
    with pytest.raises(TypeError, match="`trusted` must be a type name"):
        skrec.load(tmp_path / "m.skrec", trusted=[int])


def test_a_users_frame_sliced_like_x_is_detected(ratings):
    ids = np.unique(ratings["user_id"])
    sliced = pd.DataFrame({"user_id": np.concatenate([ids[1:], 10_000 + np.arange(len(ratings) - len(ids) + 1)]), "age": 30.0})
    with pytest.warns(UserWarning, match="`users` has as many rows as X .* lacks 1 of X's users"):
        MultiTaskRecommender(**{**FASTER, "epochs": 1}).fit(ratings, ratings["rating"], users=sliced)


def test_a_seed_model_warns_that_a_history_cannot_personalise_new_users(ratings):
    from skrec import SEED_PARAMS

    model = MultiTaskRecommender(**{**SEED_PARAMS, **FASTER, "epochs": 1}).fit(ratings, ratings["rating"])
    history = pd.DataFrame({"user_id": [-1], "movie_id": [7], "rating": [5.0]})
    with pytest.warns(ColdStartWarning, match="got a zero vector"):
        model.recommend([-1], k=2, history=history)


def test_a_history_rating_outside_the_fitted_range_is_refused(fitted):
    history = pd.DataFrame({"user_id": [-1, -1], "movie_id": [7, 18], "rating": [4.0, 50.0]})
    with pytest.raises(ValueError, match=r"`history` rating 50\.0 .* outside rating_range_ \(1\.0, 5\.0\)"):
        fitted.recommend([-1], k=2, history=history)
