"""A hyperparameter search spread over a dask.distributed cluster through joblib's Dask backend."""

import warnings

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from skrec import MultiTaskRecommender
from skrec.exceptions import ColdStartWarning
from skrec.model_selection import PerUserKFold

from test_estimator import make_ratings

distributed = pytest.importorskip("distributed", reason="pip install 'skrec-multitask[test]' installs dask")


def test_grid_search_on_a_local_dask_cluster():
    import joblib

    ratings = make_ratings(n_users=16, per_user=8)
    search = GridSearchCV(
        MultiTaskRecommender(epochs=2, batch_size=32, embedding_dim=4, random_state=0),
        {"retrieval_weight": [0.0, 0.1]},
        cv=PerUserKFold(2, random_state=0),
        n_jobs=-1,
        error_score="raise",
    )
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster), joblib.parallel_backend("dask"):
            with warnings.catch_warnings(), distributed.get_task_stream() as tasks:
                warnings.simplefilter("ignore", ColdStartWarning)
                search.fit(ratings, ratings["rating"])
    workers = {task["worker"] for task in tasks.data}
    assert len(tasks.data) >= 4 and len(workers) >= 1  # the 4 fits ran as Dask tasks
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.recommend([100], k=2).shape[0] == 2
