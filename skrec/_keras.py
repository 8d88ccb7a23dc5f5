"""The one place skrec imports Keras: JAX is the default backend and backend logs stay quiet.

``KERAS_BACKEND`` is only given a default: a caller who sets it (for example to
``tensorflow``) before importing skrec keeps their choice.

On the JAX backend Keras still imports TensorFlow, when it is installed, to serialize objects
(``keras.saving``, optimizer configs), and TensorFlow then prints C++ log lines ("oneDNN custom
operations are on", ...). Their defaults here silence them: ``TF_CPP_MIN_LOG_LEVEL=3`` and, as
TensorFlow computes nothing on this backend, ``TF_ENABLE_ONEDNN_OPTS=0``. On the TensorFlow
backend only the level is set (to 2: warnings and errors stay visible). Variables the caller set
are never changed.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")
if os.environ["KERAS_BACKEND"] == "jax":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
else:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_rs  # noqa: E402

__all__ = ["keras", "keras_rs"]
