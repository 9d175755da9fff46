"""Which tiles of two paintings carry their same-artist evidence, for features with views.

A model on features with views (``FeatureSpec.views``) pools each painting's whole view and its
tiles. Leaving one tile of painting A out of A's pooled features, B staying whole, and scoring the
pair again gives that tile's share of the evidence:

    drop(tile) = logit(A, B) - logit(A without the tile, B)

painted over the tile's place in the painting (where tiles overlap, the mean of their drops), and
likewise for B. The maps come out as a ``PairExplanation`` (``plot_explanation`` draws them); a
painting without tiles (a thumbnail) has an empty map: its evidence is the whole view alone,
which ``explain_pair``'s occlusion maps show.
"""
from __future__ import annotations

import numpy as np

from .data.images import load_image
from .data.views import MAX_SIDE, view_boxes
from .errors import InputError
from .explain import PairExplanation, _logits

__all__ = ["explain_tiles"]


def _views(path, read_size, spec, batch_size):
    """Per component backbone: ``(whole (D_c,), tiles (n_c, D_c), scale_of (n_c,), boxes (n_c, 4))``
    of one painting read at ``read_size`` (as ``read_views`` reads it), boxes as fractions of its
    width and height."""
    from .data.views import read_views
    from .features import feature_model, predict_padded
    width, height = read_size
    out = []
    for component in spec.components():
        size = component.image_size
        whole, tiles, scale_of = read_views(path, size, component.views)
        rows = predict_padded(feature_model(component), np.concatenate([whole[None], tiles]), batch_size)
        boxes = np.array([box for _, box in view_boxes(width, height, size, component.views)], float).reshape(-1, 4)
        out.append((rows[0], rows[1:], scale_of, boxes / [width, height, width, height]))
    return out


def _leave_one_out(parts, how):
    """Rows ``(1 + n_tiles, D)``: the painting's features, then without each tile in turn."""
    from .features.inference import pool_views
    pooled = [pool_views(w, t, s, how) for w, t, s, _ in parts]
    rows = [np.concatenate(pooled)]
    for c, (whole, tiles, scale_of, _) in enumerate(parts):
        for k in range(len(tiles)):
            keep = np.arange(len(tiles)) != k
            rows.append(np.concatenate(pooled[:c] + [pool_views(whole, tiles[keep], scale_of[keep], how)]
                                       + pooled[c + 1:]))
    return np.stack(rows)


def _paint(drops, boxes, height, width):
    total, count = np.zeros((height, width)), np.zeros((height, width))
    for d, (left, top, right, bottom) in zip(drops, boxes):
        t, b = round(top * height), round(bottom * height)
        lft, r = round(left * width), round(right * width)
        total[t:b, lft:r] += d
        count[t:b, lft:r] += 1
    out = np.full((height, width), np.nan, np.float32)
    out[count > 0] = (total / np.maximum(count, 1))[count > 0]
    return out


def explain_tiles(a, b, model=None, context=None, batch_size: int = 32, max_side: int = 1024) -> PairExplanation:
    """Tile maps of how much each tile of ``a`` and ``b`` adds to their same-artist score.

    Parameters
    ----------
    a, b : image paths
    model : a ``PairModel``, a model folder, or None (the default model); on features with views,
        or given a ``context`` at its own resolution (which reads them with views)
    context : the collection the paintings come from, as ``predict_pair`` takes it
    max_side : long side the maps are drawn at

    Returns a ``PairExplanation`` (``grid`` 0): ``map_a (H_a, W_a)``, ``map_b (H_b, W_b)``, the
    drop of the pair logit when each tile is left out (NaN where no tile lies), and P(same) of the
    pair as ``predict_pair`` gives it. Raises ``ImageError`` (one line: file and reason) for an
    unreadable image, before anything else is loaded.
    """
    from scipy.special import expit

    from .same_artist.predict import load_pair_model
    read_sizes = [load_image(p, max_side=MAX_SIDE).size for p in (a, b)]   # ImageError before the model loads
    model = load_pair_model(model)
    if context is not None and model.spec is not None:
        from .same_artist.context import CollectionContext
        model = CollectionContext.cached(context).adapt(model)
    if model.spec is None or not model.spec.views:
        raise InputError(f"{model.directory or 'model'}: tile maps need features with views: a model trained "
                         "with --views, or a context collection at its own resolution; explain_pair's occlusion "
                         "maps serve the others")
    parts = [_views(p, size, model.spec, batch_size) for p, size in zip((a, b), read_sizes)]
    Za, Zb = (model.embed_features(_leave_one_out(p, model.spec.view_pool)) for p in parts)
    base = float(_logits(model, Za[:1], Zb[:1])[0])
    drop_a = base - _logits(model, Za[1:], np.repeat(Zb[:1], len(Za) - 1, axis=0))
    drop_b = base - _logits(model, np.repeat(Za[:1], len(Zb) - 1, axis=0), Zb[1:])
    maps = []
    for path, drops, views in zip((a, b), (drop_a, drop_b), parts):
        width, height = load_image(path, max_side=max_side).size
        maps.append(_paint(drops, np.concatenate([v[3] for v in views]), height, width))
    return PairExplanation(maps[0], maps[1], float(expit(base)), base, 0, (str(a), str(b)))
