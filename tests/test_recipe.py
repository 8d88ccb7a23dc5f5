"""The recipe: every "auto" parameter resolved once per fit from the training data's statistics, and kept by warm starts."""

import pickle

import numpy as np
import pytest

import skrec
from skrec import MultiTaskRecommender
from skrec._recipe import DataStats, Recipe, resolve_recipe

from test_hard_inputs import _all_pairs, fit


def stats(rated_share=1.0, per_id=100.0, per_item=100.0, n_items=1000, n_rows=100_000, per_user=100.0):
    """Statistics of a made-up training set."""
    return DataStats(
        n_rows=n_rows, n_items=n_items, rated_share=rated_share, interactions_per_id=per_id, ratings_per_item=per_item, has_ratings=rated_share > 0, ratings_per_user=per_user
    )


def resolve(data_stats, **params):
    return resolve_recipe(MultiTaskRecommender(**params).get_params(), data_stats)


# -- the rules, on statistics ------------------------------------------------------------------
@pytest.mark.parametrize(
    "rated, expected",
    [
        (1.0, ("per_id", "cosine", 0.0085, 0.0)),  # the rating recipe
        (0.5, ("per_id", "cosine", 0.0085, 0.0)),
        (0.4, ("per_interaction", "constant", 0.003, 0.5)),  # the retrieval recipe
        (0.0, ("per_interaction", "constant", 0.003, 0.5)),
    ],
)
def test_auto_settings_follow_the_share_of_rated_rows(rated, expected):
    recipe = resolve(stats(rated_share=rated))
    assert (recipe.l2_form, recipe.lr_schedule, recipe.learning_rate, recipe.swa_fraction) == expected
    assert recipe.batch_size == (2048 if expected[1] == "cosine" else 1024)


@pytest.mark.parametrize("batch_size, factor", [("auto", 1.0), (2048, 1.0), (1024, 0.5**0.5), (8192, 2.0)])
def test_auto_learning_rate_scales_with_the_square_root_of_the_batch_size(batch_size, factor):
    rating, retrieval = resolve(stats(), batch_size=batch_size), resolve(stats(rated_share=0.0), batch_size=batch_size)
    assert rating.learning_rate == pytest.approx(0.0085 * factor)  # its own batch: 2,048
    assert rating.batch_size == (2048 if batch_size == "auto" else batch_size)
    assert ("sqrt(batch_size" in dict(rating.reasons)["learning_rate"]) == (batch_size not in ("auto", 2048))
    own = 1024 if batch_size == "auto" else batch_size  # the retrieval recipe's own batch: 1,024
    assert retrieval.learning_rate == pytest.approx(0.003 * (own / 1024) ** 0.5) and retrieval.batch_size == own
    assert resolve(stats(), batch_size=batch_size, learning_rate=0.01).learning_rate == 0.01  # a given rate is not scaled


@pytest.mark.parametrize("n_rows, batch_size, rate", [(65536, 2048, 0.0085), (65535, 1024, 0.0085 * 0.5**0.5), (500, 1024, 0.0085 * 0.5**0.5)])
def test_auto_batch_size_keeps_32_steps_per_epoch_down_to_1024_rows(n_rows, batch_size, rate):
    recipe = resolve(stats(n_rows=n_rows))
    assert recipe.batch_size == batch_size and recipe.learning_rate == pytest.approx(rate)
    assert ("32 steps" in dict(recipe.reasons)["batch_size"]) == (batch_size == 1024)


def test_explicit_settings_beat_the_recipes():
    recipe = resolve(stats(rated_share=0.0), lr_schedule="cosine", swa_fraction=0.25)
    assert (recipe.lr_schedule, recipe.learning_rate, recipe.swa_fraction) == ("cosine", 0.0085, 0.25)
    recipe = resolve(stats(), learning_rate=0.01)
    assert (recipe.lr_schedule, recipe.learning_rate, recipe.swa_fraction) == ("cosine", 0.01, 0.0)
    recipe = resolve(stats(), lr_schedule="constant")
    assert (recipe.lr_schedule, recipe.learning_rate, recipe.swa_fraction, recipe.batch_size) == ("constant", 0.003, 0.5, 1024)
    assert resolve(stats(), l2_form="per_interaction").l2_form == "per_interaction"
    assert resolve(stats(), l2=0.01).l2 == 0.01
    assert dict(resolve(stats(), l2=0.01).reasons)["l2"] == "given"


