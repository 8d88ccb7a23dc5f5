"""Tuning the loss weights with GridSearchCV: the retrieval / ranking trade-off
=============================================================================

:class:`~skrec.MultiTaskRecommender` trains one model on
``retrieval_weight * retrieval_loss + ranking_weight * rating_loss``. This example searches
those two weights with scikit-learn's ``GridSearchCV`` on MovieLens 100k, scores every
candidate on both tasks at once (RMSE of the predicted ratings, NDCG@10 of the
recommendations) and draws the trade-off: a model trained on ratings alone recommends poorly,
one trained on retrieval alone predicts ratings poorly, and a small retrieval weight is better
than either at its own task.

MovieLens 100k is read from ``$SKREC_DATA`` (else ``~/skrec_data``) and downloaded there if it
is missing. The full search fits 21 models of the default configuration (about 7 minutes on two
CPU cores); ``docs/benchmark_movielens.md`` has the same sweep on the five canonical folds.
"""

# %%
# Data
# ----
from skrec.datasets import fetch_movielens

ml = fetch_movielens()
X, y = ml.ratings[["user_id", "movie_id"]], ml.ratings["rating"]
print(f"{len(X):,} ratings by {X['user_id'].nunique()} users of {X['movie_id'].nunique():,} movies")

# %%
# The search
# ----------
# The grid sweeps the retrieval weight with the rating loss at weight 1, then lowers the
# rating weight with retrieval at weight 1, from a rating-only model to a retrieval-only one.
#
# :class:`~skrec.model_selection.PerUserKFold` spreads each user's ratings over the folds, so
# every test user has ratings to learn from. Three scorers run on each fold: the estimator's
# own :meth:`~skrec.MultiTaskRecommender.score` (the mean of an NDCG@10 term and a rating-error
# term, which rewards both tasks), the RMSE and, from :mod:`skrec.metrics`, NDCG@10 with the
# held-out ratings of 4 or 5 as the relevant items.
import warnings

from sklearn.model_selection import GridSearchCV

from skrec import MultiTaskRecommender
from skrec.exceptions import ColdStartWarning
from skrec.metrics import make_ranking_scorer
from skrec.model_selection import PerUserKFold

param_grid = [
    {"retrieval_weight": [0.0, 0.03, 0.1, 0.3, 1.0], "ranking_weight": [1.0]},
    {"retrieval_weight": [1.0], "ranking_weight": [0.3, 0.0]},
]
epochs, n_folds = 16, 3
# sphinx_gallery_start_ignore
# The docs build in CI sets SKREC_DOCS_QUICK=1: fewer epochs and folds, a smaller grid.
import os

if os.environ.get("SKREC_DOCS_QUICK", "") not in ("", "0"):
    param_grid = [
        {"retrieval_weight": [0.0, 0.1, 1.0], "ranking_weight": [1.0]},
        {"retrieval_weight": [1.0], "ranking_weight": [0.0]},
    ]
    epochs, n_folds = 2, 2
# sphinx_gallery_end_ignore


def multitask_score(estimator, X, y):
    """The estimator's default score, as a named scorer beside the others."""
    return estimator.score(X, y)


search = GridSearchCV(
    MultiTaskRecommender(epochs=epochs, random_state=0),
    param_grid,
    scoring={
        "score": multitask_score,
        "rmse": "neg_root_mean_squared_error",
        "ndcg@10": make_ranking_scorer("ndcg", k=10),
    },
    refit=False,  # we compare the candidates; none is refitted on all the data
    cv=PerUserKFold(n_folds, random_state=0),
)
with warnings.catch_warnings():
    # A few movies of a test fold are never rated in its training part: predict gives them
    # the user's mean rating and says how many there were.
    warnings.simplefilter("ignore", ColdStartWarning)
    search.fit(X, y)

# %%
# The results, best first by the default score:
import pandas as pd

results = pd.DataFrame(
    {
        "retrieval_weight": search.cv_results_["param_retrieval_weight"],
        "ranking_weight": search.cv_results_["param_ranking_weight"],
        "RMSE": -search.cv_results_["mean_test_rmse"],
        "NDCG@10": search.cv_results_["mean_test_ndcg@10"],
        "score": search.cv_results_["mean_test_score"],
        "fit s": search.cv_results_["mean_fit_time"],
    }
).sort_values("score", ascending=False)
print(results.to_string(index=False, float_format=lambda v: f"{v:.3f}"))

# %%
# The trade-off
# -------------
# Each point is one pair of weights, averaged over the folds: lower RMSE (left) is better
# rating prediction, higher NDCG@10 (up) better recommendations. The line follows the sweep
# from the rating-only model to the retrieval-only one; the ring marks the pair that the
# default score picks.
import matplotlib.pyplot as plt
import numpy as np

sweep = results.sort_values(["ranking_weight", "retrieval_weight"], ascending=[False, True])
colors = plt.cm.viridis(np.linspace(0, 0.9, len(sweep)))
fig, ax = plt.subplots(figsize=(7, 4.5))
ax.plot(sweep["RMSE"], sweep["NDCG@10"], color="0.8", zorder=1)
for (_, row), color in zip(sweep.iterrows(), colors):
    label = f"{row['retrieval_weight']:g} / {row['ranking_weight']:g}"
    ax.scatter(row["RMSE"], row["NDCG@10"], color=color, s=60, zorder=2, label=label)
best = results.iloc[0]
ax.scatter(best["RMSE"], best["NDCG@10"], s=350, facecolors="none", edgecolors="tab:red", label="best score")
ax.set_xlabel("RMSE (stars, lower is better)")
ax.set_ylabel("NDCG@10 (higher is better)")
ax.set_title("Loss weights on MovieLens 100k")
ax.legend(title="retrieval / ranking", loc="lower right", fontsize=8, title_fontsize=8)
fig.tight_layout()
plt.show()
