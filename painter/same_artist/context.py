"""The user's collection as context: answers adapted to paintings from another source.

Museum photographs, full-resolution scans or another archive's paintings differ from the model's
training paintings all in the same way (camera, lighting, varnish, JPEG): in the model's whitened
LDA space their mean lies far from the training paintings' mean, which is zero by construction
(the projection is fitted on centred data). Every painting then resembles the same few known
artists, every pair looks alike, and the verdict says "same artist" for most pairs.

Unlabelled paintings of the collection show that shift. ``adapt(model, features)`` subtracts
their mean from the projection's output (a change of the projection layer's bias, so the adapted
model is one ``PairModel`` again), shrunk towards no shift by how much of it may be noise: the
positive-part James-Stein factor ``1 - k tr(Cov) / (n |mean|^2)``, with ``k = DESIGN_EFFECT``. A
collection from the training source has a mean near zero and does not move; one from another
source moves by most of its mean (figures per source in ``benchmarks/RESULTS.md``).

    context paintings -> features (cached) -> mean in each projection's space -> shifted bias
                                            -> groups of the collection joining the artists

The collection's paintings are also grouped (``collection_groups``): a painter the model never
learned gets groups of their own paintings, beside the learned artists, in every profile. A model
that learned more than one source (``source_shift``) has its shift turned off and, where the
collection got groups, its source prior on: each painting's profile weighs the artists by the
source the painting seems to come from.

A collection at its own resolution (most of its paintings big enough for tiles,
``painter.data.views``) is read with views (``CONTEXT_VIEWS``, pooled by scale) unless the model
already names its own: tiles show the brushwork a thumbnail lost, and their features lie further
from the training paintings' than whole paintings' do, an offset that the context's mean measures
and removes. Without context, views would move every score (``benchmarks/views.py``).
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import os
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..data.images import is_image_name
from ..errors import InputError, check_folder, no_usable_images
from .collection_groups import with_groups
from .model import PairModel

__all__ = ["CollectionContext", "adapt", "adaptable", "projection_shifts", "shrunk_mean", "with_views", "PROJECTION",
           "CONTEXT_VIEWS"]

# the Dense layer every lda embedder holds: features -> whitened LDA space (then unit length)
PROJECTION = "standardize_pca_lda"
_MIN_PAINTINGS = 10   # fewer: the mean is mostly the paintings' own content, not the source's
# the views of a collection at its own resolution: on best_artworks' validation painters the best
# mean of AUC with and without context (benchmarks/views.py)
CONTEXT_VIEWS = (1, 2)
CONTEXT_VIEW_POOL = "scales"
_SIZE_SAMPLE = 200   # paintings whose headers say whether a collection is at its own resolution
# how many times more a collection's mean varies than n independent paintings' would (they come in
# artists' groups): chosen on validation collections of WikiArt and museum photographs, best there
# on AUC and on the verdict's balanced accuracy together (benchmarks/recipes/context_choice.py:
# 1, 3, 10 and 30 measured)
DESIGN_EFFECT = 1.0
# contexts kept by ``CollectionContext.cached``: a notebook's pair questions and its attribution
# reference side by side, each embedded and adapting the model once
_KEPT = 2
_kept: OrderedDict = OrderedDict()


def _projections(embedder):
    """``[(model, layer)]``: every projection layer and the (sub-)model whose input is the features."""
    found = []
    for layer in embedder.layers:
        if layer.name == PROJECTION:
            found.append((embedder, layer))
        elif hasattr(layer, "layers"):
            found += _projections(layer)
    return found


def _own(owner, kind):
    """``owner``'s layer of class ``kind`` (None when it has none)."""
    return next((layer for layer in owner.layers if isinstance(layer, kind)), None)


def _centre(owner, projection, moved):
    """Take ``moved (d,)`` off ``projection``'s output. ``owner``'s source layers (``source_shift``),
    if any: the ``SourceShift`` is turned off (the collection's own offset replaces the one its
    source would get), and the ``SourceProbability`` still reads the painting as it was (its
    logits ``(x - moved) W + b + moved W``), so the source prior answers the painting's own
    source, not the centred collection's."""
    from ..layers import SourceProbability, SourceShift
    kernel, bias = projection.get_weights()
    projection.set_weights([kernel, (bias - moved).astype(np.float32)])
    shift, probability = _own(owner, SourceShift), _own(owner, SourceProbability)
    if shift is not None:
        shift.set_weights([np.zeros_like(w) for w in shift.get_weights()])
    if probability is not None:
        W, b = probability.get_weights()
        probability.set_weights([W, (b + moved @ W).astype(np.float32)])