@pytest.mark.parametrize(
    "form, rated, per_id, expected",
    [
        ("per_interaction", 1.0, 70.0, 0.025),  # past the reference 64
        ("per_interaction", 1.0, 16.0, 0.025 * 64 / 16),
        ("per_interaction", 1.0, 0.5, 0.025 * 64),  # at least one row per id
        ("per_id", 1.0, 40.0, 0.05),  # past the reference 32 rated rows
        ("per_id", 0.25, 40.0, 0.05 * 32 / 10),  # 10 rated rows per id
        ("per_id", 0.0, 20.0, 0.05 * 32 / 20),  # without ratings every row counts
    ],
)
def test_auto_l2_scales_with_the_rows_per_id(form, rated, per_id, expected):
    assert resolve(stats(rated_share=rated, per_id=per_id), l2_form=form).l2 == pytest.approx(expected)


def test_catalogue_size_decides_negatives_and_the_item_item_term():
    assert resolve(stats(n_items=2048)).retrieval_negatives == "catalogue"
    assert resolve(stats(n_items=2049)).retrieval_negatives == "sampled"
    assert resolve(stats(n_items=600), n_negatives=100).retrieval_negatives == "sampled"
    assert resolve(stats(n_items=4096)).item_item == "ease"
    assert resolve(stats(n_items=4097)).item_item is None
    assert resolve(stats(n_items=10**5), item_item="ease").item_item == "ease"
    assert resolve(stats(n_items=10), item_item_weight=0.0).item_item is None


def test_the_item_item_weight_grows_as_the_validated_penalty_falls():
    validated = resolve_recipe(MultiTaskRecommender().get_params(), stats(), validate_item_item_l2=lambda: (100.0, "held out"))
    assert (validated.item_item_l2, validated.item_item_weight) == (100.0, 20.0)  # 4 * 500 / 100
    assert dict(validated.reasons)["item_item_l2"] == "auto: held out"
    assert (resolve(stats()).item_item_l2, resolve(stats()).item_item_weight) == (500.0, 4.0)  # not validated: the reference
    assert resolve(stats(), item_item_l2=1000.0).item_item_weight == 2.0
    assert resolve(stats(), item_item_l2=1000.0, item_item_weight=3.0).item_item_weight == 3.0
    off = resolve(stats(n_items=5000))
    assert off.item_item is None and off.item_item_weight == 0.0
    assert dict(off.reasons)["item_item_weight"] == "the item-item term is off"


def test_item_side_term_needs_ratings_and_its_penalty_grows_as_ratings_thin():
    assert resolve(stats(rated_share=0.0)).item_implicit_feedback is False
    assert resolve(stats(rated_share=0.0)).rater_penalty == 1.0
    assert resolve(stats(rated_share=1.0), item_implicit_feedback=False).item_implicit_feedback is False
    assert resolve(stats(per_item=50.0)).rater_penalty == pytest.approx(0.1)
    assert resolve(stats(per_item=10.0)).rater_penalty == pytest.approx(0.4)
    assert resolve(stats(per_item=2.0)).rater_penalty == pytest.approx(1.0)  # at most the vectors' weight


def test_the_rater_table_learns_slower_where_users_have_few_ratings():
    assert resolve(stats(per_user=150.0)).rater_scale == 1.0
    assert resolve(stats(per_user=15.0)).rater_scale == pytest.approx(15 / 32)
    assert dict(resolve(stats(per_user=15.0)).reasons)["rater_scale"] == "data: 15.0 rated rows per user (n / 32, at most 1)"
    assert resolve(stats(per_user=15.0), item_implicit_feedback=False).rater_scale == 1.0  # no rater table
    assert resolve(stats(rated_share=0.0, per_user=0.0)).rater_scale == 1.0


