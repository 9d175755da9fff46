"""What a feature vector is made of: ``FeatureSpec``, and where its columns come from."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace

import numpy as np

from ..backbones import default_size, feature_layers
from ..backbones.catalog import ARTISTS_WEIGHTS, check_weights, default_weights, trained_artists
from ..cache import content_key
from ..data.views import MAX_SIDE, MIN_GAIN, TILES_PER_SIDE
from ..errors import BackboneError, ParameterError, first_line

__all__ = ["FeatureSpec", "DEFAULT_FEATURES", "default_spec", "std_columns", "read_spec"]

# Lite0 and Lite1 together beat either alone, and match Lite0 + Lite2 at two thirds of the cost
# (benchmarks/RESULTS.md).
_DEFAULT_BACKBONES = "efficientnet_lite0+efficientnet_lite1"
SUMMARIES = ("style", "pooled")
VIEW_POOLS = ("mean", "scales")


@dataclass(frozen=True)
class FeatureSpec:
    """What a feature vector is made of.

    backbone : backbone name (``painter.backbones.BACKBONES``), or several joined by ``+``
        (their features are concatenated)
    image_size : square input side in pixels; None = each backbone's own default size
    summary : how feature maps become a vector: ``"style"`` (per-channel mean and std of every
        tapped layer, ``backbones.feature_layers``) or ``"pooled"`` (global average of the last map)
    flip : average the features of the image and its mirror image
    weights : ``"imagenet"``, ``"artists"`` (the packaged backbones fine-tuned to tell artists
        apart), None, or a weights file path; for joined backbones also a tuple of these, one per
        backbone (e.g. a fine-tuned Lite0 beside ImageNet's Lite1). The field's default stays
        ``"imagenet"`` (configs written before ``"artists"`` existed read back as they were): the
        default features are ``DEFAULT_FEATURES``, and ``default_spec(backbone)`` gives the best
        weights painter has for other backbones.
    zoom : n > 1: the features also hold the mean of the style statistics of n x n views of the
        image, each enlarged n times to the input size (brushwork seen at n times its scale;
        ``benchmarks/experiments/zoomed_crops.py``); 1: none (the field's default, as in files written before
        zoom existed). A tuple gives one per joined backbone.
    views : scales at which tiles of the painting are also seen, each in painting pixels per
        network pixel (``(1, 2)``: tiles of ``image_size`` and of twice ``image_size`` painting
        pixels, the latter halved); the features are the painting's views pooled
        (``painter.features.inference.predict_views``). A painting too small for a scale's tile
        has no tiles at that scale, so a thumbnail gets the whole-painting view alone, the
        features it has without views. ``()``: the whole painting alone (the field's default).
    view_pool : how the views are pooled: ``"mean"`` (every view weighs the same) or
        ``"scales"`` (the whole painting and each scale's tiles weigh the same).
    """
    backbone: str = _DEFAULT_BACKBONES
    image_size: int | None = None
    summary: str = "style"
    flip: bool = False
    weights: str | None | tuple = "imagenet"
    zoom: int | tuple = 1
    views: tuple = ()
    view_pool: str = "mean"

    def __post_init__(self):
        if isinstance(self.weights, (list, tuple)):
            if len(self.weights) != len(self.backbone.split("+")):
                raise ParameterError(f"FeatureSpec.weights: {len(self.weights)} entries for the "
                                 f"{len(self.backbone.split('+'))} backbones of {self.backbone!r}")
            # hashable, and the JSON list read back; one value when all are the same (one spec, one cache)
            weights = tuple(self.weights)
            object.__setattr__(self, "weights", weights[0] if len(set(weights)) == 1 else weights)
        zoom = tuple(self.zoom) if isinstance(self.zoom, (list, tuple)) else (self.zoom,)
        if len(zoom) not in (1, len(self.backbone.split("+"))) or not all(
                isinstance(z, int) and not isinstance(z, bool) and z >= 1 for z in zoom):
            raise ParameterError(f"FeatureSpec.zoom: an integer >= 1, or one per backbone of {self.backbone!r}; "
                             f"got {self.zoom!r}")
        object.__setattr__(self, "zoom", zoom[0] if len(set(zoom)) == 1 else zoom)
        views = tuple(self.views) if isinstance(self.views, (list, tuple)) else (self.views,)
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in views):
            raise ParameterError(f"FeatureSpec.views: scales as integers >= 1, got {self.views!r}")
        object.__setattr__(self, "views", tuple(sorted(set(views))))
        if self.view_pool not in VIEW_POOLS:
            raise ParameterError(f"FeatureSpec.view_pool must be one of {VIEW_POOLS}, got {self.view_pool!r}")
        if self.summary not in SUMMARIES:
            raise ParameterError(f"FeatureSpec.summary must be one of {SUMMARIES}, got {self.summary!r}")
        if self.image_size is not None and self.image_size < 32:
            raise ParameterError(f"FeatureSpec.image_size must be >= 32, got {self.image_size}")
        for name, w in self._per_backbone():
            default_size(name)  # raises BackboneError for an unknown name
            check_weights(name, w)

    def _each(self, value) -> tuple:
        """A per-backbone field (weights, zoom) as one value per ``+``-joined backbone."""
        return value if isinstance(value, tuple) else (value,) * len(self.backbone.split("+"))

    def _per_backbone(self) -> list:
        """``(backbone name, its weights)`` of each ``+``-joined backbone."""
        return list(zip(self.backbone.split("+"), self._each(self.weights)))

    def components(self) -> list:
        """One single-backbone spec per ``+``-joined backbone, each with a concrete size."""
        return [FeatureSpec(name, self.image_size or default_size(name), self.summary, self.flip, w, z, self.views,
                            self.view_pool)
                for (name, w), z in zip(self._per_backbone(), self._each(self.zoom))]

    def whole(self) -> "FeatureSpec":
        """This spec without views: the features of the whole painting, and the model that
        computes every view's features."""
        return replace(self, views=(), view_pool="mean") if self.views else self

    @property
    def random_weights(self) -> bool:
        """Some backbone at its random initialisation (weights None): drawn anew each time it is
        built, so its features are neither cached nor exported."""
        return any(w is None for _, w in self._per_backbone())

    @property
    def trained_artists(self) -> frozenset:
        """Artists whose paintings tuned these features' weights (``"artists"``); empty for ImageNet's."""
        return frozenset().union(*(trained_artists(w) for _, w in self._per_backbone()))

    @property
    def key(self) -> str:
        """Names the cache of these features: changes whenever the features would."""
        names = self.backbone.split("+")
        weights = ([weights_key(w, [name]) for name, w in self._per_backbone()] if isinstance(self.weights, tuple)
                   else weights_key(self.weights, names))
        # "kind" is the summary's name in the first versions: kept so that caches stay valid
        fields = {"backbone": self.backbone, "image_size": self.image_size, "kind": self.summary,
                  "flip": self.flip, "weights": weights, "v": 2}
        if self.zoom != 1:   # without zoom, the keys (and caches) of earlier versions stay valid
            fields["zoom"] = self.zoom
        if self.views:   # likewise without views
            fields.update(views=self.views, view_pool=self.view_pool, max_side=MAX_SIDE, per_side=TILES_PER_SIDE,
                          min_gain=MIN_GAIN)
        text = json.dumps(fields, sort_keys=True)
        digest = hashlib.sha1(text.encode()).hexdigest()[:10]
        return f"{self.backbone}-{self.image_size or 'auto'}-{self.summary}-{digest}"

    def to_dict(self) -> dict:
        d = asdict(self)
        if self.zoom == 1:   # files without zoom stay as earlier versions wrote and read them
            d.pop("zoom")
        if not self.views:
            d.pop("views"), d.pop("view_pool")
        else:
            d["views"] = list(self.views)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureSpec":
        """Inverse of ``to_dict``; also reads the files of earlier painter versions (``kind``)."""
        d = dict(d)
        if "kind" in d:
            d["summary"] = d.pop("kind")
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown FeatureSpec fields {sorted(unknown)}")
        return cls(**d)


def default_spec(backbone: str = _DEFAULT_BACKBONES, image_size: int | None = None, weights=None,
                 zoom=1, views=(), view_pool="mean") -> FeatureSpec:
    """The default features' kind for ``backbone``: weights tuned to tell artists apart where they
    exist (``backbones.catalog.default_weights``), ImageNet's elsewhere; ``weights``, when given,
    overrides them (None here means those defaults: random weights are ``FeatureSpec(weights=None)``).
    Zoomed views stay opt-in: they add about 0.002 AUC for 2.4 times the embedding time
    (benchmarks/RESULTS.md)."""
    return FeatureSpec(backbone, image_size, weights=default_weights(backbone) if weights is None else weights,
                       zoom=zoom, views=views, view_pool=view_pool)


# weights tuned to tell artists apart beat ImageNet's on validation (benchmarks/RESULTS.md);
# = FeatureSpec(weights="artists")
DEFAULT_FEATURES = default_spec()


def weights_key(weights, names):
    """A weights file by its content, so that the cache follows the file, not its name (the
    packaged ``"artists"`` files of backbones ``names`` by the SHA-256 painter records for them:
    a new Lite0 file leaves Lite1's features cached)."""
    if weights == "artists":
        return "artists-" + "-".join(ARTISTS_WEIGHTS[name][:12] for name in names)
    return weights if weights in (None, "imagenet") else content_key(weights)[:12]


def read_spec(config: dict, path, error, hint: str, default=None) -> FeatureSpec | None:
    """The ``feature_spec`` of the config file ``path`` of a painter folder (``default``, when
    given, for a file without one), or ``error`` naming the file and what to do (``hint``): e.g.
    a file written by a newer painter, with fields this one does not know."""
    if default is not None and "feature_spec" not in config:
        return default
    if "feature_spec" in config and config["feature_spec"] is None:
        return None   # a model fitted end to end reads the images themselves (method siamese)
    try:
        return FeatureSpec.from_dict(config["feature_spec"])
    except (KeyError, TypeError, ValueError, BackboneError) as e:
        raise error(f"{path}: feature_spec: {first_line(e)}; {hint}") from None


def std_columns(spec: FeatureSpec = DEFAULT_FEATURES) -> np.ndarray:
    """Boolean ``(D,)`` mask of the standard-deviation columns in ``spec``'s feature vectors.

    Style features are ``[mean (C), std (C)]`` per tapped layer, layers in order, backbones in
    order; pooled features have no std columns.
    """
    from ..backbones.build import get_backbone
    cols = []
    for part in spec.components():
        shape = (part.image_size, part.image_size, 3)
        if part.summary == "pooled":
            cols.append(np.zeros(get_backbone(part.backbone, None, shape, pooling="avg").output_shape[-1], bool))
            continue
        maps = get_backbone(part.backbone, None, shape, outputs=feature_layers(part.backbone))
        stats = [x for out in maps.output_shape for x in (np.zeros(out[-1], bool), np.ones(out[-1], bool))]
        cols += stats * (2 if part.zoom > 1 else 1)   # [whole image, zoomed views]
    return np.concatenate(cols)
