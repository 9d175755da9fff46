"""Frozen-backbone image features, computed once per image and cached on disk.

A painter's hand shows in colour and texture statistics more than in what is depicted, so
the default features are "style" statistics: the per-channel mean and standard deviation of
rectified maps at several depths (Gatys-style; ``backbones.feature_layers``), not only the
last pooled vector.

The store is keyed by the image file's content (SHA-1) and the feature spec (backbone,
weights, size, summary), so renamed or re-cleaned files are not embedded again.
"""
from __future__ import annotations

import os

import numpy as np
from tqdm.auto import tqdm

from ..cache import content_key
from ..data.images import ImageError, load_array, not_a_file
from .cluster import cluster_client, embed_on_cluster, hash_on_cluster
from .runner import feature_model, store_and_runner
from .spec import DEFAULT_FEATURES, FeatureSpec
from .store import missing_rows

__all__ = ["image_batches", "predict_padded", "predict_images", "predict_features", "extract_features", "embedded",
           "content_keys", "cached_rows"]

EAGER_MAX = 4   # rows a Keras model runs eagerly (predict_padded); memory grows with them


def image_batches(paths, size, batch_size, overlap=None):
    """Yield ``(images, reasons)`` per batch: uint8 ``(b, size, size, 3)`` and a list of ``b``
    items, None for a readable image, else why it cannot be used (its image is zeros).

    A thread pool decodes each batch with every core (Pillow releases the GIL). ``overlap``
    (default: when TensorFlow sees a GPU) decodes the next batch while the caller works on this
    one. On a CPU-only machine the forward pass already uses every core and its threads wait for whichever core is busy
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


def extract_features(paths, spec: FeatureSpec = DEFAULT_FEATURES, batch_size: int = 32, cache: bool = True,
                     model=None, progress: bool = True, client=None):
    """Features of image files, each image embedded once.

    Parameters
    ----------
    paths : sequence of str or Path, length N
    spec : FeatureSpec
    cache : bool
        Read and write the feature store (``$PAINTER_CACHE/features/<spec.key>/``).
    model : keras.Model, optional
        A runner of ``spec`` already made (``build_feature_model``, ``feature_model``); its
        ``runtime`` names the store. Without it, ``feature_model(spec)`` is made only when some
        features are not in the store.
    client : dask.distributed.Client, optional
        Embed the images the store lacks on this Dask cluster's workers, which write them into
        the store (``painter.features.cluster``); default: ``$PAINTER_DASK_SCHEDULER``'s, if set.
        Used with the store and without ``model`` only.

    Returns
    -------
    (features, failed) : float32 array ``(N, D)`` with NaN rows for unusable images, and a
        dict ``{path: reason}`` naming every one of them.
    """
    paths = [str(p) for p in paths]
    parts = spec.components()
    if len(parts) > 1 or parts[0] != spec:
        results = [extract_features(paths, part, batch_size, cache, model if len(parts) == 1 else None, progress,
                                    client) for part in parts]
        failed = {k: v for _, f in results for k, v in f.items()}
        return np.concatenate([x for x, _ in results], axis=1), failed
    if spec.views:
        from .views import extract_view_features
        return extract_view_features(paths, spec, batch_size, cache, model, progress, client)
    return embedded(paths, spec, batch_size, cache, model, progress, client)


def predict_features(model, paths, spec, batch_size=32):
    """``predict_images`` for one backbone's ``spec``: with views, each painting's views pooled
    (``views.predict_views``)."""
    if spec.views:
        from .views import predict_views
        return predict_views(model, paths, spec, batch_size)
    return predict_images(model, paths, spec.image_size, batch_size)


def embedded(paths, spec, batch_size, cache, model, progress, client):
    """``extract_features`` of one backbone's ``spec`` over these very files (views of each,
    without asking which have tiles): read from the store, computed by ``model`` or on the
    cluster."""
    cache = cache and not spec.random_weights   # a random draw's features are not the spec's
    client = cluster_client(client) if cache and model is None else None
    digests, failed = hash_on_cluster(client, paths, progress) if client is not None else content_keys(
        paths, cache, progress)
    if client is not None:
        store = embed_on_cluster(client, spec, paths, digests, failed, batch_size, progress)
        rows = [store.get(digests[p]) if p in digests else None for p in paths]
    else:
        store, model = store_and_runner(spec, model, paths, digests) if cache else (None, model)
        rows = cached_rows(paths, digests, failed, store,
                           lambda todo: predict_features(model or feature_model(spec), todo, spec, batch_size),
                           f"embed {spec.backbone}{' views' if spec.views else ''}", progress)
    dim = next((len(v) for v in rows if v is not None), None)
    if dim is None:   # no image usable: only the model knows the width
        dim = int((model or feature_model(spec)).output_shape[-1])
    out = np.full((len(paths), dim), np.nan, dtype=np.float32)
    for i, v in enumerate(rows):
        if v is not None:
            out[i] = v
    return out, failed


def content_keys(paths, cache=True, progress=True):
    """``({path: content hash}, {path: reason})``; without a cache only readability is checked
    (each readable path is its own key)."""
    digests, failed = {}, {}
    for p in tqdm(paths, desc="hash", unit="img", disable=not progress or not cache or len(paths) < 2000):
        if not os.path.isfile(p):
            failed[p] = not_a_file(p)
            continue
        try:
            if cache:
                digests[p] = content_key(p)
            else:
                open(p, "rb").close()
                digests[p] = p
        except OSError as e:
            failed[p] = f"cannot read file ({e.strerror or e})"
    return digests, failed


def cached_rows(paths, digests, failed, store, compute, desc, progress=True, dtype=np.float32):
    """A vector per path of ``paths``, None for an unusable image (its reason added to ``failed``).

    Vectors are read from ``store`` by ``digests`` (``content_keys``); the missing ones are
    computed once by ``compute(todo)``, which yields ``(paths_chunk, vectors, failed)`` per batch
    (as ``predict_images``), and stored as ``dtype`` every 2,048 images (an interrupted run
    resumes there). Without a store every readable image is computed.
    """
    todo = missing_rows(paths, digests, store)
    computed, new_keys, new_vecs, done = {}, [], [], 0
    bar = tqdm(total=len(todo), desc=desc, unit="img", disable=not progress or not todo)
    for chunk, vecs, bad in compute(todo) if todo else ():
        failed.update(bad)
        for p, v in zip(chunk, vecs.astype(dtype)):
            if p in bad:
                continue
            if store is None:
                computed[p] = v
            else:   # read back from the store with the rest: one copy in memory
                new_keys.append(digests[p])
                new_vecs.append(v)
        bar.update(len(chunk))
        done += len(chunk)
        if new_keys and (len(new_keys) >= 2048 or done == len(todo)):
            store.add(new_keys, np.stack(new_vecs))
            new_keys, new_vecs = [], []
    bar.close()
    if store is None:
        return [computed.get(p) for p in paths]
    return [store.get(digests[p]) if p in digests else None for p in paths]
