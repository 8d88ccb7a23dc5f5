"""The pieces that make a training step's cost independent of the data size: each against its exact form.

* the SVD++ history of a batch (capped, sampled) against the full sum;
* the sampled softmax with log-Q correction against a hand computation;
* the row-sparse training step against Keras's dense step (exact for SGD and Adagrad, and for
  Adam when every row is in every batch);
* the batches: one shape, every rating once per epoch, users' rows in short runs;
* the catalogue softmax computed once per user of a batch against once per row.
"""

import numpy as np
import pytest
import scipy.sparse as sp

import skrec._interactions as interactions
import skrec._row_sparse as row_sparse
import skrec._scan_steps as scan_steps
import skrec._training as training
from skrec import MultiTaskRecommender
from skrec._interactions import RatingBatches, grouped_order, history_lists, run_lengths, slot_bound
from skrec._keras import keras
from skrec._model import MultiTaskModel
from skrec._row_sparse import _sorted_unique
from skrec.datasets import make_interactions

from test_estimator import FAST, make_ratings


def to_numpy(x):
    return np.asarray(x.value if hasattr(x, "value") else x)


# ------------------------------------------------------------------------------ SVD++ history
@pytest.fixture
def history():
    # user 0: items 1, 3, 4; user 1: nothing; user 2: items 0..9
    rows = [0, 0, 0] + [2] * 10
    cols = [1, 3, 4] + list(range(10))
    return sp.csr_matrix((np.ones(len(rows), dtype=bool), (rows, cols)), shape=(3, 10))


def test_history_lists_without_cap_are_the_svdpp_weights(history):
    items, rows, weights = history_lists(history, np.array([2, 0, 1]))
    assert rows.tolist() == [0] * 10 + [1] * 3
    assert items.tolist() == list(range(10)) + [1, 3, 4]
    np.testing.assert_allclose(weights, [10**-0.5] * 10 + [3**-0.5] * 3, rtol=1e-6)


def test_capped_history_is_an_unbiased_sample_without_repeats(history):
    rng = np.random.default_rng(0)
    table = np.random.default_rng(1).normal(size=(10, 4))
    exact = table.sum(axis=0) / np.sqrt(10)
    draws = []
    for _ in range(2000):
        items, rows, weights = history_lists(history, np.array([2, 0]), max_history=3, rng=rng)
        long = items[rows == 0]
        assert len(long) == 3 and len(set(long)) == 3  # a sample of 3, no item twice
        np.testing.assert_allclose(weights[rows == 0], np.sqrt(10) / 3, rtol=1e-6)
        assert items[rows == 1].tolist() == [1, 3, 4]  # short histories are kept whole
        draws.append((weights[rows == 0, None] * table[long]).sum(axis=0))
    # each item is kept with probability 3 / 10: the mean of the samples is the full sum
    np.testing.assert_allclose(np.mean(draws, axis=0), exact, atol=0.05)


def test_lists_past_the_cap_sum_to_the_cap_and_are_sampled_without_bias(history, monkeypatch):
    monkeypatch.setattr(interactions, "IMPLICIT_SUM_CAP", 4)  # user 2's 10 items are past it, user 0's 3 are not
    items, rows, weights = history_lists(history, np.array([2, 0]))
    np.testing.assert_allclose(weights, [np.sqrt(4) / 10] * 10 + [3**-0.5] * 3, rtol=1e-6)
    table = np.random.default_rng(1).normal(size=(10, 4))
    rng, draws = np.random.default_rng(0), []
    for _ in range(2000):
        items, rows, weights = history_lists(history, np.array([2]), max_history=3, rng=rng)
        np.testing.assert_allclose(weights, np.sqrt(4) / 3, rtol=1e-6)
        draws.append((weights[:, None] * table[items]).sum(axis=0))
    np.testing.assert_allclose(np.mean(draws, axis=0), table.sum(axis=0) * np.sqrt(4) / 10, atol=0.05)


