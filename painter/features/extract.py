"""Frozen-backbone image features, computed once per image and cached on disk.

A painter's hand shows in colour and texture statistics more than in what is depicted, so
the default features are "style" statistics: the per-channel mean and standard deviation of
rectified maps at several depths (Gatys-style; ``backbones.feature_layers``), not only the
last pooled vector.

The store is keyed by the image file's content (SHA-1) and the feature spec (backbone,
weights, size, summary), so renamed or re-cleaned files are not embedded again. The model runs
over the images in ``inference``; on a Dask cluster the workers run it (``cluster``).

With views (``FeatureSpec.views``, paintings seen at their own scale), a painting with no tile at
any scale (a thumbnail) has its whole-painting features, read from and written to the store of the
spec without views: thumbnail collections cost what they cost without views, and share their cache
with it. A cleaned folder's detail copy (``painter clean --detail``) is read in place of its square.
"""
from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from ..cache import content_keys
from ..data.cleaning import detail_copy
from ..data.views import has_tiles
from .cluster import cluster_client, embed_on_cluster, hash_on_cluster
from .inference import predict_features
from .serving import feature_model, store_and_runner
from .spec import DEFAULT_FEATURES, FeatureSpec
from .store import missing_rows

__all__ = ["extract_features", "backbone_features", "extract_view_features", "cached_rows"]


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
        return extract_view_features(paths, spec, batch_size, cache, model, progress, client)
    return backbone_features(paths, spec, batch_size, cache, model, progress, client)


def backbone_features(paths, spec, batch_size, cache, model, progress, client):
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


def extract_view_features(paths, spec, batch_size, cache, model, progress, client=None):
    """``extract_features`` for one backbone's spec with views: ``(features, failed)``.
    The paintings without tiles take the whole-painting path (``spec.whole()``), the others their
    views'."""
    sources = [detail_copy(p) for p in paths]
    tiled = np.array([has_tiles(s, spec.image_size, spec.views) for s in sources], bool)
    # each group embedded once; an empty call only where there is nothing at all (the width from the model)
    groups = [(m, part) for m, part in ((~tiled, spec.whole()), (tiled, spec)) if m.any()] or [(tiled, spec)]
    out, failed = None, {}
    for mask, part in groups:
        chosen = [s for s, m in zip(sources, mask) if m]
        F, bad = backbone_features(chosen, part, batch_size, cache, model, progress, client)
        if out is None:
            out = np.full((len(paths), F.shape[1]), np.nan, dtype=np.float32)
        out[mask] = F
        failed.update(bad)
    return out, {p: failed[s] for p, s in zip(paths, sources) if s in failed}


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