def _source_prior_on(owner):
    """Turn ``owner``'s ``SourcePrior`` (if any) on: chosen with the collection's groups in the
    profile; without them it cost the full-resolution validation painters
    (``benchmarks/recipes/collection_groups.py --prior``)."""
    from ..layers import SourcePrior
    prior = _own(owner, SourcePrior)
    if prior is not None:
        A, strength, _ = prior.get_weights()
        prior.set_weights([A, strength, np.float32(1.0)])


def _keras_copy(model: PairModel):
    """A Keras embedder of ``model`` that can be changed without touching ``model``."""
    import keras
    embedder = model.embedder
    if not hasattr(embedder, "layers"):   # an exported runner: its Keras form from the folder
        if model.directory is None:
            raise ValueError("an exported embedder without its model folder cannot be adapted")
        embedder = PairModel.load(model.directory, exported=False).embedder
    copy = keras.models.clone_model(embedder)
    copy.set_weights(embedder.get_weights())
    return copy


def shrunk_mean(X: np.ndarray, design_effect: float = DESIGN_EFFECT) -> tuple[np.ndarray, float]:
    """``(mean (d,), shrink)`` of rows ``X (n, d)``: the positive-part James-Stein factor
    ``1 - design_effect * tr(Cov) / (n |mean|^2)`` in [0, 1] (0 below ``_MIN_PAINTINGS`` rows).

    ``design_effect``: a collection's paintings come in artists' groups, so its mean varies more
    than ``n`` independent paintings' would; the variance is taken that many times larger.
    """
    X = np.asarray(X, np.float64)
    mean = X.mean(0)
    if len(X) < _MIN_PAINTINGS:
        return mean, 0.0
    noise = design_effect * ((X - mean) ** 2).sum(1).mean() / (len(X) - 1)
    return mean, float(max(0.0, 1.0 - noise / max(mean @ mean, 1e-12)))


def projection_shifts(model: PairModel, features: np.ndarray, embedder=None) -> list[dict]:
    """The shift of each projection of ``model`` measured on ``features (n, D)`` (NaN rows left out).

    ``embedder``: a Keras copy of the model's embedder already made (``adapt`` passes its own, so
    the model is loaded and cloned once). Returns one dict per projection: ``mean (d,)`` of the
    projected features, ``shrink`` the James-Stein factor in [0, 1] and ``distance`` ``|mean|``
    (in units of the training spread).
    """
    from .model import predict_rows
    import keras
    features = np.asarray(features, np.float32)
    features = features[~np.isnan(features).any(axis=1)]
    out = []
    for owner, layer in _projections(embedder if embedder is not None else _keras_copy(model)):
        mean, shrink = shrunk_mean(predict_rows(keras.Model(owner.input, layer.output), features))
        out.append({"mean": mean, "shrink": float(shrink), "distance": float(np.sqrt(mean @ mean))})
    return out


def adaptable(model: PairModel) -> bool:
    """Whether context can adapt ``model``: an ``lda`` model (its embedder reads features through a
    whitened projection). Commands that use context by default pass the others over without a
    warning; asked for explicitly, ``adapt`` warns."""
    return model.scorer == "dot" and model.spec is not None and model.method == "lda"


def _without_context(model: PairModel) -> PairModel:
    warnings.warn(f"{model.method or 'this'} model has no whitened projection to adapt: answered without context",
                  stacklevel=3)
    return model


