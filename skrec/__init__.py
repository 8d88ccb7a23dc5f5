"""skrec: a scikit-learn compatible multi-task (retrieval + ranking) recommender on Keras 3.

The public names are :class:`MultiTaskRecommender`, :class:`SeedEnsemble`, :mod:`skrec.datasets`,
:mod:`skrec.metrics`, :mod:`skrec.model_selection` and :mod:`skrec.exceptions`. Keras is imported lazily, on first use of the estimator, so that
``import skrec`` and ``import skrec.datasets`` stay cheap and print nothing.
"""

import importlib

__version__ = "0.2.0"

__all__ = ["MultiTaskRecommender", "SeedEnsemble", "SEED_PARAMS", "load", "datasets", "metrics", "model_selection", "exceptions", "__version__"]

_LAZY = {"MultiTaskRecommender": "skrec._estimator", "SeedEnsemble": "skrec._ensemble", "SEED_PARAMS": "skrec._recipe", "load": "skrec._estimator"}
_SUBMODULES = {"datasets", "metrics", "model_selection", "exceptions"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"skrec.{name}")
    raise AttributeError(f"module 'skrec' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
