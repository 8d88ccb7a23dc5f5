"""Where a default fit's time goes on MovieLens 100k: its phases, and what each part of the training step costs.

Part of the fit-speed work (issue 31): the table that says where the next change should aim.

* **Phases** of one ``MultiTaskRecommender(random_state=0)`` fit on fold u1's training file:
  input validation, side features and the training set; the recipe; the model's build; the
  EASE item-item solve; the first epoch (which compiles the training step); the other epochs;
  the end of training (rater terms, item-item weights, a fresh optimizer). Each phase is timed
  by wrapping the function of :mod:`skrec._fitting` / :mod:`skrec._training` that runs it.
* **The step's parts**: seconds per epoch (the mean of the epochs after the first, so without
  compilation) of the defaults and of the defaults with one part changed at a time.
* **The step's operations**: the XLA operations of the compiled training step that take the
  most time, from a JAX profiler trace of a two-epoch default fit (``jax.profiler.trace``; the
  names are those of the optimized HLO modules ``jit__scan`` (an execution's steps, see
  ``skrec/_scan_steps.py``) and ``jit_train_step`` (one step), which
  ``XLA_FLAGS=--xla_dump_to=DIR --xla_dump_hlo_as_text`` writes out with their shapes).

    SKREC_DATA=/path/to/data python benchmarks/bench_fit_breakdown.py [--epochs 24] [--ablate-epochs 3]

Prints both tables and writes them to ``benchmarks/results/fit_breakdown*.csv`` and ``.json``.
Wall seconds on the machine it runs on: compare rows of one run only.
"""

import argparse
import functools
import time
import warnings

import numpy as np
import pandas as pd
from _results import report

#: One part of the default model changed at a time: what its training step costs without it.
VARIANTS = {
    "defaults": {},
    "no item-side term (item_implicit_feedback=False)": {"item_implicit_feedback": False},
    "no SVD++ term (implicit_feedback=False)": {"implicit_feedback": False},
    "neither implicit term": {"implicit_feedback": False, "item_implicit_feedback": False},
    "samples of 16 (max_history=16, max_raters=16)": {"max_history": 16, "max_raters": 16},
    "sampled softmax, 512 negatives (not the catalogue's 1,682)": {"retrieval_negatives": "sampled"},
    "per-interaction penalty (no per-id shares)": {"l2_form": "per_interaction"},
    "batch_size=4096": {"batch_size": 4096},
}


#: The compiled modules that run training steps: a scan of an execution's steps, and one step.
STEP_MODULES = ("jit__scan", "jit_train_step")


class _Clock:
    """Seconds spent in each wrapped function, and the end time of each epoch."""

    def __init__(self):
        self.phases, self.epoch_ends, self.train_start = {}, [], None

    def wrap(self, module, name, label):
        function = getattr(module, name)

        @functools.wraps(function)
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.phases[label] = self.phases.get(label, 0.0) + time.perf_counter() - start

        setattr(module, name, timed)
        return function


def _epoch_callback(clock):
    """A Keras callback that records when training starts and each epoch ends."""
    from skrec._keras import keras

    class EpochClock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            clock.train_start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            clock.epoch_ends.append(time.perf_counter())

    return EpochClock()


def timed_fit(X, y, params):
    """Fit ``MultiTaskRecommender(**params)`` with its phases timed; return the :class:`_Clock`."""
    from skrec import MultiTaskRecommender, _fitting, _training

    clock = _Clock()
    originals = [
        (_fitting, "recipe_for", clock.wrap(_fitting, "recipe_for", "recipe")),
        (_fitting, "build_model", clock.wrap(_fitting, "build_model", "model build")),
        (_fitting, "train_model", clock.wrap(_fitting, "train_model", "training, all of it")),
        (_training, "ease_weights", clock.wrap(_training, "ease_weights", "EASE solve")),
    ]
    callbacks = _training._callbacks
    _training._callbacks = lambda *args: [*callbacks(*args), _epoch_callback(clock)]
    try:
        start = time.perf_counter()
        MultiTaskRecommender(random_state=0, **params).fit(X, y)
        clock.phases["fit, all of it"] = time.perf_counter() - start
    finally:
        _training._callbacks = callbacks
        for module, name, function in originals:
            setattr(module, name, function)
    return clock


