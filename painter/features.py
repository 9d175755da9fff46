"""Frozen-backbone image features, computed once per image and cached on disk.

A painter's hand shows in colour and texture statistics more than in what is depicted, so
the default features are "style" statistics: the per-channel mean and standard deviation of
rectified maps at several depths (Gatys-style; ``backbones.feature_layers``), not only the
last pooled vector.

The cache is keyed by the image file's content (SHA-1) and the feature spec (backbone,
weights, size, kind), so renamed or re-cleaned files are not embedded again.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops
from tqdm.auto import tqdm

from .backbones import default_size, feature_layers, get_backbone
from .cache import cache_dir, file_digest
from .images import ImageError, load_array

# Lite0 and Lite1 together beat either alone, and match Lite0 + Lite2 at two thirds of the cost
# (benchmarks/RESULTS.md, issue 6).
DEFAULT_FEATURE_BACKBONES = "efficientnet_lite0+efficientnet_lite1"

__all__ = ["FeatureSpec", "ChannelStats", "LogColumns", "std_columns", "build_feature_model", "embed_files",
           "predict_images", "file_digest"]


@dataclass(frozen=True)
class FeatureSpec:
    """What a feature vector is made of.

    backbone : backbone name (``painter.backbones.BACKBONES``), or several joined by ``+``
        (their features are concatenated)
    image_size : square input side in pixels; None = each backbone's own default size
    kind : ``"style"`` (mean and std of every tapped layer) or ``"pooled"`` (global average of the last map)
    flip : average the features of the image and its mirror image
    weights : ``"imagenet"``, None, or a weights file path
    """
    backbone: str = DEFAULT_FEATURE_BACKBONES
    image_size: int | None = None
    kind: str = "style"
    flip: bool = False
    weights: str | None = "imagenet"

    def __post_init__(self):
        if self.kind not in ("style", "pooled"):
            raise ValueError(f"FeatureSpec.kind must be 'style' or 'pooled', got {self.kind!r}")
        if self.image_size is not None and self.image_size < 32:
            raise ValueError(f"FeatureSpec.image_size must be >= 32, got {self.image_size}")
        for name in self.backbone.split("+"):
            default_size(name)  # raises BackboneError for an unknown name

    def components(self) -> list:
        """One single-backbone spec per ``+``-joined backbone, each with a concrete size."""
        return [FeatureSpec(name, self.image_size or default_size(name), self.kind, self.flip, self.weights)
                for name in self.backbone.split("+")]

    @property
    def key(self) -> str:
        weights = self.weights
        if weights not in (None, "imagenet"):
            weights = file_digest(weights)[:12]
        text = json.dumps({**asdict(self), "weights": weights, "v": 2}, sort_keys=True)
        return f"{self.backbone}-{self.image_size or 'auto'}-{self.kind}-" + hashlib.sha1(text.encode()).hexdigest()[:10]

    def to_dict(self):
        return asdict(self)


@keras.saving.register_keras_serializable(package="painter")
class ChannelStats(layers.Layer):
    """``(batch, h, w, C)`` feature map -> ``(batch, 2C)``: per-channel spatial mean, then std."""

    def call(self, x):
        mean = ops.mean(x, axis=(1, 2))
        var = ops.mean(ops.square(x), axis=(1, 2)) - ops.square(mean)
        return ops.concatenate([mean, ops.sqrt(ops.maximum(var, 0.0) + 1e-6)], axis=-1)


def std_columns(spec: FeatureSpec = FeatureSpec()) -> np.ndarray:
    """Boolean ``(D,)`` mask of the standard-deviation columns in ``spec``'s feature vectors.

    Style features are ``[mean (C), std (C)]`` per tapped layer, layers in order, backbones in
    order; pooled features have no std columns.
    """
    cols = []
    for part in spec.components():
        shape = (part.image_size, part.image_size, 3)
        if part.kind == "pooled":
            cols.append(np.zeros(get_backbone(part.backbone, None, shape, pooling="avg").output_shape[-1], bool))
            continue
        maps = get_backbone(part.backbone, None, shape, outputs=feature_layers(part.backbone))
        for out in maps.output_shape:
            cols += [np.zeros(out[-1], bool), np.ones(out[-1], bool)]
    return np.concatenate(cols)


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
class MirrorAverage(layers.Layer):
    """Apply an inner model to an image batch and to its mirror image; return the mean."""

    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner

    def call(self, x):
        return 0.5 * (self.inner(x) + self.inner(ops.flip(x, axis=2)))

    def get_config(self):
        return {**super().get_config(), "inner": keras.saving.serialize_keras_object(self.inner)}

    @classmethod
    def from_config(cls, config):
        config["inner"] = keras.saving.deserialize_keras_object(config["inner"])
        return cls(**config)


def build_feature_model(spec: FeatureSpec = FeatureSpec()) -> keras.Model:
    """Keras model: ``(batch, S, S, 3)`` RGB 0..255 -> ``(batch, D)`` float32 features (one backbone)."""
    if "+" in spec.backbone or spec.image_size is None:
        parts = spec.components()
        if len(parts) > 1:
            raise ValueError("build_feature_model takes one backbone; embed_files handles joined ones")
        spec = parts[0]
    size = spec.image_size
    inputs = keras.Input((size, size, 3), name="image")
    if spec.kind == "pooled":
        inner = get_backbone(spec.backbone, spec.weights, (size, size, 3), pooling="avg")
    else:
        maps_model = get_backbone(spec.backbone, spec.weights, (size, size, 3), outputs=feature_layers(spec.backbone))
        maps = maps_model(inputs)
        stats = [ChannelStats(name=f"stats{i}")(m) for i, m in enumerate(maps)]
        inner = keras.Model(inputs, layers.Concatenate(name="style")(stats), name="style_features")
    out = MirrorAverage(inner, name="mirror_average")(inputs) if spec.flip else inner(inputs)
    return keras.Model(inputs, out, name=f"features_{spec.key}")


_models: dict = {}


def _feature_model(spec: FeatureSpec):
    """The spec's fastest feature runner (``runtime.feature_runner``), once per spec and process."""
    if spec.key not in _models:
        from .runtime import feature_runner
        _models[spec.key] = feature_runner(spec)
    return _models[spec.key]


