"""``train``: a same-artist model from a collection of paintings, saved as one folder.

    paintings -> frozen features (cached) -> held-out artists and paintings -> method.fit ->
    PairModel.save(out_dir)

Every method sees the same data and the same validation: 20% of the training artists are held
out whole (pairs of *unseen* artists), and 20% of the remaining artists' images (pairs of *seen*
artists), laid out as the competition's test pairs (``painter.data.pairs``). Methods are the
estimators registered in ``painter.same_artist.method`` (``method_names()``).
"""
from __future__ import annotations

import inspect
import json
import logging
import os
import time
import warnings
from pathlib import Path

import numpy as np

from ..data.labels import flatten, read_training_images
from ..data.pairs import ValidationPairs
from ..cache import content_key
from ..errors import InputError, ParameterError, check_out_folder, first_line, no_usable_images
from ..features import DEFAULT_FEATURES, FeatureSpec, extract_features
from ..metrics import pair_metrics
from .fusion import fuse_with_base, resolve_base
from .method import make_method, method_class
from .model import PairModel

__all__ = ["train", "load_training_images"]

logger = logging.getLogger(__name__)


def load_training_images(sources, label="artist", origins=False):
    """``(paths, labels)`` of the training images of one source or several (each a cleaned folder
    or a folder-per-artist tree), artists merged by name. A painting found twice (the same file
    content, in one source or two) is counted once, under its first source's label. ``origins``:
    also the index of the source each painting was taken from, ``(paths, labels, origins)``."""
    sources = [sources] if isinstance(sources, (str, Path)) else list(sources)
    paths, labels, where = [], [], []
    for k, source in enumerate(sources):
        d, root = read_training_images(source, label)
        files, names = flatten(d)
        paths += [str(root / f) for f in files]
        labels += names
        where += [k] * len(files)
    first = {}
    for k, p in enumerate(paths):
        first.setdefault(content_key(p) if len(sources) > 1 else p, k)
    keep = sorted(first.values())
    if len(keep) < len(paths):
        warnings.warn(f"{len(paths) - len(keep)} paintings found twice in {', '.join(map(str, sources))}: "
                      "each counted once", stacklevel=2)
    out = [paths[k] for k in keep], np.array(labels)[keep]
    return (*out, np.array(where, int)[keep]) if origins else out


