"""Diverse lists: trading a little accuracy for lists that are not all alike
===========================================================================

``recommend(..., diversity=d)`` re-ranks each user's ``10 * k`` best items by maximal marginal
relevance (Carbonell & Goldstein, 1998): the next item is the one with the best
``(1 - d) * relevance - d * redundancy``, where redundancy is its highest cosine with the items
already listed. ``d = 0`` gives the usual lists.

This example measures the trade-off on MovieLens 100k's fold u1 for a few values of ``d``:
NDCG@10 of the test ratings of 4 or 5 (accuracy), :func:`~skrec.metrics.intra_list_diversity`
(how unlike each other a list's items are, by the model's item vectors and by the films'
genres) and :func:`~skrec.metrics.novelty` (how unpopular, in bits).

MovieLens 100k is read from ``$SKREC_DATA`` (else ``~/skrec_data``) and downloaded there if it
is missing; the default fit takes about 20 s on two CPU cores.
"""

# %%
# Fit on u1.base
# --------------
import matplotlib.pyplot as plt
import pandas as pd

from skrec import MultiTaskRecommender
from skrec.datasets import fetch_movielens, fetch_movielens_fold
from skrec.metrics import coverage_at_k, intra_list_diversity, ndcg_at_k, novelty

train, test = fetch_movielens_fold("u1")
genres = fetch_movielens().movies.set_index("movie_id")["genres"].str.get_dummies("|")
params = {"random_state": 0}
# sphinx_gallery_start_ignore
# The docs build in CI sets SKREC_DOCS_QUICK=1: a short fit.
import os

if os.environ.get("SKREC_DOCS_QUICK", "") not in ("", "0"):
    params["epochs"] = 2
# sphinx_gallery_end_ignore
rec = MultiTaskRecommender(**params).fit(train[["user_id", "movie_id"]], train["rating"])

# %%
# The trade-off
# -------------
relevant = test[test["rating"] >= 4]
users = relevant["user_id"].unique()
rows = {}
for d in [0.0, 0.1, 0.2, 0.3, 0.5, 0.7]:
    lists = rec.recommend(users, k=10, diversity=d)
    rows[d] = {
        "NDCG@10": ndcg_at_k(relevant, lists, k=10),
        "diversity (vectors)": intra_list_diversity(lists, rec),
        "diversity (genres)": intra_list_diversity(lists, rec, features=genres),
        "novelty (bits)": novelty(lists, rec),
        "coverage@10": coverage_at_k(lists, n_items=len(rec.items_)),
    }
table = pd.DataFrame(rows).T.rename_axis("diversity")
print(table.round(3).to_string())

fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(table["diversity (genres)"], table["NDCG@10"], marker="o")
for d, row in table.iterrows():
    ax.annotate(f"d={d:g}", (row["diversity (genres)"], row["NDCG@10"]), textcoords="offset points", xytext=(4, 4))
ax.set_xlabel("intra-list diversity (genres)")
ax.set_ylabel("NDCG@10")
ax.set_title("Diversity against accuracy, MovieLens 100k u1")
fig.tight_layout()
