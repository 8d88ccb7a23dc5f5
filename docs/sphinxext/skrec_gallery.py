"""Settings of the example gallery that Sphinx must be able to cache (importable, not in conf.py)."""

import os


def quick():
    """Whether the gallery runs in its smaller configuration (``SKREC_DOCS_QUICK=1``, as in CI)."""
    return os.environ.get("SKREC_DOCS_QUICK", "") not in ("", "0")


def reset_argv(gallery_conf, script_vars):
    """Command-line arguments of each example: one epoch for the P3 reproduction when quick."""
    if quick() and script_vars["src_file"].endswith("multi_task_movielens.py"):
        return ["--epochs", "1"]
    return []