def test_the_user_vector_is_the_table_row_plus_the_svdpp_term(history):
    model = MultiTaskModel(3, 10, embedding_dim=4, rating_head="dot", implicit_feedback=True, retrieval_negatives="catalogue", seed=0)
    model.build()
    items, rows, weights = history_lists(history, np.array([0, 2]))
    got = to_numpy(model.user_vectors({"user": np.array([0, 2]), "history_item": items, "history_row": rows, "history_weight": weights}))
    table, implicit = to_numpy(model.user_embedding.embeddings)[:, :4], to_numpy(model.implicit_embedding.embeddings)
    expected = table[[0, 2]] + np.stack([implicit[[1, 3, 4]].sum(0) / np.sqrt(3), implicit.sum(0) / np.sqrt(10)])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("rater_scale", [1.0, 0.25])
def test_the_rating_heads_item_vector_adds_the_raters_term_from_batch_lists_and_from_its_cache(history, rater_scale):
    model = MultiTaskModel(3, 10, embedding_dim=4, rating_head="dot", retrieval_negatives="catalogue", item_implicit_feedback=True, rater_scale=rater_scale, seed=0)
    model.build()
    users, items = np.array([0, 2, 2, 0]), np.array([4, 0, 4, 9])
    raters = history.T.tocsr()  # item 4: users 0 and 2; item 0: user 2; item 9: user 2
    slot_items, slots = np.unique(items, return_inverse=True)
    lists, rows, weights = history_lists(raters, slot_items)
    inputs = {"user": users, "item": items, "rater_user": lists, "rater_row": rows, "rater_weight": weights, "item_slot": slots}
    from_lists = to_numpy(model(inputs)["rating"])
    weighted = sp.diags(1 / np.sqrt(np.maximum(np.diff(raters.indptr), 1))) @ raters.astype(float)
    model.set_rater_terms(weighted)
    from_cache = to_numpy(model({"user": users, "item": items})["rating"])
    np.testing.assert_allclose(from_lists, from_cache, rtol=1e-5, atol=1e-6)
    # and both are mean + b_u + b_i + p_u . (q_i + |R(i)|^-1/2 sum of z_v over the raters v)
    user_rows, item_rows = to_numpy(model.user_embedding.embeddings), to_numpy(model.item_embedding.embeddings)
    z = rater_scale * to_numpy(model.rater_embedding.embeddings)  # the table's rows are its entries times the scale
    term = {4: (z[0] + z[2]) / np.sqrt(2), 0: z[2], 9: z[2]}
    expected = [
        float(to_numpy(model.global_mean)) + user_rows[u, 4] + item_rows[i, 4] + user_rows[u, :4] @ (item_rows[i, :4] + term[i])
        for u, i in zip(users, items)
    ]
    np.testing.assert_allclose(from_cache, expected, rtol=1e-5, atol=1e-6)


def test_a_slower_rater_table_starts_at_the_other_tables_scale():
    models = [MultiTaskModel(2000, 10, embedding_dim=8, rating_head="dot", item_implicit_feedback=True, rater_scale=scale, seed=0) for scale in (1.0, 0.1)]
    for model in models:
        model.build()
    rows = [model.rater_scale * to_numpy(model.rater_embedding.embeddings) for model in models]
    np.testing.assert_allclose(rows[1], rows[0], rtol=1e-5)  # the same draws, read at the same scale
    np.testing.assert_allclose(to_numpy(models[1].rater_embedding.embeddings).std(), 0.5, rtol=0.05)  # stored 10x larger


