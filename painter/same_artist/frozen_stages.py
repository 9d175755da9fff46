"""The frozen lower stages of a fine-tuned backbone and their maps of painting crops, computed once
and cached on disk (by image content), so that a CPU fit runs only the trained top stages."""
from __future__ import annotations

import keras
import numpy as np

from ..cache import content_keys
from ..features.extract import cached_rows
from ..features.inference import image_batches, predict_padded
from ..features.store import FeatureStore
from ..errors import ParameterError

__all__ = ["CROP_FRACTION", "load_size", "split_backbone", "crops_of", "centre_crops", "frozen_maps"]

CROP_FRACTION = 0.875   # crops are 7/8 of the painting's side, as ImageNet's 224 of 256


def load_size(image_size: int) -> int:
    """Side the paintings are loaded at before cropping ``image_size``."""
    return int(round(image_size / CROP_FRACTION))


def split_backbone(backbone, trainable_from):
    """``(bottom, top)``: the backbone cut at the input of layer ``trainable_from`` (or of the
    first layer named ``trainable_from_*``, a block); both share the backbone's layers."""
    first = next((layer for layer in backbone.layers
                  if layer.name == trainable_from or layer.name.startswith(f"{trainable_from}_")), None)
    if first is None:
        raise ParameterError(f"trainable_from={trainable_from!r}: no such layer or block in {backbone.name}")
    cut = first.input
    if isinstance(cut, (list, tuple)):
        raise ParameterError(f"trainable_from={trainable_from!r}: {first.name} has several inputs; "
                         "choose the first layer of a block")
    return (keras.Model(backbone.input, cut, name="frozen_stages"),
            keras.Model(cut, backbone.output, name="trained_stages"))



def crops_of(image, size, k, rng):
    """``k`` random ``size`` crops of an image, each flipped left-right or not; ``k=0``: the centre crop."""
    h, w = image.shape[:2]
    if k == 0:
        y, x = (h - size) // 2, (w - size) // 2
        return image[None, y:y + size, x:x + size]
    out = []
    for _ in range(k):
        y, x = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
        crop = image[y:y + size, x:x + size]
        out.append(crop[:, ::-1] if rng.random() < 0.5 else crop)
    return np.stack(out)


def centre_crops(paths, size):
    crops, failed = [], {}
    for images, reasons in image_batches(list(paths), load_size(size), 32):
        crops += [crops_of(im, size, 0, None)[0] for im in images]
        failed.update({p: r for p, r in zip(paths[len(crops) - len(images):len(crops)], reasons) if r})
    return np.stack(crops).astype(np.float32), failed


def frozen_maps(bottom, paths, image_size, crops, key, seed=0, batch_size=32, progress=True):
    """The frozen stages' maps of ``crops`` random crops of every painting (``crops=0``: the
    centre crop), computed once and cached on disk under ``key`` by image content
    (``painter.features.cached_rows``, as features are).

    Returns ``(maps (n, max(crops, 1), h, w, C) float16, failed {path: reason})``, zeros for the
    paintings in ``failed``; an image's crops depend on its content and ``seed`` only, not on
    which others are computed with it.
    """
    paths = [str(p) for p in paths]
    digests, failed = content_keys(paths, progress=progress)
    k = max(crops, 1)
    rows = cached_rows(paths, digests, failed, FeatureStore(key),
                       lambda todo: _crop_maps(bottom, todo, digests, image_size, crops, seed, batch_size),
                       f"frozen maps x{k}", progress, np.float16)
    shape = bottom.compute_output_shape((1, image_size, image_size, 3))[1:]
    out = np.zeros((len(paths), k, *shape), np.float16)
    for row, v in enumerate(rows):
        if v is not None:
            out[row] = np.asarray(v).reshape(k, *shape)
    return out, failed


def _crop_maps(bottom, paths, digests, image_size, crops, seed, batch_size):
    """``(paths_chunk, maps, failed)`` per batch of paintings, as ``predict_images``: each one's
    crops (drawn from its content and ``seed``) through ``bottom``, flattened into one row."""
    batches = image_batches(paths, load_size(image_size), batch_size)
    for start, (images, reasons) in zip(range(0, len(paths), batch_size), batches):
        chunk = paths[start:start + len(images)]
        x = np.concatenate([crops_of(im, image_size, crops, np.random.default_rng([seed, int(digests[p][:12], 16)]))
                            for p, im in zip(chunk, images)]).astype(np.float32)
        maps = predict_padded(bottom, x, batch_size * max(crops, 1)).reshape(len(chunk), -1)
        yield chunk, maps, {p: r for p, r in zip(chunk, reasons) if r}