class _Cache:
    """Append-only store of feature vectors for one spec, as pairs of files per shard:
    ``shard_*.npy`` holds the vectors, read memory-mapped (a cache of the real competition's
    103,250 paintings is 6.5 GB of default features, too much to load whole), and
    ``shard_*.keys.npy`` their content hashes, written last so that a shard without keys (an
    interrupted write) is ignored.
    """

    def __init__(self, spec: FeatureSpec, root=None):
        self.dir = Path(root or cache_dir() / "features") / spec.key
        self.dir.mkdir(parents=True, exist_ok=True)
        self.index = {}
        self.shards = []
        for keys_file in sorted(self.dir.glob("shard_*.keys.npy")):
            vectors_file = keys_file.with_name(keys_file.name.replace(".keys.npy", ".npy"))
            keys = np.load(keys_file)
            self.shards.append(np.load(vectors_file, mmap_mode="r"))
            for row, key in enumerate(keys):
                self.index[str(key)] = (len(self.shards) - 1, row)

    def get(self, key):
        loc = self.index.get(key)
        return None if loc is None else self.shards[loc[0]][loc[1]]

    def add(self, keys, vectors):
        if not len(keys):
            return
        stem = f"shard_{len(self.shards):05d}_{os.getpid()}"
        for name, array in ((f"{stem}.npy", vectors), (f"{stem}.keys.npy", np.array(keys))):
            tmp = self.dir / f"{name}.part.npy"
            np.save(tmp, array)
            os.replace(tmp, self.dir / name)
        self.shards.append(vectors)
        for row, key in enumerate(keys):
            self.index[key] = (len(self.shards) - 1, row)


def _image_batches(paths, size, batch_size, overlap=None):
    """Yield ``(images, reasons)`` per batch: uint8 ``(b, size, size, 3)`` and a list of ``b``
    items, None for a readable image, else why it cannot be used (its image is zeros).

    A thread pool decodes each batch with every core (Pillow releases the GIL). ``overlap`` (default: when TensorFlow sees a
    GPU) decodes the next batch while the caller works on this one. On a CPU-only machine the
    forward pass already uses every core and its threads wait for whichever core is busy
    decoding, so there decoding waits its turn (measured on 2 cores: 97-108% of the raw
    forward speed against 66-92% for an overlapping tf.data pipeline).
    """
    from concurrent.futures import ThreadPoolExecutor

    def load(p):
        try:
            return load_array(p, size), None
        except ImageError as e:
            return np.zeros((size, size, 3), np.uint8), e.reason

    if overlap is None:
        import tensorflow as tf
        overlap = bool(tf.config.list_logical_devices("GPU"))
    paths = [str(p) for p in paths]
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        def submit(start):
            return [pool.submit(load, p) for p in paths[start:start + batch_size]]

        ahead = None
        for start in range(0, len(paths), batch_size):
            batch = ahead if ahead is not None else submit(start)
            ahead = submit(start + batch_size) if overlap and start + batch_size < len(paths) else None
            images, reasons = zip(*(f.result() for f in batch))
            yield np.stack(images), list(reasons)


