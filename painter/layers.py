"""Every Keras layer painter registers, so saved models load with ``safe_mode=True``.

Registered as ``painter>ClassName``: models saved by earlier versions of painter load
whatever module the class lives in.
"""
from __future__ import annotations

import keras
from keras import layers, ops

__all__ = ["ImagePreprocess", "ChannelStats", "LogColumns", "SourceProbability", "SourceShift", "SourcePrior",
           "MirrorAverage", "ZoomAverage", "AbsDiff", "CosineMargin", "L2Normalize", "load_model"]

_MEAN_RGB = (123.68, 116.779, 103.939)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


@keras.saving.register_keras_serializable(package="painter")
class ImagePreprocess(layers.Layer):
    """Scale raw RGB 0..255 the way a backbone expects (preprocessing inside every model).

    Modes: ``"lite"`` (x - 127) / 128 (EfficientNet-Lite); ``"tf"`` x / 127.5 - 1 (Xception,
    Inception, ResNetV2); ``"caffe"`` RGB -> BGR minus the ImageNet mean (ResNet50);
    ``"torch"`` x / 255 normalised by ImageNet mean and std; ``"none"`` unchanged.
    """

    MODES = ("lite", "tf", "caffe", "torch", "none")

    def __init__(self, mode="lite", **kwargs):
        super().__init__(**kwargs)
        if mode not in self.MODES:
            raise ValueError(f"ImagePreprocess: mode must be one of {self.MODES}, got {mode!r}")
        self.mode = mode

    def call(self, x):
        x = ops.cast(x, self.compute_dtype)
        if self.mode == "lite":
            return (x - 127.0) / 128.0
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "caffe":
            return ops.flip(x, axis=-1) - ops.convert_to_tensor(_MEAN_RGB[::-1], dtype=self.compute_dtype)
        if self.mode == "torch":
            mean = ops.convert_to_tensor(_TORCH_MEAN, dtype=self.compute_dtype)
            std = ops.convert_to_tensor(_TORCH_STD, dtype=self.compute_dtype)
            return (x / 255.0 - mean) / std
        return x

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="painter")
class ChannelStats(layers.Layer):
    """``(batch, h, w, C)`` feature map -> ``(batch, 2C)``: per-channel spatial mean, then std."""

    def call(self, x):
        mean = ops.mean(x, axis=(1, 2))
        var = ops.mean(ops.square(x), axis=(1, 2)) - ops.square(mean)
        return ops.concatenate([mean, ops.sqrt(ops.maximum(var, 0.0) + 1e-6)], axis=-1)


@keras.saving.register_keras_serializable(package="painter")
class LogColumns(layers.Layer):
    """``(batch, D)`` -> ``(batch, D)``: the natural log of the columns where ``mask`` is 1.

    A standard deviation is a scale: its log turns ratios into differences, which linear
    methods (PCA, LDA) model better. Set the mask with ``layer.set_weights([mask])``.
    """

    def build(self, input_shape):
        self.mask = self.add_weight(shape=(input_shape[-1],), initializer="zeros", trainable=False, name="mask")

    def call(self, x):
        return ops.where(self.mask > 0, ops.log(ops.maximum(x, 1e-6)), x)


@keras.saving.register_keras_serializable(package="painter")
class SourceProbability(layers.Layer):
    """``(batch, d)`` -> ``(batch, S)``: how likely each row comes from each of ``n_sources`` training
    sources, ``softmax(x W + b)`` (``W (d, S)``, ``b (S,)``; ``layer.set_weights([W, b])``)."""

    def __init__(self, n_sources: int, **kwargs):
        super().__init__(**kwargs)
        self.n_sources = int(n_sources)

    def build(self, input_shape):
        d, s = input_shape[-1], self.n_sources
        self.kernel = self.add_weight(shape=(d, s), initializer="zeros", trainable=False, name="kernel")
        self.bias = self.add_weight(shape=(s,), initializer="zeros", trainable=False, name="bias")

    def call(self, x):
        return ops.softmax(ops.matmul(x, self.kernel) + self.bias, axis=-1)

    def get_config(self):
        return {**super().get_config(), "n_sources": self.n_sources}


@keras.saving.register_keras_serializable(package="painter")
class SourceShift(layers.Layer):
    """``[x (batch, d), p (batch, S)]`` -> ``(batch, d)``: each row less the offset of the source it
    seems to come from, ``x - p M`` (``p`` from ``SourceProbability``; ``M (S, d)`` each source's
    offset, ``layer.set_weights([M])``; zero offsets make the layer the identity)."""

    def build(self, input_shape):
        (_, d), (_, s) = input_shape
        self.offsets = self.add_weight(shape=(s, d), initializer="zeros", trainable=False, name="offsets")

    def call(self, inputs):
        x, p = inputs
        return x - ops.matmul(p, self.offsets)


