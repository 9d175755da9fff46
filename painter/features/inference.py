"""Running a feature model over image files: in batches of one shape (``predict_padded``), whole
paintings (``predict_images``) or each painting's views pooled into one row (``predict_views``;
``FeatureSpec.views``), and ``predict_features``, which picks between them for a spec. Nothing
here reads or writes the feature store (``extract``)."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..data.images import ImageError, load_array
from ..data.views import read_views

__all__ = ["image_batches", "predict_padded", "predict_images", "pool_views", "predict_views", "predict_features"]

EAGER_MAX = 4   # rows a Keras model runs eagerly (predict_padded); memory grows with them
_PAINTINGS_PER_CHUNK = 8   # views of 8 paintings (up to 8 x 28 images) in memory at a time


def image_batches(paths, size, batch_size, overlap=None):
    """Yield ``(images, reasons)`` per batch: uint8 ``(b, size, size, 3)`` and a list of ``b``
    items, None for a readable image, else why it cannot be used (its image is zeros).

    A thread pool decodes each batch with every core (Pillow releases the GIL). ``overlap``
    (default: when TensorFlow sees a GPU) decodes the next batch while the caller works on this
    one. On a CPU-only machine the forward pass already uses every core and its threads wait for whichever core is busy
    decoding, so there decoding waits its turn (measured on 2 cores: 97-108% of the raw
    forward speed against 66-92% for an overlapping tf.data pipeline).
    """
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


def predict_padded(model, x, batch_size=32):
    """``model.predict_on_batch`` over an array ``(n, ...)`` in batches of one shape, the last
    padded with zeros and their rows dropped: a new batch shape would retrace the compiled graph
    and rebuild oneDNN's kernels, seconds on a CPU for every odd-sized tail. Returns ``(n, ...)``
    float arrays (a list for a multi-output model).

    A Keras model (callable, unlike an exported one) given at most ``EAGER_MAX`` rows (a one-shot
    command's paintings, a short tail) runs them eagerly instead: tracing the graph costs more
    than the eager call (Lite0 / Lite1 on two paintings: 0.7 / 0.9 s against 0.16 / 0.22 s), and
    so does padding them to 32."""
    if len(x) <= EAGER_MAX and callable(model):
        out = model(x, training=False)
        return [np.asarray(o) for o in out] if isinstance(out, (list, tuple)) else np.asarray(out)
    parts = []
    for start in range(0, len(x), batch_size):
        chunk = x[start:start + batch_size]
        n = len(chunk)
        if n < batch_size:
            chunk = np.concatenate([chunk, np.zeros((batch_size - n, *chunk.shape[1:]), chunk.dtype)])
        # predict_on_batch runs a compiled graph that frees activations as it goes; an eager
        # call keeps every layer's output to the end (Lite2, batch 32: 5.5 GB vs 1.2 GB peak)
        out = model.predict_on_batch(chunk)
        parts.append([np.asarray(o)[:n] for o in out] if isinstance(out, (list, tuple)) else np.asarray(out)[:n])
    if parts and isinstance(parts[0], list):
        return [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]
    return np.concatenate(parts)


def predict_images(model, paths, size, batch_size=32):
    """Run ``model`` over image files in batches; yield ``(paths_chunk, outputs, failed)`` per batch.

    ``outputs`` are numpy arrays (a list for a multi-output model), one row per path;
    ``failed`` is ``{path: reason}`` for the images that could not be read (their rows are
    the output for zeros).
    The last batch is padded to ``batch_size`` (``predict_padded``).
    """
    paths = list(paths)
    # an exported runner says whether decoding should overlap it (runtime.ExportedModel.prefers_overlap)
    batches = image_batches(paths, size, batch_size, overlap=getattr(model, "prefers_overlap", None))
    for start, (images, reasons) in zip(range(0, len(paths), batch_size), batches):
        n = len(reasons)
        out = predict_padded(model, images, batch_size)
        chunk = paths[start:start + n]
        yield chunk, out, {p: r for p, r in zip(chunk, reasons) if r is not None}


def pool_views(whole, tiles, scale_of, how: str = "mean") -> np.ndarray:
    """One painting's features ``(D,)`` from its whole view's ``(D,)`` and its tiles' ``(n, D)``
    (``scale_of``: each tile's scale): ``"mean"`` of every view, or ``"scales"``: the mean of the
    whole view and of each scale's mean tile."""
    if not len(tiles):
        return whole
    if how == "mean":
        return np.concatenate([whole[None], tiles]).mean(axis=0)
    parts = [whole] + [tiles[scale_of == s].mean(axis=0) for s in np.unique(scale_of)]
    return np.mean(parts, axis=0)


def _read(path, spec):
    try:
        return read_views(path, spec.image_size, spec.views), None
    except ImageError as e:
        return None, e.reason


def predict_views(model, paths, spec, batch_size=32):
    """Run ``model`` (the whole-painting feature model of ``spec``) over every view of the
    paintings in ``paths``; yield ``(paths_chunk, features (n, D), failed)`` per chunk of
    paintings, as ``predict_images`` does for whole paintings."""
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        for start in range(0, len(paths), _PAINTINGS_PER_CHUNK):
            chunk = paths[start:start + _PAINTINGS_PER_CHUNK]
            read = list(pool.map(lambda p: _read(p, spec), chunk))
            ok = [r for r, _ in read if r is not None]
            if not ok:
                yield chunk, np.zeros((len(chunk), 0), np.float32), {p: why for p, (_, why) in zip(chunk, read)}
                continue
            images = np.concatenate([np.concatenate([whole[None], tiles]) for whole, tiles, _ in ok])
            out = predict_padded(model, images, batch_size)
            rows, at = [], 0
            for whole, tiles, scale_of in ok:
                rows.append(pool_views(out[at], out[at + 1:at + 1 + len(tiles)], scale_of, spec.view_pool))
                at += 1 + len(tiles)
            vectors = np.zeros((len(chunk), out.shape[1]), np.float32)
            vectors[[k for k, (r, _) in enumerate(read) if r is not None]] = rows
            yield chunk, vectors, {p: why for p, (r, why) in zip(chunk, read) if r is None}


def predict_features(model, paths, spec, batch_size=32):
    """``predict_images`` for one backbone's ``spec``: with views, each painting's views pooled
    (``predict_views``)."""
    if spec.views:
        return predict_views(model, paths, spec, batch_size)
    return predict_images(model, paths, spec.image_size, batch_size)