def train(data_dir, out_dir, method: str = "lda", spec: FeatureSpec = DEFAULT_FEATURES, also=(), base="packaged",
          val_artists: float = 0.2, seed: int = 0, progress: bool = True, other_sources=(),
          **method_params) -> PairModel:
    """Train a same-artist model on ``data_dir`` and save it in ``out_dir``.

    Parameters
    ----------
    data_dir : cleaned folder (``painter clean``) or a folder-per-artist tree
    method : a registered method name (``painter.same_artist.method_names()``), default ``"lda"``
    spec : the frozen features (``painter.features.FeatureSpec``)
    also : more sources of training paintings (cleaned folders or folder-per-artist trees); artists
        are merged by name and a painting found twice is counted once
    other_sources : training paintings from other sources than ``data_dir`` (museum photographs
        beside digital reproductions, say), learned as ``also`` is; an ``lda`` model also learns
        to tell each source apart and answers questions without context as its source needs
        (``painter.same_artist.source_shift``)
    base : the model this one builds on: ``"packaged"`` (default: the model shipped with painter,
        used when it reads the same features), ``"none"``, or a model folder; the result is one
        model (see ``painter.same_artist.fusion``)
    val_artists : fraction of artists held out for unseen-artist validation
    method_params : the method's hyperparameters (e.g. ``pca_dim=384`` for lda, ``epochs=30`` for
        the Keras methods); an unknown name is an error. Keras methods back up to ``out_dir``:
        an interrupted training resumes, a finished one is trained afresh.

    Returns the saved ``PairModel``; validation metrics are in ``model.info["validation"]`` (with
    ``other_sources``, those of the model before its source shift).
    Every input is checked, and the features computed, before ``out_dir`` is written: a run that
    fails on its input leaves an earlier model there as it was.
    """
    t0 = time.time()
    if "backup_dir" in inspect.signature(method_class(method)).parameters:
        method_params.setdefault("backup_dir", str(out_dir))
    estimator = make_method(method, **method_params)   # refuses unknown methods and parameters first
    if not 0 < val_artists < 1:
        raise ParameterError(f"val_artists must be between 0 and 1, got {val_artists}")
    images_only = getattr(estimator, "needs_images", False)   # fitted on the paintings themselves
    if not images_only and spec.random_weights:
        raise InputError(f"{spec.backbone} with weights None: random backbones give features no later call "
                         "reproduces; train on weights 'imagenet', 'artists' or a weights file")
    base_model = None if images_only else resolve_base(base, spec)
    out_dir = check_out_folder(out_dir, "same-artist model")
    also, other_sources = ([x] if isinstance(x, (str, Path)) else list(x) for x in (also, other_sources))
    paths, labels, origins = load_training_images([data_dir, *also, *other_sources], origins=True)
    origins = np.maximum(origins - len(also), 0)   # 0: the user's own source, k: the k-th other source
    F, failed = (np.array(paths), {}) if images_only else extract_features(paths, spec, progress=progress)
    _report_failed(failed, "training images")
    keep = np.ones(len(paths), bool) if images_only else ~np.isnan(F).any(axis=1)
    if not keep.any():
        raise no_usable_images(data_dir, failed, "training images")
    paths, labels, origins = np.array(paths)[keep], labels[keep], origins[keep]
    for k, name in enumerate(other_sources, 1):
        if not (origins == k).any():   # every painting unreadable, or each also in an earlier source
            raise InputError(f"{name}: no usable training painting of its own in this other source")
    base_artists = base_model.info.get("artists") if base_model is not None else None
    prefer = unseen_first(labels, learned_features(estimator, spec), base_artists)
    F_fit, y_fit, validation = _hold_out(F[keep] if not keep.all() else F, labels, data_dir, val_artists, seed, prefer)
    del F   # the fitting and held-out rows are copies
    held = set(validation.unseen_artists)
    if prefer is not None and held - set(prefer):
        warnings.warn(f"validation: {len(held - set(prefer))} of the {len(held)} held-out artists are known to the "
                      "base model or the features' backbone (the collection has no more unknown ones): "
                      "unseen-artist validation figures are optimistic", stacklevel=2)
    t_fit = time.time()
    out_dir.mkdir(parents=True, exist_ok=True)   # only now: a folder given is left as it was until the fit
    estimator.fit(F_fit, y_fit, validation, spec=spec)
    model, metrics, scores = estimator.pair_model(spec), estimator.validation_, estimator.validation_scores_
    if other_sources:
        model = _with_sources(model, estimator, F_fit, y_fit, validation, origins,
                              [os.path.abspath(d) for d in (data_dir, *other_sources)])
    if base_model is not None:
        model, metrics, scores = _build_on(model, base_model, validation, estimator, base_artists)
    model.info = {**model.info, "validation": metrics, "n_images": int(len(labels)),
                  "n_artists": int(len(np.unique(labels))), "n_failed": len(failed),
                  "artists": _learned_artists(estimator, labels, y_fit, base_artists if "base" in model.info else None),
                  "sources": [os.path.abspath(d) for d in (data_dir, *also, *other_sources)],
                  "params": _jsonable(estimator.get_params()),
                  **_seconds(t0, t_fit)}
    model.save(out_dir)
    _save_validation(out_dir, validation, metrics, scores, paths[validation.rows])
    logger.info(f"trained {method} in {model.info['total_seconds']} s; validation: "
                + ", ".join(f"{k} AUC {v['auc']:.3f} acc {v['accuracy']:.3f}" for k, v in metrics.items()))
    return model


def _learned_artists(estimator, labels, fit_labels, base_artists) -> list:
    """The artists the model learned from: every training artist when it was refitted on all the
    paintings, else the fitting ones (a model built on it can then validate on the others), and
    its base's."""
    learned = labels if getattr(estimator, "refit", False) else fit_labels
    return sorted(set(learned.tolist()) | set(base_artists or []))


def learned_features(estimator, spec: FeatureSpec) -> FeatureSpec:
    """The features whose weights ``estimator``'s model builds on: ``spec``, or for a network
    fitted on the paintings (siamese) its starting weights (the packaged ``"artists"`` ones know
    448 artists; a run's weights, those listed beside them)."""
    if getattr(estimator, "needs_images", False):
        return FeatureSpec(estimator.backbone, weights=estimator.weights)
    return spec


