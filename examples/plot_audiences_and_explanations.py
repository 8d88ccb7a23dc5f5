"""Audiences, explanations and ratings for new users
===================================================

Three questions a fitted :class:`~skrec.MultiTaskRecommender` answers beside ``recommend``:

* **Why was this item recommended?** :meth:`~skrec.MultiTaskRecommender.explain` splits a
  (user, item) score into the parts of the model that make it: the items of the user's
  history, the user's own vector, the item's biases. The parts add up to the score exactly.
* **Who should get this item?** :meth:`~skrec.MultiTaskRecommender.recommend_users` ranks the
  users for an item by the same score that ranks the items of each user.
* **What would a new user rate it?** :meth:`~skrec.MultiTaskRecommender.predict` folds a new
  user in from a ``history`` of ratings, without refitting.

MovieLens 100k is read from ``$SKREC_DATA`` (else ``~/skrec_data``) and downloaded there if it
is missing; the default fit takes about 20 s on two CPU cores.
"""

# %%
# A model of MovieLens 100k
# -------------------------
import warnings

import matplotlib.pyplot as plt
import pandas as pd

from skrec import MultiTaskRecommender
from skrec.datasets import fetch_movielens

ml = fetch_movielens()
titles = ml.movies.set_index("movie_id")["title"]
params = {"random_state": 0}
# sphinx_gallery_start_ignore
# The docs build in CI sets SKREC_DOCS_QUICK=1: a short fit.
import os

if os.environ.get("SKREC_DOCS_QUICK", "") not in ("", "0"):
    params["epochs"] = 2
# sphinx_gallery_end_ignore
rec = MultiTaskRecommender(**params).fit(ml.ratings[["user_id", "movie_id"]], ml.ratings["rating"])

# %%
# Why was this film recommended?
# ------------------------------
# User 42's first recommendation, split into its parts: the five history items that add the
# most, the rest of the history, the user's own vector and the film's biases.
top = rec.recommend([42], k=1)
parts = rec.explain(top[["user_id", "movie_id"]], k=5)
parts["history_item"] = parts["history_item"].map(titles)
print(f"{titles[top['movie_id'].item()]}: score {top['score'].item():.3f}")
print(parts[["part", "history_item", "contribution"]].to_string(index=False))
print(f"sum of the parts: {parts['contribution'].sum():.3f}")

labels = parts["history_item"].fillna(parts["part"])
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.barh(labels[::-1], parts["contribution"][::-1])
ax.set_xlabel("contribution to the score")
ax.set_title(f"Why user 42 gets {titles[top['movie_id'].item()]}")
fig.tight_layout()

# %%
# Who should get this film?
# -------------------------
# The 50 users for whom *Star Wars* (movie 50) and *Sense and Sensibility* (movie 275) score
# highest, among those who have not rated them, described by the ``users`` frame.
audience = rec.recommend_users([50, 275], k=50)
described = audience.merge(ml.users, on="user_id")
summary = described.groupby("movie_id").agg(mean_age=("age", "mean"), share_female=("gender", lambda g: (g == "F").mean()))
summary.index = summary.index.map(titles)
print(summary.round(2))
print(f"all users: mean age {ml.users['age'].mean():.1f}, share female {(ml.users['gender'] == 'F').mean():.2f}")

# %%
# What would a new user rate these films?
# ---------------------------------------
# A new user (id 5001) who loved three *Star Wars* films and disliked *Sleepless in Seattle* is folded
# in from that history; the films' mean ratings are what ``predict`` falls back to without it.
history = pd.DataFrame({"user_id": 5001, "movie_id": [50, 172, 181, 88], "rating": [5, 5, 5, 1]})
asked = pd.DataFrame({"user_id": 5001, "movie_id": [174, 96, 168, 210]})
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the fallback's ColdStartWarning
    fallback = rec.predict(asked)
table = pd.DataFrame(
    {"film": asked["movie_id"].map(titles), "with the history": rec.predict(asked, history=history), "films' mean (no history)": fallback}
)
print(table.round(2).to_string(index=False))
