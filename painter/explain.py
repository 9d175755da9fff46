"""Which regions of two paintings carry their same-artist similarity: occlusion maps.

For painting A, a grid of overlapping square patches (``grid`` x ``grid``, each patch two strides
wide, so every pixel lies under up to four patches) is masked one patch at a time with the
painting's mean colour, B staying whole, and each masked A is scored against B. A pixel's value
is the mean, over the patches covering it, of the drop in the pair logit ``log(P / (1 - P))``:

    map_A(pixel) = mean over patches ∋ pixel of [logit(A, B) - logit(A with the patch masked, B)]

and likewise for B with A whole. Every masked image goes through the same frozen backbones
(each at its own input size; the patch covers the same fraction of the image) and the model's
embedder, in batches; nothing is random, so the maps are deterministic.

What the maps show, and what they do not: a positive region is one whose removal lowers the
score, a negative one whose removal raises it. The features are global style statistics (means
and spreads of feature maps over the whole picture), so a patch matters through its share of
those statistics: the maps point to the passages whose colour and texture make the statistics
alike, not to a signature, a motif or a brushstroke the model has "recognised". Masking also
adds a flat grey-ish square the network never saw in training, so the drops mix the loss of the
patch with the effect of the fill; the patch size sets the resolution. The maps explain this
model's score, right or wrong, not the painter's hand. ``randomized_model`` gives the sanity
check of Adebayo et al. (2018): maps of a model with random weights must look different.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .data.images import load_array, load_image
from .errors import ParameterError

__all__ = ["PairExplanation", "explain_pair", "occlusion_boxes", "plot_explanation", "randomized_model"]


@dataclass
class PairExplanation:
    """Occlusion maps of one pair.

    map_a, map_b : ``(H, W)`` float32 maps at each painting's own shape (as ``load_image`` reads
        it; reduced to ``max_side``), in pair-logit units; NaN outside the centred square the
        model sees
    probability : P(same artist) of the whole pair; logit : its pair logit
    grid : patches per side (0: tile maps, ``painter.explain_tiles``); paths : ``(a, b)``
    """
    map_a: np.ndarray
    map_b: np.ndarray
    probability: float
    logit: float
    grid: int
    paths: tuple = field(default=("", ""))


def occlusion_boxes(grid: int = 7):
    """Patches as fractions of the side: ``(grid**2, 4)`` rows ``(top, bottom, left, right)``.

    The stride is ``1 / (grid + 1)`` and a patch is two strides wide, so neighbours overlap by
    half and the patches tile the square."""
    stride = 1.0 / (grid + 1)
    starts = np.arange(grid) * stride
    top, left = np.meshgrid(starts, starts, indexing="ij")
    top, left = top.ravel(), left.ravel()
    return np.stack([top, top + 2 * stride, left, left + 2 * stride], axis=1)


def _pixels(boxes, side):
    return np.rint(boxes * side).astype(int)


def _occluded(image, boxes):
    """``(1 + n_boxes, S, S, 3)`` float32: the image, then one copy per box masked with its mean colour."""
    side = image.shape[0]
    fill = image.reshape(-1, 3).mean(axis=0)
    out = np.repeat(image[None].astype(np.float32), len(boxes) + 1, axis=0)
    for k, (t, b, l, r) in enumerate(_pixels(boxes, side), start=1):
        out[k, t:b, l:r] = fill
    return out


def _features(paths, boxes, spec, batch_size):
    """Features ``(1 + n_boxes, D)`` per path: the image and its masked copies, through every
    component backbone of ``spec`` (concatenated as ``painter.features`` does). The images are
    loaded as ``embed_files`` loads them, so the unmasked score is ``predict_pair``'s."""
    from .features import feature_model, predict_padded
    parts = []
    for component in spec.components():
        model = feature_model(component)
        size = component.image_size
        per_image = []
        for path in paths:
            per_image.append(predict_padded(model, _occluded(load_array(path, size), boxes), batch_size))
        parts.append(per_image)
    return [np.concatenate([p[i] for p in parts], axis=1) for i in range(len(paths))]


def _logits(model, za, zb):
    """Pair logits of row-aligned embeddings."""
    if model.scorer == "dot":
        return np.einsum("ij,ij->i", za.astype(np.float64), zb.astype(np.float64)) + model.bias
    from scipy.special import logit
    return logit(np.clip(model.score(za, zb).astype(np.float64), 1e-7, 1 - 1e-7))


def _paint_map(drops, boxes, height, width):
    """Average the patch drops over the pixels of the centred square of an ``(H, W)`` image."""
    side = min(height, width)
    total = np.zeros((side, side))
    count = np.zeros((side, side))
    for d, (t, b, l, r) in zip(drops, _pixels(boxes, side)):
        total[t:b, l:r] += d
        count[t:b, l:r] += 1
    out = np.full((height, width), np.nan, np.float32)
    top, left = (height - side) // 2, (width - side) // 2
    out[top:top + side, left:left + side] = total / np.maximum(count, 1)
    return out