# ------------------------------------------------------------------------------ sampled softmax
def test_sampled_logits_are_log_q_corrected_with_own_items_once():
    model = MultiTaskModel(2, 6, embedding_dim=3, rating_head="dot", retrieval_negatives="sampled", seed=0)
    model.build()
    inputs = {
        "user": np.array([0, 1]),
        "item": np.array([2, 5]),
        "candidate": np.array([1, 2, 4, 1]),  # distinct items, padded with a repeat
        "candidate_probability": np.array([0.1, 0.3, 0.2, 0.0], dtype="float32"),  # 0 = padding
        "own_probability": np.array([0.3, 0.05], dtype="float32"),
        "positive": np.array([2, 0]),  # item 2 is candidate column 1 (+1); item 5 is not sampled
    }
    out = model(inputs, training=True)
    logits = to_numpy(out["retrieval_logits"])

    rows = to_numpy(model.item_embedding.embeddings)
    user_rows = to_numpy(model.user_embedding.embeddings)
    query = user_rows[[0, 1], :3] @ to_numpy(model.user_map.kernel)
    keys = rows[:, :3] @ to_numpy(model.item_map.kernel)
    score = query @ keys.T + rows[:, 4]  # [user vector | rating bias | retrieval bias]
    expected_candidates = score[:, [1, 2, 4]] - np.log([0.1, 0.3, 0.2])
    np.testing.assert_allclose(logits[:, 1:4], expected_candidates, rtol=1e-4, atol=1e-5)
    assert (logits[:, 4] < -1e8).all()  # padding removed
    assert logits[0, 0] < -1e8  # row 0's item is a candidate: its own column is removed
    np.testing.assert_allclose(logits[1, 0], score[1, 5] - np.log(0.05), rtol=1e-4)
    # the loss is the cross-entropy of each row's positive column
    loss = to_numpy(model._retrieval_loss(out, np.ones(2, "float32")))
    finite = np.where(logits < -1e8, -np.inf, logits)
    per_row = np.log(np.exp(finite).sum(1)) - finite[[0, 1], [2, 0]]
    np.testing.assert_allclose(loss, per_row.mean(), rtol=1e-4)


def test_sampled_candidates_follow_the_mixture_and_list_own_items():
    popularity = np.array([0.5, 0.3, 0.1, 0.1])
    batches = RatingBatches(np.arange(8), np.array([0, 0, 1, 0, 2, 1, 0, 3]), np.zeros(8, "float32"), 8, 0, negatives=(4, popularity, np.arange(len(popularity))))
    inputs = batches[0][0]
    candidates, probability = inputs["candidate"], inputs["candidate_probability"]
    real = probability > 0
    assert len(set(candidates[real])) == real.sum()  # each candidate once
    np.testing.assert_allclose(probability[real], (2 * popularity[candidates[real]] + 2 / 4) / 4, rtol=1e-6)
    for item, positive in zip(inputs["item"], inputs["positive"]):
        assert positive == 0 or candidates[positive - 1] == item


# ------------------------------------------------------------------------------ row-sparse step
def fit_both_ways(monkeypatch, **params):
    """The same fit with the row-sparse step and with Keras's dense step."""
    ratings = make_ratings(n_users=12, n_items=30, per_user=6)
    sparse = MultiTaskRecommender(**{**FAST, **params}).fit(ratings, ratings["rating"])
    with monkeypatch.context() as patch:
        patch.setattr(training, "plan_row_sparse", lambda model, optimizer: None)
        dense = MultiTaskRecommender(**{**FAST, **params}).fit(ratings, ratings["rating"])
    return sparse.model_, dense.model_


@pytest.mark.parametrize("negatives", ["catalogue", "sampled"])
@pytest.mark.parametrize("optimizer", ["sgd", "adagrad"])
def test_row_sparse_step_equals_the_dense_step_for_sgd_and_adagrad(monkeypatch, optimizer, negatives):
    sparse, dense = fit_both_ways(
        monkeypatch, optimizer=optimizer, learning_rate=0.05, retrieval_negatives=negatives, n_negatives=8, batch_size=16, epochs=2
    )
    assert {**sparse.get_config(), "name": ""} == {**dense.get_config(), "name": ""}
    for a, b in zip(sparse.weights, dense.weights):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=1e-6, err_msg=a.path)


def test_row_sparse_adam_is_lazy_adam(monkeypatch):
    # With every user and item in every batch, lazy Adam is Adam.
    sparse, dense = fit_both_ways(monkeypatch, optimizer="adam", batch_size=1024, epochs=3, retrieval_negatives="catalogue")
    for a, b in zip(sparse.weights, dense.weights):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=1e-6, err_msg=a.path)
    # With small batches, rows absent from a batch keep still, unlike dense Adam.
    sparse, dense = fit_both_ways(monkeypatch, optimizer="adam", batch_size=16, epochs=1)
    assert not np.allclose(to_numpy(sparse.user_embedding.embeddings), to_numpy(dense.user_embedding.embeddings), atol=1e-6)


