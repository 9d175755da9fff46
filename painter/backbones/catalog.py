"""Which backbones there are, their input sizes and the layers worth tapping: names and numbers
only (no Keras), so that reading a ``FeatureSpec`` or running an exported model imports no
TensorFlow."""
from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np

from ..errors import BackboneError

__all__ = ["BACKBONES", "DEFAULT_BACKBONE", "VARIANTS", "KERAS_APPS", "ARTISTS_WEIGHTS", "default_size",
           "feature_layers", "style_layers", "check_name", "check_weights", "default_weights", "trained_artists"]

DEFAULT_BACKBONE = "efficientnet_lite0"

# name: (width multiplier, depth multiplier, default resolution, dropout)
VARIANTS = {
    "efficientnet_lite0": (1.0, 1.0, 224, 0.2),
    "efficientnet_lite1": (1.0, 1.1, 240, 0.2),
    "efficientnet_lite2": (1.1, 1.2, 260, 0.3),
    "efficientnet_lite3": (1.2, 1.4, 280, 0.3),
    "efficientnet_lite4": (1.4, 1.8, 300, 0.3),
}
# (repeats, kernel, stride, expand ratio, in filters, out filters) of the seven stages
_BASE_STAGES = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
                (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]


def round_filters(filters, width, divisor=8):
    filters *= width
    new = max(divisor, int(filters + divisor / 2) // divisor * divisor)
    return int(new + divisor if new < 0.9 * filters else new)


def stages(width, depth):
    last = len(_BASE_STAGES) - 1
    for i, (r, k, s, e, fin, fout) in enumerate(_BASE_STAGES):
        repeats = r if i in (0, last) else int(math.ceil(depth * r))
        fin = 32 if i == 0 else round_filters(fin, width)
        yield repeats, k, s, e, fin, round_filters(fout, width)


def style_layers(variant="efficientnet_lite0") -> list:
    """Layers whose channel statistics describe a painting's style, shallow to deep.

    The ReLU6 expansion (``blockN_expand_relu``) of the last block of stages 2 to 6, then
    ``top_activation``. Like Gatys et al.'s ReLU maps, these are rectified and six times wider
    than the linear bottleneck stage outputs; same-artist validation AUC rose from 0.906 to
    0.913 for Lite0 + Lite1 (``benchmarks/experiments/feature_choice.py``).
    """
    width, depth = VARIANTS[variant][:2]
    ends = np.cumsum([repeats for repeats, *_ in stages(width, depth)]) - 1   # last block of each stage
    return [f"block{ends[s]}_expand_relu" for s in range(1, 6)] + ["top_activation"]


# name: (keras.applications constructor name, preprocessing mode, default size, feature-map taps)
KERAS_APPS = {
    "resnet50": ("ResNet50", "caffe", 224,
                 ["conv2_block3_out", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out"]),
    "resnet152v2": ("ResNet152V2", "tf", 224,
                    ["conv2_block3_out", "conv3_block8_out", "conv4_block36_out", "post_relu"]),
    "xception": ("Xception", "tf", 299,
                 ["block3_sepconv2_bn", "block4_sepconv2_bn", "block13_sepconv2_bn", "block14_sepconv2_act"]),
    "inception_v3": ("InceptionV3", "tf", 299, ["mixed2", "mixed5", "mixed7", "mixed10"]),
}
BACKBONES = sorted(set(VARIANTS) | set(KERAS_APPS))

# weights="artists": ImageNet's weights with the top stages fine-tuned to tell artists apart (448 of 560)
# (a contrastive Siamese fit). Each file in painter/backbones/artists_weights/ holds only
# the layers the fit changed, in float16 (the packaged model must fit a 50 MB wheel); its SHA-256
# is checked when it is read. How they were made: that folder's README.md.
ARTISTS_DIR = Path(__file__).resolve().parent / "artists_weights"
ARTISTS_WEIGHTS = {
    "efficientnet_lite0": "0b5ff5b8f62701c51751d6269d54ff452f9627eace7224708c12474226764ba0",
    "efficientnet_lite1": "9f68d7bd14114576706f0b50c6248d0c1e0affe0c5edb74924ef7eb35db7e445",
}


def default_size(name: str) -> int:
    """The input side the backbone was trained at."""
    check_name(name)
    return VARIANTS[name][2] if name in VARIANTS else KERAS_APPS[name][2]


def check_weights(name: str, weights) -> None:
    """BackboneError unless ``weights`` (``"imagenet"``, ``"artists"``, None or a file path) can be
    given to backbone ``name``."""
    if weights == "artists" and name not in ARTISTS_WEIGHTS:
        raise BackboneError(f"{name}: no 'artists' weights (only {' and '.join(sorted(ARTISTS_WEIGHTS))} have "
                            "them); use weights='imagenet'")


def default_weights(backbone: str):
    """The best weights painter has for each of ``backbone``'s ``+``-joined backbones: ``"artists"``
    where they exist (Lite0, Lite1), else ``"imagenet"``; one value, or a tuple when they differ."""
    weights = tuple("artists" if name in ARTISTS_WEIGHTS else "imagenet" for name in backbone.split("+"))
    return weights[0] if len(set(weights)) == 1 else weights


def trained_artists(weights) -> frozenset:
    """The artists whose paintings tuned ``weights`` (``artists.txt`` beside the ``"artists"``
    files, ``<file>.artists.txt`` beside a fine-tuning run's weights file; none for ImageNet's): a
    training run holds out other artists for validation, so that unseen-artist validation stays
    unseen by the backbone too."""
    if weights == "artists":
        return _packaged_artists()
    listed = Path(f"{weights}.artists.txt")   # read every time: a run rewrites it in place
    if weights in (None, "imagenet") or not listed.is_file():
        return frozenset()
    return frozenset(listed.read_text(encoding="utf-8").splitlines())


@functools.cache
def _packaged_artists() -> frozenset:
    return frozenset((ARTISTS_DIR / "artists.txt").read_text(encoding="utf-8").splitlines())


def feature_layers(name: str) -> list:
    """Names of intermediate layers worth tapping (increasing depth; last = final map)."""
    check_name(name)
    if name in VARIANTS:
        return style_layers(name)
    return list(KERAS_APPS[name][3])


def check_name(name):
    if name not in BACKBONES:
        raise BackboneError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}")