def adapt(model: PairModel, features: np.ndarray, source: str = "", groups: bool = True) -> PairModel:
    """``model`` adapted to a collection whose paintings have the features ``(n, D)``.

    A model without a projection (a network fitted on the images, a cosface or metric-learning
    embedder) is returned as it was, with one warning. With ``groups``, the collection's own
    groups of paintings join the artists of each profile (``collection_groups``). A model's source
    shift (``source_shift``) is turned off (the collection's own mean replaces it), and its source
    prior on in each profile that got groups. The adapted model runs its embedder in Keras;
    ``info["context"]`` records the collection's size, each projection's shift and the number of
    groups each profile got.
    """
    features = np.asarray(features, np.float32)
    if len(features):
        features = features[~np.isnan(features).any(axis=1)]
    n = len(features)
    if n < _MIN_PAINTINGS:   # CollectionContext.features said so
        return model
    if model.scorer != "dot" or model.spec is None:
        return _without_context(model)
    embedder = _keras_copy(model)
    projections = _projections(embedder)
    if not projections:
        return _without_context(model)
    shifts = projection_shifts(model, features, embedder)   # measured before any bias is changed
    for (owner, layer), shift in zip(projections, shifts):
        _centre(owner, layer, shift["shrink"] * shift["mean"])
    n_groups = []
    if groups:
        embedder, n_groups = with_groups(embedder, features, [s["shrink"] for s in shifts])
    for (owner, _), k in zip(projections, n_groups):
        if k:   # the grouped profile calls this same owner
            _source_prior_on(owner)
    info = {**model.info, "context": {"paintings": n, "source": str(source),
                                      "shift": [{"distance": round(s["distance"], 3), "shrink": round(s["shrink"], 3)}
                                                for s in shifts], "groups": n_groups}}
    adapted = PairModel(model.spec, embedder, model.scorer, model.bias, model.head, model.threshold, model.method, info)
    adapted.directory = model.directory
    return adapted


def with_views(model: PairModel, views=CONTEXT_VIEWS, view_pool: str = CONTEXT_VIEW_POOL) -> PairModel:
    """``model`` reading features with ``views`` (the same columns: its weights serve them)."""
    out = copy.copy(model)
    out.spec = dataclasses.replace(model.spec, views=tuple(views), view_pool=view_pool)
    return out