def test_unsupported_optimizer_options_fall_back_to_the_dense_step(monkeypatch):
    planned = []
    original = training.plan_row_sparse
    monkeypatch.setattr(training, "plan_row_sparse", lambda m, o: planned.append(original(m, o)) or planned[-1])
    ratings = make_ratings(n_users=6, per_user=4)
    MultiTaskRecommender(**FAST, optimizer="rmsprop").fit(ratings, ratings["rating"])
    MultiTaskRecommender(**FAST, optimizer_params={"clipnorm": 1.0}).fit(ratings, ratings["rating"])
    MultiTaskRecommender(**FAST).fit(ratings, ratings["rating"])
    assert planned[0] is None and planned[1] is None and planned[2] is not None


def test_rows_padded_to_the_measured_distinct_ids_train_the_same_model(monkeypatch):
    # Padding rows are dropped, so the measured lengths (and batches that overflow them, padded
    # as before) give the same weights as padding every batch to all the ids it names.
    ratings = make_interactions(1500, 600, 8000, random_state=0)
    params = {**FAST, "batch_size": 256, "epochs": 1, "retrieval_negatives": "sampled", "n_negatives": 32}

    def fit():
        return MultiTaskRecommender(**params).fit(ratings[["user_id", "movie_id"]], ratings["rating"]).model_

    plans = []
    measure = row_sparse.RowSparsePlan.measure
    with monkeypatch.context() as patch:
        patch.setattr(row_sparse.RowSparsePlan, "measure", lambda self, batches: (measure(self, batches), plans.append((self, batches[0][0]))))
        measured = fit()
    plan, inputs = plans[0]
    full = {space: min(sum(np.size(inputs[k]) for k in plan.keys[space] if k in inputs), plan.sizes[space]) for space in plan.sizes}
    assert plan.lengths["rater"] < full["rater"] and plan.lengths["history"] < full["history"]
    with monkeypatch.context() as patch:
        patch.setattr(row_sparse.RowSparsePlan, "measure", lambda self, batches: None)
        padded = fit()
    with monkeypatch.context() as patch:  # most batches overflow the rater rows' length
        patch.setattr(row_sparse.RowSparsePlan, "measure", lambda self, batches: (measure(self, batches), self.lengths.update(rater=self.lengths["rater"] // 2)))
        overflowing = fit()
    for a, b, c in zip(measured.weights, padded.weights, overflowing.weights):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=1e-6, err_msg=a.path)
        np.testing.assert_allclose(to_numpy(c), to_numpy(b), atol=1e-6, err_msg=a.path)


def test_steps_scanned_in_one_dispatch_train_the_same_model(monkeypatch):
    # Executions of 6 steps run as one lax.scan; the epoch's last steps (not a full execution)
    # and executions mixing two batch shapes (rater rows overflowing their measured length) run
    # one jitted step each. All give the weights of Keras's own loop of one step per call.
    ratings = make_interactions(1500, 600, 8000, random_state=0)
    params = {**FAST, "batch_size": 256, "epochs": 2, "retrieval_negatives": "sampled", "n_negatives": 32}
    scans = []
    scan = scan_steps._scan
    monkeypatch.setattr(scan_steps, "_scan", lambda *args: (scans.append(1), scan(*args))[1])

    n_batches = []

    def fit(per_execution, overflow=False):
        with monkeypatch.context() as patch:
            patch.setattr(training, "steps_per_execution", lambda n: (n_batches.append(n), per_execution)[1])
            if overflow:
                measure = row_sparse.RowSparsePlan.measure
                patch.setattr(row_sparse.RowSparsePlan, "measure", lambda self, batches: (measure(self, batches), self.lengths.update(rater=self.lengths["rater"] // 2)))
            return MultiTaskRecommender(**params).fit(ratings[["user_id", "movie_id"]], ratings["rating"])

    stepwise = fit(1)
    assert not scans
    scanned, overflowing = fit(6), fit(6, overflow=True)
    assert scans and n_batches[0] % 6  # the scan was compiled; some steps ran one by one
    for a, b, c in zip(stepwise.model_.weights, scanned.model_.weights, overflowing.model_.weights):
        np.testing.assert_allclose(to_numpy(b), to_numpy(a), atol=1e-6, err_msg=a.path)
        np.testing.assert_allclose(to_numpy(c), to_numpy(a), atol=1e-6, err_msg=a.path)
    np.testing.assert_allclose(scanned.history_["loss"], stepwise.history_["loss"], rtol=1e-6)


@pytest.mark.parametrize("n_rows", [50, 5000])  # a mask over the table, and a hash of the ids
def test_distinct_ids_and_positions_are_numpys_unique(n_rows):
    ids = np.random.default_rng(0).integers(0, n_rows, 300)
    rows, inverse = _sorted_unique(ids, n_rows)
    expected_rows, expected_inverse = np.unique(ids, return_inverse=True)
    np.testing.assert_array_equal(rows, expected_rows)
    np.testing.assert_array_equal(inverse, expected_inverse)


# ------------------------------------------------------------------------------ batches
def test_grouped_order_is_a_permutation_with_short_runs_per_user():
    users = np.repeat(np.arange(5), [1, 3, 9, 17, 2])
    order = grouped_order(users, 4, np.random.default_rng(0))
    assert sorted(order) == list(range(len(users)))
    runs = np.split(users[order], np.flatnonzero(np.diff(users[order])) + 1)
    per_user = {u: [len(r) for r in runs if r[0] == u] for u in range(5)}
    # 17 rows make 5 runs of 3 or 4, 9 rows 3 runs of 3; two runs of one user may touch by chance
    assert 2 <= len(per_user[3]) <= 5 and max(per_user[3]) <= 8
    assert 2 <= len(per_user[2]) <= 3 and sum(per_user[2]) == 9
    assert per_user[0] == [1] and len(per_user[1]) == 1


def test_batches_with_history_have_one_shape_and_cover_every_rating():
    ratings = make_ratings()
    users = ratings["user_id"].factorize()[0]
    items = ratings["movie_id"].factorize()[0]
    seen = sp.csr_matrix((np.ones(len(users), dtype=bool), (users, items)))
    batches = RatingBatches(users, items, np.zeros(len(users), "float32"), 64, 0, history=seen, max_history=4, group_size=4)
    shapes, covered = set(), []
    for j in range(len(batches)):
        x, _, _ = batches[j]
        shapes.add(tuple((k, v.shape) for k, v in sorted(x.items())))
        covered.append(np.arange(len(users))[batches._order[j * 64 : (j + 1) * 64]])
        slots = np.unique(x["user"])
        assert (slots[x["user_slot"]] == x["user"]).all()
        kept = x["history_weight"] > 0
        # every history entry belongs to its slot user's history
        assert seen[slots[x["history_row"][kept]], x["history_item"][kept]].all()
    assert len(shapes) == 1
    assert sorted(np.concatenate(covered)) == list(range(len(users)))


@pytest.mark.parametrize("n_raters, expected_cap", [(3, 3), (50, 4)])
def test_rater_lists_fit_half_the_cap_per_row_and_lower_every_cap_when_they_would_not(n_raters, expected_cap):
    # 16 items, each rated by the same n_raters users; one batch of the 16 items' rows, max_raters 8:
    # the budget is 16 rows * 8 / 2 = 64 entries, so 16 lists of 50 raters are cut to 4 each.
    users = np.tile(np.arange(n_raters), 16)
    items = np.repeat(np.arange(16), n_raters)
    raters = sp.csr_matrix((np.ones(len(users), dtype=bool), (items, users)))
    rows = np.arange(16) * n_raters  # one rating of each item
    batches = RatingBatches(users[rows], items[rows], np.zeros(16, "float32"), 16, 0, raters=raters, max_raters=8)
    x, _, _ = batches[0]
    # 16 lists of 3 raters need 48 entries: no batch needs the 64 of the budget
    assert x["rater_user"].shape == (min(64, 16 * min(n_raters, 8)),)
    kept = x["rater_weight"] > 0
    per_item = np.bincount(x["rater_row"][kept], minlength=16)
    assert (per_item == expected_cap).all()
    # each list is a sample without repeats, rescaled so its expected sum is the full |R(i)|^-1/2 sum
    expected = n_raters / expected_cap / np.sqrt(n_raters)  # |R(i)|^-1/2, times n / cap when sampled
    np.testing.assert_allclose(x["rater_weight"][kept], expected, rtol=1e-6)
    for item in range(16):  # a sample without repeats of the item's own raters
        listed = x["rater_user"][kept][x["rater_row"][kept] == item]
        assert len(set(listed)) == expected_cap and set(listed) <= set(range(n_raters))


def test_rater_lists_padded_to_what_a_batch_can_hold_are_the_same_lists():
    # 30 items with 1..30 raters, batches of 64 rows: every batch holds at most the 30 items, so
    # their lists (cap 16) need at most sum(min(n, 16)) entries, not 64 * 8.
    rng = np.random.default_rng(0)
    items = np.repeat(np.arange(30), np.arange(1, 31))
    users = np.concatenate([rng.choice(50, n, replace=False) for n in range(1, 31)])
    raters = sp.csr_matrix((np.ones(len(users), dtype=bool), (items, users)))
    make = lambda: RatingBatches(users, items, np.zeros(len(users), "float32"), 64, 0, raters=raters, max_raters=16)  # noqa: E731
    bounded, unbounded = make(), make()
    unbounded._rater_bound = 10**9
    bound = int(np.minimum(np.arange(1, 31), 16).sum())  # 224
    for index in range(len(bounded)):
        (x, _, _), (y, _, _) = bounded[index], unbounded[index]
        assert x["rater_user"].shape == (bound,) and y["rater_user"].shape == (64 * 8,)
        for key in ("rater_user", "rater_row", "rater_weight"):
            np.testing.assert_array_equal(x[key][x["rater_weight"] > 0], y[key][y["rater_weight"] > 0])


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("side", ["rater", "history"])
def test_lists_padded_to_their_likely_entries_are_the_same_lists_on_power_law_data(side, seed):
    # Power-law popularity over 3,000 items and skewed activity over 2,000 users: a batch of 512
    # rows (runs of up to 8 of one user's rows) names about 400 distinct items and 150 users, whose
    # capped lists need far fewer entries than the worst case a batch could hold.
    ratings = make_interactions(2000, 3000, 40_000, random_state=seed)
    users, items = ratings["user_id"].to_numpy() - 1, ratings["movie_id"].to_numpy() - 1
    if side == "rater":
        lists = {"raters": sp.csr_matrix((np.ones(len(users), dtype=bool), (items, users))), "max_raters": 64}
    else:
        lists = {"history": sp.csr_matrix((np.ones(len(users), dtype=bool), (users, items))), "max_history": 64}
    make = lambda: RatingBatches(users, items, np.zeros(len(users), "float32"), 512, seed, group_size=8, **lists)  # noqa: E731
    bounded, unbounded = make(), make()
    setattr(unbounded, f"_{side}_bound", 10**9)
    budget = lambda batches: getattr(batches, f"{side}_budget")(512)  # noqa: E731
    assert budget(bounded) < 0.75 * budget(unbounded)
    key = "rater_user" if side == "rater" else "history_item"
    for index in range(len(bounded)):
        (x, _, _), (y, _, _) = bounded[index], unbounded[index]
        for name in (key, f"{side}_row", f"{side}_weight"):
            np.testing.assert_array_equal(x[name][x[f"{side}_weight"] > 0], y[name][y[f"{side}_weight"] > 0])


# ------------------------------------------------------------------------------ softmax per user
@pytest.mark.parametrize("seed", range(4))
def test_no_batch_holds_more_users_than_the_slot_bound(seed):
    rng = np.random.default_rng(seed)
    # many users with one or two rows (the bound's worst case) beside long histories
    counts = np.concatenate([rng.integers(1, 3, 40), rng.integers(5, 60, 20)])
    users = np.repeat(rng.permutation(len(counts)), counts)
    assert sorted(run_lengths(users, 8)) == sorted(len(r) for r in _runs(users, 8))
    bound = slot_bound(users, 8, 50)
    assert bound < 50
    seen = sp.csr_matrix((np.ones(len(users), dtype=bool), (users, np.arange(len(users)) % 7)))
    batches = RatingBatches(users, np.zeros_like(users), np.zeros(len(users), "float32"), 50, seed, history=seen, group_size=8, slot_rows=True)
    for _ in range(5):
        for j in range(len(batches)):
            x, _, _ = batches[j]
            assert len(np.unique(x["user"])) <= bound and x["slot_row"].shape == (bound,)
            # each slot's row is a row of that slot's user
            assert (x["user_slot"][x["slot_row"][: x["user_slot"].max() + 1]] == np.arange(x["user_slot"].max() + 1)).all()
        batches.on_epoch_end()


def _runs(users, group_size):
    """The runs of ``grouped_order``, from its order: each user's rows cut where the user changes."""
    order = users[grouped_order(users, group_size, np.random.default_rng(0))]
    return [r for r in np.split(order, np.flatnonzero(np.diff(order)) + 1) for r in np.array_split(r, -(-len(r) // group_size))]


@pytest.mark.parametrize("negatives", ["catalogue", "sampled"])
def test_softmax_per_user_is_the_softmax_per_row(negatives):
    ratings = make_ratings()
    users = ratings["user_id"].factorize()[0]
    items = ratings["movie_id"].factorize()[0]
    n_items = items.max() + 1
    seen = sp.csr_matrix((np.ones(len(users), dtype=bool), (users, items)))
    model = MultiTaskModel(users.max() + 1, n_items, embedding_dim=8, rating_head="dot", implicit_feedback=True, retrieval_negatives=negatives, seed=0)
    model.build()
    # 16 sampled negatives of 30 items: some rows' items are candidates (accidental hits), some not
    sampled = (16, np.bincount(items, minlength=n_items) / len(items), np.arange(n_items)) if negatives == "sampled" else None
    batches = RatingBatches(users, items, np.zeros(len(users), "float32"), 64, 0, history=seen, group_size=8, slot_rows=True, negatives=sampled)
    x, y, w = batches[0]
    if sampled:
        assert 0 < (x["positive"] > 0).sum() < 64
    assert x["slot_row"].shape[0] < 64  # fewer softmax rows than ratings
    per_slot = model.compute_loss(x, y, model(x, training=True), w)
    per_row = {k: v for k, v in x.items() if k != "slot_row"}
    np.testing.assert_allclose(to_numpy(per_slot), to_numpy(model.compute_loss(per_row, y, model(per_row, training=True), w)), rtol=1e-6)


# ------------------------------------------------------------------------------ stability
def test_defaults_stay_stable_where_users_are_light_and_some_lists_are_long():
    # 8 ratings per user, items of up to 8,225 raters and users of up to 4,139 ratings: the
    # defaults without the rater table's slower rate and the cap on long lists diverged here
    # (held-out RMSE 1.20, against 0.99 for the training mean).
    ratings = make_interactions(20000, 6000, 200000, noise=0.5, random_state=0)
    held = np.random.default_rng(0).random(len(ratings)) < 0.2
    train, test = ratings[~held], ratings[held]
    est = MultiTaskRecommender(random_state=0).fit(train.drop(columns="rating"), train["rating"])
    assert est.recipe_.rater_scale == pytest.approx(len(train) / train["user_id"].nunique() / 32)
    rmse = np.sqrt(np.mean((est.predict(test.drop(columns="rating")) - test["rating"].to_numpy()) ** 2))
    mean_rmse = np.sqrt(np.mean((train["rating"].mean() - test["rating"].to_numpy()) ** 2))
    assert rmse < 0.88 and rmse < mean_rmse - 0.1  # 0.829 against 0.989

