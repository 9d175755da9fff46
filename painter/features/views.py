"""Features of paintings seen at their own scale (``FeatureSpec.views``): each painting's views
(``painter.data.views``) run through the whole-painting feature model and pooled into one row.

A painting with no tile at any scale (a thumbnail) has its whole-painting features, read from
and written to the store of the spec without views: thumbnail collections cost what they cost
without views, and share their cache with it. A cleaned folder's detail copy
(``painter clean --detail``) is read in place of its square. On a Dask cluster
(``features.cluster``) the workers embed the views as they embed whole paintings.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..data.cleaning import detail_copy
from ..data.images import ImageError
from ..data.views import has_tiles, read_views

__all__ = ["pool_views", "predict_views", "extract_view_features"]

_PAINTINGS_PER_CHUNK = 8   # views of 8 paintings (up to 8 x 28 images) in memory at a time


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
    paintings, as ``extract.predict_images`` does for whole paintings."""
    from .extract import predict_padded

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


def extract_view_features(paths, spec, batch_size, cache, model, progress, client=None):
    """``extract.extract_features`` for one backbone's spec with views: ``(features, failed)``.
    The paintings without tiles take the whole-painting path (``spec.whole()``), the others their
    views'."""
    from .extract import embedded

    sources = [detail_copy(p) for p in paths]
    tiled = np.array([has_tiles(s, spec.image_size, spec.views) for s in sources], bool)
    # each group embedded once; an empty call only where there is nothing at all (the width from the model)
    groups = [(m, part) for m, part in ((~tiled, spec.whole()), (tiled, spec)) if m.any()] or [(tiled, spec)]
    out, failed = None, {}
    for mask, part in groups:
        F, bad = embedded([s for s, m in zip(sources, mask) if m], part, batch_size, cache, model, progress, client)
        if out is None:
            out = np.full((len(paths), F.shape[1]), np.nan, dtype=np.float32)
        out[mask] = F
        failed.update(bad)
    return out, {p: failed[s] for p, s in zip(paths, sources) if s in failed}
