"""The Keras feature model of one ``FeatureSpec``: a backbone's style statistics (or pooled
vector), mirrored and zoomed views averaged as the spec asks."""
from __future__ import annotations

from ..backbones import feature_layers
from .spec import DEFAULT_FEATURES, FeatureSpec

__all__ = ["build_feature_model"]


def build_feature_model(spec: FeatureSpec = DEFAULT_FEATURES):
    """Keras model: ``(batch, S, S, 3)`` RGB 0..255 -> ``(batch, D)`` float32 features (one backbone);
    a spec's views each go through it (``features.inference.predict_views``)."""
    import keras
    from keras import layers

    from ..backbones.build import get_backbone
    from ..layers import ChannelStats, MirrorAverage, ZoomAverage

    spec = spec.whole()
    if "+" in spec.backbone or spec.image_size is None:
        parts = spec.components()
        if len(parts) > 1:
            raise ValueError("build_feature_model takes one backbone; embed_files handles joined ones")
        spec = parts[0]
    size = spec.image_size
    inputs = keras.Input((size, size, 3), name="image")
    if spec.summary == "pooled":
        inner = get_backbone(spec.backbone, spec.weights, (size, size, 3), pooling="avg")
    else:
        maps_model = get_backbone(spec.backbone, spec.weights, (size, size, 3), outputs=feature_layers(spec.backbone))
        maps = maps_model(inputs)
        stats = [ChannelStats(name=f"stats{i}")(m) for i, m in enumerate(maps)]
        inner = keras.Model(inputs, layers.Concatenate(name="style")(stats), name="style_features")
    out = MirrorAverage(inner, name="mirror_average")(inputs) if spec.flip else inner(inputs)
    if spec.zoom > 1:   # [whole image, mean over the enlarged views]
        zoomed = ZoomAverage(inner, spec.zoom, name="zoom_average")(inputs)
        out = layers.Concatenate(name="whole_and_zoom")([out, zoomed])
    return keras.Model(inputs, out, name=f"features_{spec.key}")