@keras.saving.register_keras_serializable(package="painter")
class SourcePrior(layers.Layer):
    """``[c (batch, n), p (batch, S)]`` -> ``(batch, n)``: each class's cosine less ``strength`` times
    how likely the row comes from a source the class was not learned from, ``c - active strength (1 - p A)``.

    ``A (S, n)`` is 1 where class k was learned from source s; before a softmax at temperature T,
    ``strength = d T`` is a log prior of ``-d`` on the class; ``active`` (0 or 1) turns it on
    (``layer.set_weights([A, strength, active])``). Off, the layer is the identity.
    """

    def build(self, input_shape):
        (_, n), (_, s) = input_shape
        self.sources = self.add_weight(shape=(s, n), initializer="ones", trainable=False, name="sources")
        self.strength = self.add_weight(shape=(), initializer="zeros", trainable=False, name="strength")
        self.active = self.add_weight(shape=(), initializer="zeros", trainable=False, name="active")

    def call(self, inputs):
        c, p = inputs
        return c - self.active * self.strength * (1.0 - ops.matmul(p, self.sources))


class _AroundInner(layers.Layer):
    """A layer that runs an inner model (saved inside its config) on views of its input."""

    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner

    def get_config(self):
        return {**super().get_config(), "inner": keras.saving.serialize_keras_object(self.inner)}

    @classmethod
    def from_config(cls, config):
        config["inner"] = keras.saving.deserialize_keras_object(config["inner"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="painter")
class MirrorAverage(_AroundInner):
    """Apply an inner model to an image batch and to its mirror image; return the mean."""

    def call(self, x):
        return 0.5 * (self.inner(x) + self.inner(ops.flip(x, axis=2)))


@keras.saving.register_keras_serializable(package="painter")
class ZoomAverage(_AroundInner):
    """Apply an inner model to ``grid`` x ``grid`` views of an image batch ``(b, S, S, 3)``, each
    enlarged to ``S`` x ``S`` (bilinear); return the mean of its outputs."""

    def __init__(self, inner, grid: int = 2, **kwargs):
        super().__init__(inner, **kwargs)
        self.grid = int(grid)

    def call(self, x):
        size = x.shape[1]
        h = size // self.grid
        views = [ops.image.resize(x[:, r:r + h, c:c + h, :], (size, size), interpolation="bilinear")
                 for r in range(0, h * self.grid, h) for c in range(0, h * self.grid, h)]
        return ops.mean(ops.stack([self.inner(v) for v in views]), axis=0)

    def get_config(self):
        return {**super().get_config(), "grid": self.grid}


@keras.saving.register_keras_serializable(package="painter")
class AbsDiff(layers.Layer):
    """Element-wise ``|a - b|`` of two equally shaped tensors (symmetric in a and b)."""

    def call(self, inputs):
        a, b = inputs
        return ops.abs(a - b)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package="painter")
class CosineMargin(layers.Layer):
    """Cosine classifier: ``scale * cos(e, w_k)``, minus ``margin`` at the true class in training (CosFace)."""

    def __init__(self, n_classes, scale=30.0, margin=0.2, **kwargs):
        super().__init__(**kwargs)
        self.n_classes, self.scale, self.margin = int(n_classes), float(scale), float(margin)

    def build(self, input_shape):
        self.w = self.add_weight(shape=(int(input_shape[-1]), self.n_classes), initializer="glorot_uniform", name="w")

    def call(self, e, onehot=None):
        cos = ops.matmul(e, ops.normalize(self.w, axis=0, order=2))
        if onehot is not None:
            cos = cos - self.margin * onehot
        return self.scale * cos

    def get_config(self):
        return {**super().get_config(), "n_classes": self.n_classes, "scale": self.scale, "margin": self.margin}


@keras.saving.register_keras_serializable(package="painter")
class L2Normalize(layers.Layer):
    """Unit length along the last axis. Kept only so that models saved before painter used
    ``keras.layers.UnitNormalization`` still load; new models use that layer."""

    def call(self, x):
        return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=-1, keepdims=True), 1e-12))


def load_model(path):
    """A ``.keras`` file saved by painter, loaded with ``safe_mode=True`` (these layers registered)."""
    import zipfile
    if not zipfile.is_zipfile(path):   # Keras says "File not found" for a truncated file
        raise ValueError("not a .keras zip archive: truncated, or another kind of file")
    return keras.saving.load_model(path, safe_mode=True)
