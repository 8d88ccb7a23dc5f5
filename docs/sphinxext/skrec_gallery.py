"""Settings of the example gallery that Sphinx must be able to cache (importable, not in conf.py)."""

import os


def quick():
    """Whether the gallery runs in its smaller configuration (``SKREC_DOCS_QUICK=1``, as in CI)."""
    return os.environ.get("SKREC_DOCS_QUICK", "") not in ("", "0")


def reset_argv(gallery_conf, script_vars):
    """Command-line arguments of each example: when quick, one epoch for every model of the P3 reproduction."""
    if quick() and script_vars["src_file"].endswith("multi_task_movielens.py"):
        return ["--epochs", "1", "--default-epochs", "1"]
    return []


#: The gallery's order: first steps, then the P3 reproduction, then tuning.
ORDER = ["quickstart_own_columns.py", "multi_task_movielens.py", "plot_loss_weight_search.py"]


class ExampleOrder:
    """Sort key of the examples: by their place in ``ORDER``, others after them by file name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = os.path.basename(filename)
        return (ORDER.index(name) if name in ORDER else len(ORDER), name)
