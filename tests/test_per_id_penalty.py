"""``l2_form="per_id"``: the L2 penalty charged once per user and per item, as a Gaussian prior.

Pinned by what it promises: summed over an epoch's rows every id is charged the same whatever
its number of interactions (its implicit-table rows too), the row-sparse step computes it as the
dense one does, the fold-in solves the same user's problem, and the form is kept by a warm start
and a saved file.
"""

import pickle

import numpy as np
import pandas as pd
import pytest

import skrec
from skrec import MultiTaskRecommender
from skrec._interactions import build_training_set
from skrec._model import MultiTaskModel

from test_estimator import FAST, make_ratings
from test_scale import fit_both_ways, to_numpy

PER_ID = {"l2_form": "per_id", "item_implicit_feedback": True, "l2": 0.1}


def skewed_set(weights=None):
    """A training set whose users and items have 1 to 6 rows, with a rating on each row."""
    users = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 3, 3])
    items = np.array([0, 1, 2, 3, 4, 5, 0, 1, 0, 0, 2, 4])
    ratings = np.linspace(1.0, 5.0, len(users))
    weights = np.ones(len(users)) if weights is None else weights
    return build_training_set(pd.Series(users), pd.Series(items), ratings, weights)


@pytest.mark.parametrize("weights", [None, np.array([1, 2, 1, 1, 1, 1, 0.5, 1, 3, 1, 1, 0])])
def test_every_id_gets_the_same_share_summed_over_its_rows(weights):
    data = skewed_set(weights)
    user_share, item_share = data.penalty_shares()
    w = data.weights[data.train]
    per_user = np.bincount(data.users[data.train], w * user_share[data.users[data.train]])
    per_item = np.bincount(data.items[data.train], w * item_share[data.items[data.train]])
    counts = [np.bincount(data.users[data.train], w), np.bincount(data.items[data.train], w)]
    # n: weighted rows per id of the side with fewer ids (4 users, 6 items).
    n = w.sum() / min(np.count_nonzero(c) for c in counts)
    np.testing.assert_allclose(per_user[counts[0] > 0], n, rtol=1e-6)
    np.testing.assert_allclose(per_item[counts[1] > 0], n, rtol=1e-6)
    assert item_share[counts[1] == 0].sum() == 0  # an item whose rows all weigh 0 gets nothing


def test_the_penalty_of_an_epoch_charges_each_id_once():
    # One batch of every row, full histories: l2 * n / W * sum over ids of their squared norms.
    data = skewed_set()
    models = [MultiTaskModel(4, 6, embedding_dim=3, rating_head="dot", retrieval_negatives="catalogue", implicit_feedback=True, item_implicit_feedback=True, l2=l2, l2_form="per_id", seed=0) for l2 in (0.0, 0.5)]
    batch = data.batches(len(data.train), 0, history=True, max_history=100, max_raters=100, shares=True)
    x, y, w = batch[0]
    loss = []
    for model in models:
        model.build()
        loss.append(float(np.asarray(model.compute_loss(x, y, model(x, training=True), w))))
    model = models[1]
    out = model(x, training=True)
    users, rows = np.unique(x["user"], return_index=True)
    user_vectors = np.asarray(out["user_vector"])[rows]
    tables = {name: to_numpy(getattr(model, name).embeddings) for name in ("user_embedding", "item_embedding", "implicit_embedding", "rater_embedding")}
    squared = lambda a: float((a**2).sum())  # noqa: E731
    user_part = squared(user_vectors) + squared(tables["user_embedding"][users, 3]) + squared(tables["rater_embedding"][users])
    item_part = squared(tables["item_embedding"][:, :4]) + squared(tables["implicit_embedding"])
    n = len(data.train) / 4
    assert loss[1] - loss[0] == pytest.approx(0.5 * n / len(data.train) * (user_part + item_part), rel=1e-4)


def test_the_row_sparse_step_computes_the_per_id_penalty_as_the_dense_step(monkeypatch):
    sparse, dense = fit_both_ways(monkeypatch, optimizer="sgd", learning_rate=0.05, retrieval_negatives="sampled", n_negatives=8, batch_size=16, epochs=2, **PER_ID)
    for a, b in zip(sparse.weights, dense.weights):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=1e-6, err_msg=a.path)


@pytest.fixture(scope="module")
def ratings():
    return make_ratings()