def _at_own_resolution(paintings, spec) -> bool:
    """Whether most of ``paintings`` (a sample of their headers) have tiles for ``spec``'s views."""
    from ..data.cleaning import detail_copy
    from ..data.views import has_tiles
    sample = paintings[::max(1, len(paintings) // _SIZE_SAMPLE)]
    sizes = [part.image_size for part in spec.components()]
    tiled = [all(has_tiles(detail_copy(p), size, spec.views) for size in sizes) for p in sample]
    return bool(sample) and 2 * sum(tiled) >= len(sample)


class CollectionContext:
    """Unlabelled paintings of the user's collection, given as context to a model.

    Parameters
    ----------
    paintings : sequence of image paths
    views : views to read a collection at its own resolution with, when the model names none
        (module docstring); ``()``: never

    Build one with ``CollectionContext.read(source)``: ``source`` is a folder (every image in it
    and its sub-folders), a text file listing image paths (one a line, relative to the file), a
    saved context (``save``), a list of paths, or a ``CollectionContext``.
    ``CollectionContext.cached(source)`` reads it once while its paintings stay unchanged (what
    ``predict_pairs``, ``evaluate`` and ``attribute`` use).
    """

    def __init__(self, paintings, views=CONTEXT_VIEWS, source: str = "context"):
        self.paintings = [str(p) for p in paintings]
        self.views = tuple(views)
        self.source = source   # names the context in errors
        self._adapted = {}

    @classmethod
    def read(cls, source, name: str = "context") -> "CollectionContext":
        """The context of ``source`` (class docstring); ``name`` names a list of paths in errors."""
        if isinstance(source, CollectionContext):
            return source
        if isinstance(source, (list, tuple)):
            return cls(source, source=name)
        path = Path(source)
        if path.is_dir():
            files = sorted(str(p) for p in check_folder(path, "context").rglob("*")
                           if p.is_file() and is_image_name(p.name))
            if not files:
                raise InputError(f"{path}: no images found in this context folder (or its sub-folders)")
            return cls(files, source=str(path))
        if not path.is_file():
            raise InputError(f"{path}: no such context folder or file")
        if is_image_name(path.name):
            raise InputError(f"{path}: an image, not a context; give a folder of the collection's paintings, "
                             "a text file listing them, or a saved context")
        return cls(_listed(path), source=str(path))

    @classmethod
    def cached(cls, source, name: str = "context") -> "CollectionContext":
        """``read(source, name)``, the same object as last time while its paintings are the same files,
        unchanged (path, size and modification time), so that its adapted model is kept too; a
        folder with a painting added, removed or rewritten is read as a new context. A
        ``CollectionContext`` given is returned as it is."""
        if isinstance(source, CollectionContext):
            return source
        context = cls.read(source, name)
        key = context.state()
        if key not in _kept:
            _kept[key] = context
            while len(_kept) > _KEPT:
                _kept.popitem(last=False)
        _kept.move_to_end(key)
        return _kept[key]

    def save(self, path) -> Path:
        """Write the context as a text file listing its paintings (absolute paths)."""
        path = Path(path)
        path.write_text("".join(f"{Path(p).resolve()}\n" for p in self.paintings))
        return path

    def key(self) -> str:
        return hashlib.sha1("\n".join(sorted(self.paintings)).encode()).hexdigest()[:16]

    def state(self) -> tuple:
        """``(path, size, modification time)`` of each painting, sorted (None, None for a missing file)."""
        return tuple((p, *_stat(p)) for p in sorted(self.paintings))

    def features(self, spec, progress: bool = False, warn_unreadable: bool = True) -> np.ndarray:
        """The paintings' features ``(n, D)`` (cached; an unreadable painting is left out and named
        in a warning unless ``warn_unreadable`` is False, for a caller that names them itself; none
        readable is an ``InputError`` naming one and why)."""
        from ..features import extract_features
        F, failed = extract_features(self.paintings, spec, progress=progress)
        if failed and len(failed) == len(set(self.paintings)):   # bad input, not a few bad files
            raise no_usable_images(self.source, failed, "context paintings")
        if failed and warn_unreadable:
            warnings.warn(f"context: {len(failed)} of {len(self.paintings)} paintings could not be read and are "
                          "left out: " + "; ".join(f"{p}: {r}" for p, r in failed.items()), stacklevel=2)
        F = F[~np.isnan(F).any(axis=1)]
        if len(F) < _MIN_PAINTINGS:
            warnings.warn(f"context: {len(F)} usable paintings; with fewer than {_MIN_PAINTINGS} the model is not "
                          "adapted", stacklevel=2)
        return F

    def adapt(self, model: PairModel, progress: bool = False, warn_unreadable: bool = True,
              groups: bool = True) -> PairModel:
        """``model`` adapted to these paintings (see ``adapt``); kept for the next call with the same
        model object (compared by identity, not by ``id``: a model loaded later may reuse the id
        of one freed) and ``groups``. ``warn_unreadable``: ``features``'."""
        if self._adapted.get("model") is not model or self._adapted.get("groups") != groups:
            if model.spec is None:
                return _without_context(model)
            viewed = with_views(model, self.views) if self.views and not model.spec.views and adaptable(model) else None
            if viewed is not None and _at_own_resolution(self.paintings, viewed.spec):
                F = self.features(viewed.spec, progress, warn_unreadable)
                adapted = adapt(viewed, F, source=f"{len(F)} paintings, views {self.views}", groups=groups)
                adapted = model if adapted is viewed else adapted   # views only with the shift they need
            else:
                F = self.features(model.spec, progress, warn_unreadable)
                adapted = adapt(model, F, source=f"{len(F)} paintings", groups=groups)
            self._adapted = {"model": model, "groups": groups, "adapted": adapted}
        return self._adapted["adapted"]

    def __len__(self):
        return len(self.paintings)


def _stat(path: str) -> tuple:
    try:
        st = os.stat(path)
    except OSError:
        return None, None
    return st.st_size, st.st_mtime_ns


def _listed(path: Path) -> list[str]:
    """The image paths a context list file names (relative ones from the file's folder)."""
    try:
        lines = [line.strip() for line in path.read_text().splitlines()]
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file listing paintings (one path a line)") from None
    files = [str((path.parent / line) if not Path(line).is_absolute() else line) for line in lines
             if line and not line.startswith("#")]
    if not files:
        raise InputError(f"{path}: lists no paintings (one image path a line)")
    return files
