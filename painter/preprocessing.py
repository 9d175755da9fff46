"""Image preprocessing as a saved, serializable Keras layer (not a ``Lambda``).

Every painter model takes raw RGB pixels 0..255; the scaling each backbone was trained with
lives inside the model, so a saved model needs no extra preprocessing code to be used.
"""
from __future__ import annotations

import keras
from keras import ops

__all__ = ["ImagePreprocess"]

_MEAN_RGB = (123.68, 116.779, 103.939)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


@keras.saving.register_keras_serializable(package="painter")
class ImagePreprocess(keras.layers.Layer):
    """Scale raw RGB 0..255 the way a backbone expects.

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