@pytest.fixture(scope="module")
def fitted(ratings):
    # Shared by read-only tests: never refit or mutate it.
    return MultiTaskRecommender(**FAST, **PER_ID).fit(ratings, ratings["rating"])


def test_the_fold_in_charges_each_user_the_training_count(fitted, ratings):
    # sum_i (r - mean - b_i - b - v . x_i)^2 + lam * count * (|v - prior|^2 + b^2), x_i = q_i +
    # term_i: the user's own number of ratings no longer scales the penalty.
    from skrec._fold_in import fold_in
    from skrec._serving import ridge_count

    model, own = fitted.model_, ratings[ratings["user_id"] == 100]
    count = ridge_count(model, fitted._interactions_)
    assert count == pytest.approx(len(ratings) / 30)  # rated rows over the fewer ids: 30 items, 40 users
    items = fitted.items_.get_indexer(own["movie_id"])
    low, high = fitted._interactions_.rating_range
    scaled, lam = (own["rating"].to_numpy() - low) / (high - low), 0.3
    v = fold_in(model, 1, np.zeros(len(items), int), items, scaled, lam, count=count)[0].astype(float)
    table = to_numpy(model.item_embedding.embeddings)
    x = table[items, :8] + to_numpy(model.rater_term)[items]
    target = scaled - float(to_numpy(model.global_mean)) - model.rating_bias_scale * table[items, 8]
    prior = to_numpy(model.implicit_embedding.embeddings)[items].sum(axis=0) / np.sqrt(len(items))
    b = (target - x @ v).sum() / (len(items) + lam * count)
    gradient = -(target - x @ v - b) @ x + lam * count * (v - prior)
    np.testing.assert_allclose(gradient, 0.0, atol=1e-4)


def test_recommend_folds_in_with_the_training_count(fitted, ratings, monkeypatch):
    import skrec._requests

    counts, original = [], skrec._requests.fold_in
    monkeypatch.setattr(skrec._requests, "fold_in", lambda *args, **kwargs: counts.append(args[-1]) or original(*args, **kwargs))
    fitted.recommend([-1], k=3, history=ratings[ratings["user_id"] == 100].assign(user_id=-1))
    assert counts == [pytest.approx(len(ratings) / 30)]


def test_the_form_is_kept_by_warm_starts_and_saved_files(fitted, ratings, tmp_path):
    warm = pickle.loads(pickle.dumps(fitted)).set_params(warm_start=True, l2_form="per_interaction")
    with pytest.raises(ValueError, match=r"\['l2_form'\]"):
        warm.fit(ratings, ratings["rating"])
    path = tmp_path / "model.skrec"
    fitted.save(path)
    loaded = skrec.load(path)
    assert loaded.model_.l2_form == "per_id" and loaded.get_params()["l2_form"] == "per_id"
    np.testing.assert_allclose(loaded.predict(ratings), fitted.predict(ratings), rtol=1e-6)
    history = ratings[ratings["user_id"] == 100].assign(user_id=-1)
    pd.testing.assert_frame_equal(loaded.recommend([-1], k=3, history=history), fitted.recommend([-1], k=3, history=history))


def test_the_same_seed_gives_the_same_per_id_model(fitted, ratings):
    again = MultiTaskRecommender(**FAST, **PER_ID).fit(ratings, ratings["rating"])
    np.testing.assert_array_equal(again.predict(ratings), fitted.predict(ratings))


def test_a_bad_form_is_named(ratings):
    with pytest.raises(ValueError, match="l2_form"):
        MultiTaskRecommender(**FAST, l2_form="per_user").fit(ratings, ratings["rating"])


def test_a_file_written_before_the_form_existed_loads_per_interaction(ratings, tmp_path):
    from test_persistence import rewrite

    # A file of that time holds a per-interaction model.
    est = MultiTaskRecommender(**{**FAST, "epochs": 1, "l2_form": "per_interaction"}).fit(ratings, ratings["rating"])
    est.save(tmp_path / "new.skrec")
    rewrite(tmp_path / "new.skrec", tmp_path / "old.skrec", lambda m: (m["params"].pop("l2_form"), m["model"].pop("l2_form")))
    loaded = skrec.load(tmp_path / "old.skrec")
    assert loaded.l2_form == "per_interaction" and loaded.model_.l2_form == "per_interaction"
    history = ratings[ratings["user_id"] == 100].assign(user_id=-1)
    pd.testing.assert_frame_equal(loaded.recommend([-1], k=3, history=history), est.recommend([-1], k=3, history=history))
