"""PerUserKFold: every rating tested once, every user in every training fold."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV

from skrec import MultiTaskRecommender
from skrec.exceptions import ColdStartWarning
from skrec.model_selection import PerUserKFold


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
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ColdStartWarning)
        search.fit(X, X["rating"])
    # Items may be unseen in a training fold, users never are.
    assert all("(0 with an unknown user" in str(w.message) for w in caught if w.category is ColdStartWarning)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