def explain_pair(a, b, model=None, grid: int = 7, batch_size: int = 25, max_side: int | None = 2048) -> PairExplanation:
    """Occlusion maps of where paintings ``a`` and ``b`` look like one artist's work (module docstring).

    Parameters
    ----------
    a, b : image paths
    model : ``PairModel``, model folder or None (the default model)
    grid : patches per side (``grid**2`` masked copies of each painting)
    batch_size : images per forward pass
    max_side : maps of larger images are drawn at this long side (museum scans would make maps
        of hundreds of megabytes); None: always the image's own shape

    Returns a ``PairExplanation``: ``map_a (H_a, W_a)``, ``map_b (H_b, W_b)`` (drop of the pair
    logit when the region is masked), ``probability`` = P(same artist) of the unmasked pair.
    Raises ``ImageError`` (one line: file and reason) for an unreadable image.
    """
    from scipy.special import expit
    if grid < 1:
        raise ParameterError(f"grid must be >= 1, got {grid}")
    shapes = []
    for path in (a, b):   # the shape the maps are drawn at; ImageError for an unusable file
        width, height = load_image(path).size
        scale = min(1.0, max_side / max(height, width)) if max_side else 1.0
        shapes.append((max(1, round(height * scale)), max(1, round(width * scale))))
    from .same_artist.predict import load_pair_model   # TensorFlow: only once both images are known to be usable
    model = load_pair_model(model)
    if model.spec is None:   # the maps come from masking the frozen backbones' input
        from .errors import InputError
        raise InputError(f"{model.directory or 'model'}: explain needs a model on frozen features (lda, cosface, "
                         f"contrastive, triplet); this {model.method} model reads the images itself")
    boxes = occlusion_boxes(grid)
    Fa, Fb = _features((a, b), boxes, model.spec, batch_size)
    Za, Zb = model.embed_features(Fa), model.embed_features(Fb)
    base = float(_logits(model, Za[:1], Zb[:1])[0])
    drop_a = base - _logits(model, Za[1:], np.repeat(Zb[:1], len(boxes), axis=0))
    drop_b = base - _logits(model, np.repeat(Za[:1], len(boxes), axis=0), Zb[1:])
    maps = [_paint_map(d, boxes, *shape) for d, shape in zip((drop_a, drop_b), shapes)]
    return PairExplanation(maps[0], maps[1], float(expit(base)), base, grid, (str(a), str(b)))


def randomized_model(model=None, part: str = "embedder", seed: int = 0):
    """A copy of a ``PairModel`` with random weights, for the sanity check of Adebayo et al. (2018).

    part : ``"embedder"`` (every embedder weight replaced by Gaussian noise of the same mean and
        spread, the bias kept) or ``"backbone"`` (the frozen backbones with random initial
        weights instead of the trained ones, drawn here from ``seed``: the process's random
        backbones until the next draw; their features are never cached), or ``"both"``. An
        explanation that barely changes under either does not depend on what the model learned.
    """
    import keras

    from .same_artist.model import PairModel
    from .same_artist.predict import load_pair_model
    if part not in ("embedder", "backbone", "both"):
        raise ValueError(f"part must be 'embedder', 'backbone' or 'both', got {part!r}")
    model = load_pair_model(model, exported=False)   # its Keras weights are randomised
    if not hasattr(model.embedder, "get_weights") and model.directory is not None:   # an exported embedder
        model = load_pair_model(model.directory, exported=False)
    spec, embedder = model.spec, model.embedder
    rng = np.random.default_rng(seed)
    if part in ("embedder", "both"):
        embedder = keras.models.clone_model(model.embedder)
        weights = model.embedder.get_weights()
        embedder.set_weights([w if w.ndim < 2 else (rng.normal(w.mean(), w.std() + 1e-12, w.shape)).astype(w.dtype)
                              for w in weights])
    if part in ("backbone", "both"):
        from .features.serving import draw_random
        keras.utils.set_random_seed(seed)   # the backbones' initialisers draw from it
        spec = dataclasses.replace(spec, weights=None)
        for component in spec.components():   # drawn once: every later use of this model sees them
            draw_random(component)
    return PairModel(spec, embedder, model.scorer, model.bias, model.head, model.threshold, model.method,
                     {**model.info, "randomized": part})


def plot_explanation(expl: PairExplanation, path="explanation.png", alpha: float = 0.55):
    """PNG: the two paintings (top) and their occlusion maps over them in grey (bottom), with P(same)."""
    import matplotlib.pyplot as plt

    from .plots import save_figure as _save
    finite = np.concatenate([m[np.isfinite(m)] for m in (expl.map_a, expl.map_b)])
    lim = float(np.abs(finite).max()) if finite.size else 1.0
    fig, axes = plt.subplots(2, 2, figsize=(8, 8.6), layout="constrained")
    for c, (p, m) in enumerate(zip(expl.paths, (expl.map_a, expl.map_b))):
        im = load_image(p)
        im = np.asarray(im if im.size == (m.shape[1], m.shape[0]) else im.resize((m.shape[1], m.shape[0])))
        axes[0, c].imshow(im)
        axes[0, c].set_title(Path(p).name, fontsize=9)
        axes[1, c].imshow(im.mean(axis=2), cmap="gray")   # grey underneath: the map's colours stay readable
        shown = axes[1, c].imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim, alpha=alpha)
        for ax in axes[:, c]:
            ax.axis("off")
    fig.colorbar(shown, ax=axes[1, :], orientation="horizontal", shrink=0.6,
                 label="drop of the pair logit when masked: red supports 'same artist', blue speaks against")
    how = f"occlusion, {expl.grid}x{expl.grid} patches" if expl.grid else "each tile left out in turn"
    fig.suptitle(f"P(same artist) = {expl.probability:.3f}   ({how})")
    return _save(fig, path)
