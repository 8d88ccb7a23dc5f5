"""skrec.model_selection: PerUserKFold, GlobalTimeSplit and LeaveLastNOut, with known folds."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV, cross_validate

import skrec.model_selection
from skrec import MultiTaskRecommender
from skrec.exceptions import ColdStartWarning
from skrec.model_selection import GlobalTimeSplit, LeaveLastNOut, PerUserKFold


def ratings_frame(n_users=30, per_user=8, seed=0):
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), per_user)
    items = np.concatenate([rng.choice(40, per_user, replace=False) for _ in range(n_users)])
    return pd.DataFrame({"user_id": users, "movie_id": items, "rating": rng.integers(1, 6, len(users))})


def test_each_rating_is_tested_once_and_users_are_always_trained():
    X = ratings_frame()
    tested = np.zeros(len(X), dtype=int)
    for train, test in PerUserKFold(4, random_state=0).split(X):
        tested[test] += 1
        assert set(X["user_id"].iloc[test]) <= set(X["user_id"].iloc[train])
        # 8 ratings per user over 4 folds: exactly 2 of each user's ratings per test fold
        assert (X["user_id"].iloc[test].value_counts() == 2).all()
    assert (tested == 1).all()


def test_same_random_state_same_folds_and_groups_override():
    X = ratings_frame()
    a = [test.tolist() for _, test in PerUserKFold(3, random_state=1).split(X)]
    b = [test.tolist() for _, test in PerUserKFold(3, random_state=1).split(X.to_numpy()[:, :2])]
    c = [test.tolist() for _, test in PerUserKFold(3, random_state=1).split(X, groups=X["user_id"])]
    assert a == b == c
    assert PerUserKFold(3).get_n_splits() == 3


def test_light_users_are_reported():
    X = pd.concat([ratings_frame(), pd.DataFrame({"user_id": [99], "movie_id": [1], "rating": [5]})], ignore_index=True)
    with pytest.warns(ColdStartWarning, match=r"1 user\(s\) have fewer than n_splits=3 ratings"):
        list(PerUserKFold(3, random_state=0).split(X))


def test_missing_user_column_is_named():
    with pytest.raises(ValueError, match=r"X has no column 'user'; set PerUserKFold\(user_col=...\)"):
        list(PerUserKFold(3, user_col="user").split(ratings_frame()))


def test_usable_as_cv_in_a_search():
    X = ratings_frame()
    search = GridSearchCV(
        MultiTaskRecommender(epochs=2, batch_size=32, embedding_dim=4, layer_sizes=(8,), random_state=0),
        {"retrieval_weight": [0.0, 1.0]},
        cv=PerUserKFold(2, random_state=0),
        error_score="raise",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdStartWarning)  # items may be unseen in a training fold
        search.fit(X, X["rating"])
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    for train, test in PerUserKFold(2, random_state=0).split(X):  # users never are
        assert set(X["user_id"].iloc[test]) <= set(X["user_id"].iloc[train])


# --------------------------------------------------------------------------------------------
# GlobalTimeSplit and LeaveLastNOut
# --------------------------------------------------------------------------------------------


def timed_frame():
    """8 interactions in shuffled time order; rows 2 and 4 tie at t=30, the first cut-off.

    Sorted times 10 20 30 30 50 60 70 80: with n_splits=3 the cut-offs are the values at
    positions 2, 4, 6, i.e. 30, 50 and 70.
    """
    return pd.DataFrame(
        {
            "user_id": [1, 1, 2, 1, 2, 3, 2, 3],
            "movie_id": [10, 11, 12, 10, 11, 12, 13, 10],
            "timestamp": [50, 10, 30, 20, 30, 70, 60, 80],
            "rating": [4, 3, 5, 2, 4, 3, 5, 1],
        }
    )


GLOBAL_FOLDS = [([1, 3], [2, 4]), ([1, 2, 3, 4], [0, 6]), ([0, 1, 2, 3, 4, 6], [5, 7])]


def folds_of(cv, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdStartWarning)
        return [(train.tolist(), test.tolist()) for train, test in cv.split(X)]


def test_global_time_split_known_folds_ties_go_to_the_test_side():
    X = timed_frame()
    with pytest.warns(ColdStartWarning) as record:
        folds = [(train.tolist(), test.tolist()) for train, test in GlobalTimeSplit(3).split(X)]
    assert folds == GLOBAL_FOLDS
    assert GlobalTimeSplit(3).get_n_splits() == 3
    message = str(record[0].message)
    assert "new users: [1, 0, 1] (test rows: [2, 0, 2]); new items: [1, 1, 0] (test rows: [1, 1, 0])" in message


def test_global_time_split_cold_start_counts():
    counts = GlobalTimeSplit(3).cold_start_counts(timed_frame())
    expected = pd.DataFrame(
        [[2, 2, 1, 1, 2, 2, 1, 1], [4, 2, 2, 0, 0, 2, 1, 1], [6, 2, 1, 1, 2, 2, 0, 0]],
        columns=["n_train", "n_test", "n_test_users", "n_cold_users", "n_cold_user_rows",
                 "n_test_items", "n_cold_items", "n_cold_item_rows"],
    ).rename_axis("fold")  # fmt: skip
    pd.testing.assert_frame_equal(counts, expected)


def test_global_time_split_same_folds_from_arrays_datetimes_and_any_index():
    X = timed_frame()
    before = X.copy()
    as_dates = X.assign(timestamp=pd.to_datetime(X["timestamp"], unit="D", utc=True))
    relabelled = X.set_axis([f"r{i}" for i in range(len(X))])
    array = X[["user_id", "movie_id", "timestamp"]].to_numpy()
    assert folds_of(GlobalTimeSplit(3), as_dates) == GLOBAL_FOLDS
    assert folds_of(GlobalTimeSplit(3), relabelled) == GLOBAL_FOLDS  # positions, not labels
    assert folds_of(GlobalTimeSplit(3, time_col=2), array) == GLOBAL_FOLDS
    pd.testing.assert_frame_equal(X, before)  # the caller's frame is untouched


def test_global_time_split_one_split_cuts_at_the_median():
    assert folds_of(GlobalTimeSplit(1), timed_frame()) == [([1, 2, 3, 4], [0, 5, 6, 7])]


def test_leave_last_n_out_known_answers():
    X = pd.DataFrame(
        {
            "user_id": [1, 2, 1, 1, 2, 3, 1, 2, 3],
            "movie_id": [10, 10, 11, 12, 13, 10, 14, 11, 12],
            "timestamp": [5, 3, 9, 7, 3, 1, 9, 8, 2],
        }
    )
    # n=1: user 1's rows 2 and 6 tie at t=9, the later row (6) is the latest; user 3's is row 8.
    assert folds_of(LeaveLastNOut(1), X) == [([0, 1, 2, 3, 4, 5], [6, 7, 8])]
    # n=2: user 3 has only 2 interactions, so all stay in training.
    assert folds_of(LeaveLastNOut(2), X) == [([0, 1, 3, 5, 8], [2, 4, 6, 7])]
    assert LeaveLastNOut(2).get_n_splits() == 1
    expected = r"new users: \[0\] \(test rows: \[0\]\); new items: \[1\] \(test rows: \[1\]\)"
    with pytest.warns(ColdStartWarning, match=expected):
        list(LeaveLastNOut(1).split(X))
    counts = LeaveLastNOut(2).cold_start_counts(X).iloc[0]
    assert (counts["n_test_users"], counts["n_cold_users"], counts["n_cold_items"], counts["n_cold_item_rows"]) == (
        2, 0, 3, 4,
    )  # fmt: skip


def test_leave_last_n_out_without_cold_items_does_not_warn():
    X = pd.DataFrame({"user_id": [1, 1, 2, 2], "movie_id": [1, 2, 2, 1], "timestamp": [1, 2, 3, 4]})
    with warnings.catch_warnings():
        warnings.simplefilter("error", ColdStartWarning)
        assert folds_of(LeaveLastNOut(), X) == [([0, 2], [1, 3])]


@pytest.mark.parametrize(
    "cv, X, match",
    [
        (GlobalTimeSplit(0), None, r"The 'n_splits' parameter of GlobalTimeSplit must be an int in the range \[1, inf\). Got 0 instead."),
        (GlobalTimeSplit(2.0), None, r"'n_splits' parameter of GlobalTimeSplit must be an int .* Got 2.0 instead."),
        (LeaveLastNOut(0), None, r"The 'n' parameter of LeaveLastNOut must be an int in the range \[1, inf\). Got 0 instead."),
        (GlobalTimeSplit(time_col="time"), None, r"X has no column 'time'; set GlobalTimeSplit\(time_col=...\) to the column of timestamps"),
        (LeaveLastNOut(item_col="item_id"), None, r"X has no column 'item_id'"),
        (LeaveLastNOut(time_col="user_id"), None, r"LeaveLastNOut\(time_col='user_id'\) names the same column as user_col or item_col"),
        (GlobalTimeSplit(2), "array", r"X is an array of shape \(8, 3\), so GlobalTimeSplit\(time_col=...\) must be the position"),
        (GlobalTimeSplit(2, time_col=1), "array", r"must be the position of its timestamp column, an int >= 2 .* got 1"),
        (GlobalTimeSplit(2), "nan", r"Column 'timestamp' of X has missing timestamps, first at row 3"),
        (LeaveLastNOut(), "text", r"Column 'timestamp' of X must hold numbers \(e.g. unix seconds\) or datetimes; got dtype"),
        (GlobalTimeSplit(8), None, r"GlobalTimeSplit\(n_splits=8\) cuts X into 9 periods, but X has only 8 rows"),
        (GlobalTimeSplit(2), "ties", r"GlobalTimeSplit\(n_splits=2\) would leave a fold empty: too many rows share a timestamp in column 'timestamp'"),
        (LeaveLastNOut(5), None, r"LeaveLastNOut\(n=5\) has nothing to test: no user has more than 5 interactions"),
    ],
)  # fmt: skip
def test_time_splitters_name_the_argument_or_column_at_fault(cv, X, match):
    frame = timed_frame()
    X = {
        None: frame,
        "array": frame[["user_id", "movie_id", "timestamp"]].to_numpy(),
        "nan": frame.assign(timestamp=frame["timestamp"].where(frame.index != 3)),
        "text": frame.assign(timestamp=frame["timestamp"].astype(str)),
        "ties": frame.assign(timestamp=[1, 1, 1, 1, 1, 1, 2, 3]),
    }[X]
    with pytest.raises(ValueError, match=match):
        list(cv.split(X))


def temporal_ratings(n_users=30, per_user=8, seed=0):
    """``ratings_frame`` with timestamps: each user rates over the whole period, in random order."""
    X = ratings_frame(n_users, per_user, seed)
    return X.assign(timestamp=np.random.default_rng(seed).permutation(len(X)) * 3600)


def test_global_time_split_drives_a_grid_search_over_the_loss_weights():
    X = temporal_ratings()
    search = GridSearchCV(
        MultiTaskRecommender(epochs=1, embedding_dim=4, random_state=0),
        {"retrieval_weight": [0.1, 1.0], "ranking_weight": [1.0]},
        cv=GlobalTimeSplit(2),
        error_score="raise",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdStartWarning)
        search.fit(X, X["rating"])
    assert search.n_splits_ == 2
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_params_["retrieval_weight"] in (0.1, 1.0)


SPLITTERS = {
    "PerUserKFold": PerUserKFold(2, random_state=0),
    "GlobalTimeSplit": GlobalTimeSplit(2),
    "LeaveLastNOut": LeaveLastNOut(1),
}


@pytest.mark.parametrize("argument", ["groups", "y"])
@pytest.mark.parametrize("n_given", [-1, +1], ids=["short", "long"])
@pytest.mark.parametrize("name", skrec.model_selection.__all__)  # every splitter; a new one needs an entry
def test_split_refuses_groups_or_y_of_another_length_than_x(name, n_given, argument):
    X = temporal_ratings()
    wrong = np.arange(len(X) + n_given)
    inconsistent = rf"inconsistent numbers of samples: \[{len(X)}, {len(X) + n_given}\]"
    with pytest.raises(ValueError, match=inconsistent):
        next(SPLITTERS[name].split(X, **{argument: wrong}))


@pytest.mark.parametrize("name", skrec.model_selection.__all__)  # every splitter; a new one needs an entry
def test_cross_validate_refuses_groups_of_another_length_than_x(name):
    # cross_validate checks X against y itself, but passes groups to the splitter unchecked.
    X = temporal_ratings()
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples"):
        cross_validate(
            MultiTaskRecommender(epochs=1, embedding_dim=4, batch_size=64, random_state=0),
            X, X["rating"], groups=X["user_id"].iloc[:-5], cv=SPLITTERS[name], error_score="raise",
        )  # fmt: skip


def test_public_names_exist_and_are_documented():
    import skrec.model_selection

    assert skrec.model_selection.__all__ == ["GlobalTimeSplit", "LeaveLastNOut", "PerUserKFold"]
    for name in skrec.model_selection.__all__:
        cls = getattr(skrec.model_selection, name)
        assert cls.__doc__ and cls.split.__doc__ and cls.get_n_splits.__doc__
