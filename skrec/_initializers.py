"""Keras initializers of the model's weights that draw on the host with NumPy, so that building a model compiles nothing."""

import numpy as np

from skrec._keras import keras


@keras.saving.register_keras_serializable(package="skrec")
class HostRandom(keras.initializers.Initializer):
    """Keras initializer: random values drawn by NumPy's generator seeded with ``seed``.

    The distributions of Keras's ``RandomNormal(0, scale)``, ``RandomUniform(-scale, scale)``
    and ``GlorotUniform()``. On JAX, Keras's own random initializers compile one program
    per weight shape (about 0.1 s each, a second per model); these compile none.

    Parameters
    ----------
    distribution : {"normal", "uniform", "glorot_uniform"}
        Normal of standard deviation ``scale``, uniform on ``[-scale, scale]``, or uniform
        on ``[-limit, limit]`` with ``limit = sqrt(6 / (fan_in + fan_out))`` (``scale`` unused).
    scale : float, default=0.05
    seed : int or None, default=None
        Seed of NumPy's generator; None draws from fresh entropy.

    Examples
    --------
    >>> from skrec._initializers import HostRandom
    >>> HostRandom("normal", 0.05, seed=0)((3, 2)).shape
    (3, 2)
    """

    def __init__(self, distribution, scale=0.05, seed=None):
        if distribution not in ("normal", "uniform", "glorot_uniform"):
            raise ValueError(f"distribution must be 'normal', 'uniform' or 'glorot_uniform'; got {distribution!r}.")
        self.distribution, self.scale, self.seed = distribution, float(scale), seed

    def __call__(self, shape, dtype=None):
        rng = np.random.default_rng(self.seed)
        if self.distribution == "normal":
            values = rng.normal(0.0, self.scale, shape)
        else:
            limit = self.scale if self.distribution == "uniform" else np.sqrt(6.0 / (shape[0] + shape[-1]))
            values = rng.uniform(-limit, limit, shape)
        return keras.ops.convert_to_tensor(values.astype(dtype or "float32"))

    def get_config(self):
        return {"distribution": self.distribution, "scale": self.scale, "seed": self.seed}


@keras.saving.register_keras_serializable(package="skrec")
class ZeroTail(keras.initializers.Initializer):
    """Keras initializer: ``initializer``'s values with the last ``n_zero`` columns set to zero.

    It initializes a packed table ``[embedding | biases]``: embeddings random, biases zero.
    """

    def __init__(self, initializer, n_zero):
        self.initializer = keras.initializers.get(initializer)
        self.n_zero = int(n_zero)

    def __call__(self, shape, dtype=None):
        values = keras.ops.convert_to_numpy(self.initializer((shape[0], shape[1] - self.n_zero), dtype=dtype))
        return keras.ops.convert_to_tensor(np.concatenate([values, np.zeros((shape[0], self.n_zero), values.dtype)], axis=1))

    def get_config(self):
        return {"initializer": keras.initializers.serialize(self.initializer), "n_zero": self.n_zero}
