"""The one place skrec imports Keras: JAX is the default backend and backend logs stay quiet.

``KERAS_BACKEND`` is only given a default: a caller who sets it (for example to
``tensorflow``) before importing skrec keeps their choice.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")
# TensorFlow and XLA print C++ log lines on import unless told not to.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_rs  # noqa: E402

__all__ = ["keras", "keras_rs"]