def predict_images(model, paths, size, batch_size=32):
    """Run ``model`` over image files in batches; yield ``(paths_chunk, outputs, failed)`` per batch.

    ``outputs`` are numpy arrays (a list for a multi-output model), one row per path;
    ``failed`` is ``{path: reason}`` for the images that could not be read (their rows are
    the output for zeros).
    The last batch is padded to ``batch_size``: a new batch shape would retrace the compiled
    graph and rebuild oneDNN's kernels, seconds on a CPU for every odd-sized tail.
    """
    paths = list(paths)
    # an exported runner says whether decoding should overlap it (runtime.ExportedModel.prefers_overlap)
    batches = _image_batches(paths, size, batch_size, overlap=getattr(model, "prefers_overlap", None))
    for start, (images, reasons) in zip(range(0, len(paths), batch_size), batches):
        n = len(reasons)
        if n < batch_size:
            images = np.concatenate([images, np.zeros((batch_size - n, *images.shape[1:]), images.dtype)])
        # predict_on_batch runs a compiled graph that frees activations as it goes; an eager
        # call keeps every layer's output to the end (Lite2, batch 32: 5.5 GB vs 1.2 GB peak)
        out = model.predict_on_batch(images)
        out = [np.asarray(o)[:n] for o in out] if isinstance(out, (list, tuple)) else np.asarray(out)[:n]
        chunk = paths[start:start + n]
        yield chunk, out, {p: r for p, r in zip(chunk, reasons) if r is not None}


def embed_files(paths, spec: FeatureSpec = FeatureSpec(), batch_size: int = 32, cache: bool = True,
                model=None, progress: bool = True):
    """Features of image files, each image embedded once.

    Parameters
    ----------
    paths : sequence of str or Path, length N
    spec : FeatureSpec
    cache : bool
        Read and write the on-disk cache (``$PAINTER_CACHE/features/<spec.key>/``).
    model : keras.Model, optional
        A ``build_feature_model(spec)`` already built (saves rebuilding it).

    Returns
    -------
    (features, failed) : float32 array ``(N, D)`` with NaN rows for unusable images, and a
        dict ``{path: reason}`` naming every one of them.
    """
    paths = [str(p) for p in paths]
    parts = spec.components()
    if len(parts) > 1 or parts[0] != spec:
        results = [embed_files(paths, part, batch_size, cache, model if len(parts) == 1 else None, progress)
                   for part in parts]
        failed = {k: v for _, f in results for k, v in f.items()}
        return np.concatenate([x for x, _ in results], axis=1), failed
    failed = {}
    digests = {}
    for p in tqdm(paths, desc="hash", unit="img", disable=not progress or not cache or len(paths) < 2000):
        if not os.path.isfile(p):
            failed[p] = "file not found"
            continue
        try:  # the content hash is the cache key; without a cache only readability matters
            if cache:
                digests[p] = file_digest(p)
            else:
                open(p, "rb").close()
                digests[p] = p
        except OSError as e:
            failed[p] = f"cannot read file ({e.strerror or e})"
    store = _Cache(spec) if cache else None
    todo = [p for p in dict.fromkeys(paths) if p in digests and (store is None or store.get(digests[p]) is None)]
    computed = {}
    if todo:
        model = model or _feature_model(spec)
        bar = tqdm(total=len(todo), desc=f"embed {spec.backbone}", unit="img", disable=not progress)
        new_keys, new_vecs = [], []
        for chunk, vecs, bad in predict_images(model, todo, spec.image_size, batch_size):
            failed.update(bad)
            for p, v in zip(chunk, vecs.astype(np.float32)):
                if p not in bad:
                    computed[p] = v
                    new_keys.append(digests[p])
                    new_vecs.append(v)
            bar.update(len(vecs))
            if store is not None and len(new_keys) >= 2048:   # flush: an interrupted run resumes here
                store.add(new_keys, np.stack(new_vecs))
                new_keys, new_vecs = [], []
        bar.close()
        if store is not None and new_keys:
            store.add(new_keys, np.stack(new_vecs))
    dim = None
    rows = []
    for p in paths:
        v = computed.get(p)
        if v is None and p in digests and store is not None:
            v = store.get(digests[p])
        rows.append(v)
        if v is not None and dim is None:
            dim = len(v)
    if dim is None:
        dim = int((model or _feature_model(spec)).output_shape[-1])
    out = np.full((len(paths), dim), np.nan, dtype=np.float32)
    for i, v in enumerate(rows):
        if v is not None:
            out[i] = v
    return out, failed
