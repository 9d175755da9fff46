"""Where Keras trains: the distribution strategy and the mixed-precision policy."""
from __future__ import annotations

import contextlib
import functools

import keras

__all__ = ["get_strategy", "global_policy"]


@functools.cache
def get_strategy():
    """MirroredStrategy over several GPUs, else the default strategy (one device); one per process,
    so that models built in two ``scope()`` blocks share their devices' variables."""
    import tensorflow as tf
    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


@contextlib.contextmanager
def global_policy(name):
    """Keras's global dtype policy set to ``name`` (None: left as it is) inside the block, and put
    back after it: the models built inside keep theirs, and later ones (feature models, whose
    cached features are float32) are not built in float16."""
    previous = keras.mixed_precision.global_policy()
    if name is not None:
        keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)