def test_rating_biases_learn_slower_by_the_root_of_the_rated_share():
    assert resolve(stats(rated_share=0.25)).rating_bias_scale == pytest.approx(0.5)
    assert resolve(stats(rated_share=0.0)).rating_bias_scale == 1.0


def test_printing_a_recipe_shows_every_setting_and_what_decided_it():
    text = str(resolve(stats(rated_share=0.3, per_id=20.0, n_items=5000), l2=0.01))
    lines = text.splitlines()
    assert lines[0].startswith("fitted on 100,000 training rows, 30% rated")
    for name in Recipe.__dataclass_fields__:
        if name not in ("reasons", "stats"):
            assert any(line.split()[0] == name for line in lines[2:]), name
    assert "the retrieval recipe: 30% of the rows rated (< 50%)" in text
    assert "5,000 items > 4 * n_negatives = 2,048" in text
    assert "5,000 items > 4,096" in text
    assert [line for line in lines if line.startswith("l2 ")][0].split()[1:] == ["0.01", "given"]


def test_a_recipe_round_trips_through_json():
    recipe = resolve(stats(rated_share=0.7))
    again = Recipe.from_json(recipe.to_json())
    assert again == recipe and again.reasons == recipe.reasons and again.stats == recipe.stats


# -- the recipe of a fit -----------------------------------------------------------------------
def test_the_fitted_model_is_built_and_trained_with_its_recipe():
    frame = _all_pairs(10, 10)
    est = fit(frame, frame["rating"], epochs=1)
    recipe = est.recipe_
    assert recipe.stats.n_rows == len(frame) and recipe.stats.rated_share == 1.0
    assert (est.l2_, est.l2_form_, est.retrieval_negatives_, est.item_item_) == (recipe.l2, recipe.l2_form, recipe.retrieval_negatives, recipe.item_item)
    model = est.model_
    assert (model.l2, model.l2_form, model.rater_penalty, model.rating_bias_scale) == (recipe.l2, recipe.l2_form, recipe.rater_penalty, recipe.rating_bias_scale)
    assert model.rater_scale == recipe.rater_scale == pytest.approx(min(1.0, recipe.stats.ratings_per_user / 32))
    unrated = fit(frame, None, epochs=1)
    assert unrated.recipe_.lr_schedule == "constant" and not unrated.model_.item_implicit_feedback


def test_a_recipe_survives_pickle_and_save(tmp_path):
    frame = _all_pairs(10, 10)
    est = fit(frame, frame["rating"], epochs=1)
    assert pickle.loads(pickle.dumps(est)).recipe_ == est.recipe_
    est.save(tmp_path / "m.skrec")
    loaded = skrec.load(tmp_path / "m.skrec").recipe_
    assert loaded == est.recipe_ and loaded.reasons == est.recipe_.reasons and loaded.stats == est.recipe_.stats


def test_an_estimator_pickled_before_recipes_gets_one_from_its_model():
    frame = _all_pairs(10, 10)
    est = fit(frame, frame["rating"], epochs=1)
    state = est.__getstate__()
    del state["recipe_"]
    old = MultiTaskRecommender.__new__(MultiTaskRecommender)
    old.__setstate__(state)
    assert old.recipe_ == est.recipe_  # every setting is read back from the model and the recipe its l2_form belongs to


# -- warm starts keep the recipe whole ---------------------------------------------------------
def test_warm_start_keeps_the_whole_recipe_of_the_first_fit():
    dense = _all_pairs(70, 70)
    est = fit(dense, dense["rating"], l2="auto", warm_start=True, epochs=1)
    first = est.recipe_
    few = dense.iloc[:40].assign(rating=np.nan)  # no ratings: a fresh fit would take the retrieval recipe
    est.fit(few, None)
    assert est.recipe_ == first  # the schedule too: a warm fit never mixes the two recipes
    assert est.l2_ == pytest.approx(0.05) and est.l2_form_ == "per_id" and est.recipe_.lr_schedule == "cosine"
    reasons = dict(est.recipe_.reasons)
    assert reasons["l2"].startswith("kept: auto") and reasons["lr_schedule"].startswith("kept: auto: the rating recipe")
    assert all(why in ("given", "the parameter is False") or why.startswith("kept: ") for why in reasons.values())
    est.set_params(learning_rate=0.01).fit(few, None)
    assert est.recipe_.learning_rate == 0.01 and dict(est.recipe_.reasons)["learning_rate"] == "given"
    with pytest.raises(ValueError, match=r"these parameters differ from the fitted model: \['l2'\]"):
        est.set_params(l2=0.1).fit(few, few["rating"])


