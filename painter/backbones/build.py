"""Building the pretrained CNNs (Keras): EfficientNet-Lite with offline weights, and the
``keras.applications`` models."""
from __future__ import annotations

from pathlib import Path

import keras

from ..errors import BackboneError
from ..layers import ImagePreprocess
from .catalog import DEFAULT_BACKBONE, KERAS_APPS, VARIANTS, check_name, check_weights, default_size, feature_layers
from .efficientnet_lite import EfficientNetLite, WeightsError

__all__ = ["get_backbone"]


def _keras_app(name, weights, input_shape):
    ctor, mode, _size, _taps = KERAS_APPS[name]
    build = getattr(keras.applications, ctor)
    if weights not in (None, "imagenet") and not Path(weights).is_file():
        raise BackboneError(f"{name}: weights file {weights} not found")
    try:
        base = build(include_top=False, weights=weights, input_shape=input_shape)
    except Exception as e:  # noqa: BLE001 - the download's many failure types all mean the same here
        if weights != "imagenet":
            raise BackboneError(f"{name}: cannot load weights {weights}: {e}") from None
        raise BackboneError(
            f"{name}: could not download ImageNet weights ({type(e).__name__}); without internet pass "
            f"weights='<path to the {ctor} *_notop.h5 file>' or weights=None, or use backbone="
            f"'{DEFAULT_BACKBONE}', whose weights install with pip") from None
    inputs = keras.Input(shape=input_shape, name="image")
    x = ImagePreprocess(mode, name="preprocess")(inputs)
    return keras.Model(inputs, base(x), name=name), base


def get_backbone(name: str = DEFAULT_BACKBONE, weights="imagenet", input_shape=(None, None, 3),
                 pooling=None, outputs=None, trainable: bool = False) -> keras.Model:
    """A pretrained CNN with its preprocessing inside: raw RGB 0..255 in.

    Parameters
    ----------
    name : str
        One of ``BACKBONES``; default ``"efficientnet_lite0"`` (works offline).
    weights : ``"imagenet"``, ``"artists"`` (EfficientNet-Lite0/1 with the top stages fine-tuned to
        tell artists apart, on 448 of pbn_dev + wikiart_extra's 560; packaged), None (random) or a
        path to a weights file.
    input_shape : tuple
        ``(H, W, 3)``; ``(None, None, 3)`` accepts any size (keras.applications models need
        a fixed size: pass one).
    pooling : None, ``"avg"`` or ``"max"``
        None returns the last feature map ``(batch, h, w, C)``; else ``(batch, C)``.
    outputs : list of str, optional
        Intermediate layer names (see ``feature_layers``): the model then returns a list of
        feature maps, one per name, instead of the single output (``pooling`` is ignored).
    trainable : bool
        False freezes the backbone (feature extraction).

    Raises
    ------
    BackboneError
        Unknown name, ImageNet weights not obtainable here, no or damaged ``"artists"`` weights;
        the message says what to do.
    """
    check_name(name)
    check_weights(name, weights)
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"pooling must be None, 'avg' or 'max', got {pooling!r}")
    if name in VARIANTS:
        try:
            model = EfficientNetLite(name, input_shape=input_shape, include_top=False, weights=weights,
                                     pooling=None if outputs else pooling)
        except WeightsError as e:
            raise BackboneError(str(e)) from None
        inner = model
    else:
        if input_shape[0] is None:
            input_shape = (default_size(name), default_size(name), 3)
        model, inner = _keras_app(name, weights, input_shape)
        if pooling and not outputs:
            pool = keras.layers.GlobalAveragePooling2D if pooling == "avg" else keras.layers.GlobalMaxPooling2D
            model = keras.Model(model.input, pool(name=f"{pooling}_pool")(model.output), name=name)
    if outputs:
        try:
            taps = [inner.get_layer(n).output for n in outputs]
        except ValueError as e:
            raise BackboneError(f"{name}: {e}; known taps: {feature_layers(name)}") from None
        if inner is not model:  # keras.applications: re-wire from our preprocessing input
            sub = keras.Model(inner.input, taps)
            taps = sub(model.get_layer("preprocess").output)
            taps = taps if isinstance(taps, list) else [taps]
        model = keras.Model(model.input, taps, name=f"{name}_features")
    model.trainable = trainable
    return model