def phase_table(clock):
    """The phases of one fit, in seconds and as a share of the fit."""
    p, ends = clock.phases, clock.epoch_ends
    first_epoch = ends[0] - clock.train_start
    later = np.diff(ends)
    training = p["training, all of it"]
    steady = float(np.mean(later)) if len(later) else first_epoch
    rows = {
        "validation, side frames, training set": p["fit, all of it"] - training - p["recipe"] - p["model build"],
        "recipe": p["recipe"],
        "model build": p["model build"],
        "EASE solve": p.get("EASE solve", 0.0),
        "first epoch's excess over a later one (compilation)": first_epoch - steady,
        f"epochs at {steady:.2f} s each ({len(ends)})": steady * len(ends),
        "rest of training (compile call, batches, end of training)": training - p.get("EASE solve", 0.0) - first_epoch - later.sum(),
    }
    table = pd.DataFrame({"seconds": rows})
    table.loc["fit, all of it"] = p["fit, all of it"]
    table["share"] = table["seconds"] / p["fit, all of it"]
    return table


def variant_table(X, y, epochs):
    """Seconds per epoch (after the first) of each of :data:`VARIANTS`."""
    rows = {}
    for name, params in VARIANTS.items():
        clock = timed_fit(X, y, {**params, "epochs": epochs})
        rows[name] = float(np.mean(np.diff(clock.epoch_ends)))
    table = pd.DataFrame({"s / epoch": rows})
    table["vs defaults"] = table["s / epoch"] / table.loc["defaults", "s / epoch"]
    return table


def top_operations(X, y, n=12):
    """Milliseconds per step of the training step's costliest XLA operations, from a profiler trace."""
    import gzip
    import json
    import pathlib
    import tempfile

    import jax

    from skrec import MultiTaskRecommender

    with tempfile.TemporaryDirectory() as folder:
        with jax.profiler.trace(folder, create_perfetto_trace=True):
            MultiTaskRecommender(random_state=0, epochs=2).fit(X, y)
        path = next(pathlib.Path(folder).rglob("*.trace.json.gz"))
        events = json.loads(gzip.open(path).read())["traceEvents"]
    ops = pd.DataFrame([(e["args"]["hlo_op"], e["dur"]) for e in events if e.get("args", {}).get("hlo_module") in STEP_MODULES], columns=["operation", "us"])
    steps = ops["operation"].value_counts().max()
    table = ops.groupby("operation")["us"].sum().sort_values(ascending=False).to_frame("ms / step") / 1000 / steps
    table["share of the step's operations"] = table["ms / step"] / table["ms / step"].sum()
    return table.head(n)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--epochs", type=int, default=24, help="epochs of the timed default fit (its default: 24)")
    parser.add_argument("--ablate-epochs", type=int, default=3, help="epochs of each variant's fit (at least 2)")
    parser.add_argument("--fold", default="u1")
    args = parser.parse_args(argv)
    from skrec._keras import keras
    from skrec.datasets import fetch_movielens_fold

    warnings.simplefilter("ignore")
    train, _ = fetch_movielens_fold(args.fold)
    X, y = train[["user_id", "movie_id"]], train["rating"]
    keras.ops.convert_to_numpy(keras.ops.ones(2) + 1)  # start the backend outside the timing
    where = f"MovieLens 100k {args.fold}.base ({len(X):,} ratings), Keras {keras.__version__} ({keras.backend.backend()})"
    report(phase_table(timed_fit(X, y, {"epochs": args.epochs})), "fit_breakdown", f"One default fit, {args.epochs} epochs, {where}", lambda v: f"{v:.2f}")
    print()
    report(variant_table(X, y, args.ablate_epochs), "fit_breakdown_step", f"Seconds per epoch after the first, {where}", lambda v: f"{v:.2f}")
    print()
    report(top_operations(X, y), "fit_breakdown_ops", f"The training step's costliest XLA operations, {where}", lambda v: f"{v:.2f}")


if __name__ == "__main__":
    main()
