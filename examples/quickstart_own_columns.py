"""Quickstart: your own interaction frame, your own column names
==============================================================

skrec does not need MovieLens's columns. This example builds a small shop's purchase log, with
customers, products and star ratings under the shop's own names and string ids, and goes
through the whole estimator: split the log by time, fit, predict ratings, recommend products
with their catalogue details, score, and recommend for a customer the model has never seen.

The log is synthetic (:func:`skrec.datasets.make_interactions`: a latent-factor model of
ratings with popular products and active customers), so the example runs anywhere in a few
seconds, without downloading anything.
"""

# %%
# A purchase log with its own column names
# ----------------------------------------
# ``make_interactions`` can name the id columns; we also turn the integer ids into the kind
# of string ids a shop has, rename the rating to ``stars`` and the timestamp to a datetime
# ``bought_at``.
import numpy as np
import pandas as pd

from skrec.datasets import make_interactions

log = make_interactions(
    n_users=600, n_items=200, n_ratings=12_000, user_col="customer", item_col="sku", random_state=0
)
log["customer"] = "C" + log["customer"].astype(str).str.zfill(4)
log["sku"] = "SKU-" + log["sku"].astype(str).str.zfill(3)
log["bought_at"] = pd.to_datetime(log.pop("timestamp"), unit="s")
log = log.rename(columns={"rating": "stars"})
log.head()

# %%
# The catalogue, keyed by the same ``sku`` column, with the details a shop shows.
rng = np.random.default_rng(0)
skus = np.sort(log["sku"].unique())
catalogue = pd.DataFrame(
    {
        "sku": skus,
        "name": [f"Product {sku[-3:]}" for sku in skus],
        "category": rng.choice(["books", "garden", "kitchen", "toys"], size=len(skus)),
    }
)
catalogue.head()

# %%
# Split by time: each customer's last purchases are the test set
# ----------------------------------------------------------------
# :class:`~skrec.model_selection.LeaveLastNOut` holds out each customer's ``n`` most recent
# purchases. It reads the three columns by the names we give it.
from skrec.model_selection import LeaveLastNOut

split = LeaveLastNOut(n=3, time_col="bought_at", user_col="customer", item_col="sku")
train_rows, test_rows = next(split.split(log))
train, test = log.iloc[train_rows], log.iloc[test_rows]
print(f"{len(train):,} purchases to train on, {len(test):,} to test on")

# %%
# Fit
# ---
# ``user_col`` and ``item_col`` tell the estimator which columns hold the ids; other columns
# of ``X`` are ignored. The ``items`` frame is kept and its columns are added to the
# recommendations.
from skrec import MultiTaskRecommender

rec = MultiTaskRecommender(user_col="customer", item_col="sku", random_state=0)
rec.fit(train[["customer", "sku"]], train["stars"], items=catalogue)
print(f"{len(rec.users_)} customers, {len(rec.items_)} products, stars from {rec.rating_range_}")

# %%
# Predict ratings
# ---------------
# ``predict`` returns stars on the scale of ``y``. A product never bought in the training
# part gets the customer's mean rating, with a
# :class:`~skrec.exceptions.ColdStartWarning` saying how many pairs that was.
import warnings

from skrec.exceptions import ColdStartWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ColdStartWarning)
    predicted = rec.predict(test[["customer", "sku"]])
rmse = np.sqrt(np.mean((predicted - test["stars"]) ** 2))
baseline = np.sqrt(np.mean((train["stars"].mean() - test["stars"]) ** 2))
print(f"test RMSE {rmse:.3f} stars (predicting the mean rating: {baseline:.3f})")

# %%
# Recommend
# ---------
# One row per (customer, product), best first. Products the customer already bought are
# left out, and the catalogue's columns are appended.
print(rec.recommend(["C0001", "C0002"], k=5))

# %%
# Score
# -----
# ``score`` averages a ranking term (NDCG@10 of the recommendations, graded by the held-out
# stars) and a rating term (1 - RMSE / rating span); :mod:`skrec.metrics` has the separate
# metrics, which read the same column names.
from skrec.metrics import ndcg_at_k, recall_at_k

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ColdStartWarning)
    print(f"score: {rec.score(test[['customer', 'sku']], test['stars']):.3f}")
top10 = rec.recommend(test["customer"].unique(), k=10)
liked = test[test["stars"] >= 4]
names = {"user_col": "customer", "item_col": "sku"}
print(f"NDCG@10 {ndcg_at_k(liked, top10, k=10, **names):.3f}, recall@10 {recall_at_k(liked, top10, k=10, **names):.3f}")

# %%
# A customer the model has never seen
# -----------------------------------
# A new customer's purchases go in as ``history``: their vector is computed from it without
# refitting, and the products in the history are left out of the recommendations.
newcomer = pd.DataFrame({"customer": "C9999", "sku": ["SKU-001", "SKU-002", "SKU-010"], "stars": [5, 4, 5]})
print(rec.recommend(["C9999"], k=5, history=newcomer))