def test_auto_l2_is_the_base_penalty_on_dense_data_and_grows_as_the_data_thins():
    per_interaction = {"l2": "auto", "l2_form": "per_interaction"}
    dense = _all_pairs(70, 70)  # 70 rows per user and per item: past the reference count
    assert fit(dense, dense["rating"], **per_interaction).l2_ == pytest.approx(0.025)
    one_dense_side = _all_pairs(8, 70)  # 70 rows per user, 8 per item
    assert fit(one_dense_side, one_dense_side["rating"], **per_interaction).l2_ == pytest.approx(0.025)
    sparse = _all_pairs(70, 70, keep=0.25)
    n = len(sparse) / min(sparse["user_id"].nunique(), sparse["movie_id"].nunique())
    est = fit(sparse, sparse["rating"], **per_interaction)
    assert est.l2_ == pytest.approx(0.025 * 64 / n)
    assert pickle.loads(pickle.dumps(est)).l2_ == est.l2_
    assert fit(sparse, sparse["rating"], l2=0.01).l2_ == 0.01
    # the defaults charge rated data per id: 0.05 past 32 rated rows per id
    assert fit(dense, dense["rating"]).l2_ == pytest.approx(0.05)


def test_the_rater_penalty_is_a_tenth_on_well_rated_items_and_grows_as_ratings_thin():
    dense = _all_pairs(50, 20)  # 50 ratings per item: past the reference count
    assert fit(dense, dense["rating"], item_implicit_feedback=True).model_.rater_penalty == pytest.approx(0.1)
    scarce = dense.assign(rating=np.where(np.arange(len(dense)) % 5 == 0, dense["rating"], np.nan))  # 10 per item
    est = fit(scarce, scarce["rating"], item_implicit_feedback=True, warm_start=True)
    assert est.model_.rater_penalty == pytest.approx(0.1 * 40 / 10)
    assert est.fit(dense, dense["rating"]).model_.rater_penalty == pytest.approx(0.4)  # kept by a warm start
    few = dense.assign(rating=np.where(np.arange(len(dense)) % 25 == 0, dense["rating"], np.nan))  # 2 per item
    assert fit(few, few["rating"], item_implicit_feedback=True).model_.rater_penalty == pytest.approx(1.0)
    unrated = dense.assign(rating=np.nan)
    assert fit(unrated, None, item_implicit_feedback=True).model_.rater_penalty == pytest.approx(1.0)


def test_auto_l2_per_id_is_the_base_on_well_rated_data_and_grows_as_ratings_thin():
    dense = _all_pairs(40, 40)  # 40 rated rows per user and per item: past the reference 32
    assert fit(dense, dense["rating"], l2_form="per_id", epochs=1).l2_ == pytest.approx(0.05)
    # A quarter of the rows rated: m = 10 rated rows per user, all 40 rows still fitted.
    scarce = dense.assign(rating=np.where(np.arange(len(dense)) % 4 == 0, dense["rating"], np.nan))
    assert fit(scarce, scarce["rating"], l2_form="per_id", epochs=1).l2_ == pytest.approx(0.05 * 32 / 10)
    # Without ratings every row counts: 20 per user.
    clicks = _all_pairs(40, 40, keep=0.5)[["user_id", "movie_id"]]
    assert fit(clicks, None, l2_form="per_id", epochs=1).l2_ == pytest.approx(0.05 * 32 / 20)
