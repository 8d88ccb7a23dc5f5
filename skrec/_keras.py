"""The one place skrec imports Keras: JAX is the default backend and backend logs stay quiet.

``KERAS_BACKEND`` is only given a default: a caller who sets it (for example to
``tensorflow``) before importing skrec keeps their choice.

On the JAX backend Keras still imports TensorFlow, when it is installed, to serialize objects
(``keras.saving``, optimizer configs), and TensorFlow then prints C++ log lines ("oneDNN custom
operations are on", ...). Their defaults here silence them: ``TF_CPP_MIN_LOG_LEVEL=3`` and, as
TensorFlow computes nothing on this backend, ``TF_ENABLE_ONEDNN_OPTS=0``. On the TensorFlow
backend only the level is set (to 2: warnings and errors stay visible). Variables the caller set
are never changed.

On JAX, :func:`use_compilation_cache` keeps compiled training steps in JAX's persistent
compilation cache, unless the caller configured or disabled it.
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

__all__ = ["keras", "keras_rs", "use_compilation_cache"]


def use_compilation_cache():
    """On JAX, point its persistent compilation cache at skrec's cache folder unless the caller chose.

    A model's training step is then compiled once per shape on a machine, not once per fit:
    clones in a search and later processes read it from disk. The folder is
    ``$XDG_CACHE_HOME/skrec/jax`` (``~/.cache/skrec/jax`` without it), made for its owner
    alone: JAX runs what it finds there. Nothing changes when ``jax_compilation_cache_dir``
    (or ``JAX_COMPILATION_CACHE_DIR``) is set, when ``jax_enable_compilation_cache`` is False,
    on another backend, or when the folder cannot be made or others may write to it.
    """
    if keras.backend.backend() != "jax":
        return
    import jax

    if jax.config.jax_compilation_cache_dir or not jax.config.jax_enable_compilation_cache:
        return
    folder = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "skrec", "jax")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if os.stat(folder).st_mode & 0o022:
            return
    except OSError:
        return
    jax.config.update("jax_compilation_cache_dir", folder)
    # Every program: a fit also compiles small ones (serving, initial values), 0.1 s each.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