def hyperparameters_of(train_kwargs: dict) -> dict:
    """The method's own hyperparameters among ``train``'s keyword arguments."""
    return {k: v for k, v in train_kwargs.items() if k not in inspect.signature(train).parameters}


def unseen_first(labels, spec=None, base_artists=None):
    """The artists of ``labels`` to hold out for validation first, so that unseen-artist validation
    stays unseen by every learned part: those neither the base model (``base_artists``) nor the
    backbone of ``spec`` (``FeatureSpec.trained_artists``) learned from. None when nothing is known."""
    known = set(base_artists or []) | (spec.trained_artists if spec is not None else frozenset())
    return sorted(set(labels) - known) if base_artists is not None or known else None


def _hold_out(F, labels, data_dir, val_artists, seed, prefer):
    try:
        return ValidationPairs.hold_out(F, labels, val_artists=val_artists, seed=seed, prefer=prefer)
    except ValueError as e:    # too few artists or paintings for the held-out pairs
        raise InputError(f"{data_dir}: {first_line(e)}") from None


def _seconds(t0, t_fit) -> dict:
    return {"fit_seconds": round(time.time() - t_fit, 1), "total_seconds": round(time.time() - t0, 1)}


def _build_on(model, base_model, validation, estimator, base_artists):
    """The user's model fused with the base, its validation metrics and scores (the pairs the
    base has seen left out, see ``fusion.fuse_with_base``)."""
    if model.scorer != "dot":
        warnings.warn(f"{model.method}: a pair-head model cannot be fused with a base model; trained without one",
                      stacklevel=3)
        return model, estimator.validation_, estimator.validation_scores_
    fused, p, honest = fuse_with_base(model, base_model, validation, estimator.validation_scores_, base_artists)
    logger.info(f"built on the base model: {fused.info['base']['how']}")
    metrics = pair_metrics(validation.same[honest], p[honest], validation.kind[honest], threshold=fused.threshold)
    return fused, metrics, np.where(honest, p, np.nan)


def _with_sources(model, estimator, F_fit, y_fit, validation, origins, names):
    """``model`` with its training sources told apart (``source_shift``), where it can be: an ``lda``
    model; any other learns the other sources' paintings as more paintings, with a warning. The
    threshold, calibration and validation figures stay those chosen before the shift, as the
    shift's strength was chosen (``benchmarks/recipes/source_shift.py``)."""
    from .context import adaptable
    from .source_shift import with_source_shift
    if not adaptable(model):
        warnings.warn(f"{model.method}: only an lda model tells its sources apart; the other sources' paintings "
                      "were learned as more paintings", stacklevel=3)
        return model
    parts = [(F_fit, origins[np.setdiff1d(np.arange(len(origins)), validation.rows)], y_fit)]
    if getattr(estimator, "refit", False):   # else the held-out artists stay unseen by every learned part
        parts.append((validation.features, origins[validation.rows], validation.labels))
    F, sources, artists = zip(*parts)
    return with_source_shift(model, list(F), np.concatenate(sources), np.concatenate(artists), names)


def _report_failed(failed, what):
    if failed:
        logger.warning(f"{len(failed)} {what} could not be used:\n"
                       + "\n".join(f"  {p}: {reason}" for p, reason in failed.items()))


def _jsonable(params):
    return {k: (v if isinstance(v, (int, float, str, bool, type(None), list, tuple)) else repr(v))
            for k, v in params.items() if k != "callbacks"}


def _save_validation(out_dir, validation, metrics, scores, paths):
    """The validation pairs and their scores, for plots (``validation_pairs.npz``: ``paths`` and
    ``labels`` of the held-out paintings, pairs ``i``, ``j`` indexing them, ``unseen_artists``;
    ``validation.json``)."""
    np.savez(out_dir / "validation_pairs.npz", i=validation.i, j=validation.j, same=validation.same,
             kind=validation.kind, p=scores, labels=validation.labels, paths=paths,
             unseen_artists=np.asarray(validation.unseen_artists if validation.unseen_artists is not None else [], str))
    (out_dir / "validation.json").write_text(json.dumps(metrics, indent=2))
