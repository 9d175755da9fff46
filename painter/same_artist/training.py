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
import time
from pathlib import Path

import numpy as np

from ..data.labels import flatten, read_training_images
from ..data.pairs import ValidationPairs
from ..features import DEFAULT_FEATURES, FeatureSpec, extract_features
from .method import make_method, method_class
from .model import PairModel

__all__ = ["train", "load_training_images", "get_strategy"]


def get_strategy():
    """MirroredStrategy over several GPUs, else the default strategy (one device)."""
    import tensorflow as tf
    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


def load_training_images(data_dir, label="artist"):
    """``(paths, labels)`` of the training images of a cleaned folder or a folder-per-artist tree."""
    d, root = read_training_images(data_dir, label)
    files, labels = flatten(d)
    return [str(root / f) for f in files], np.array(labels)


def train(data_dir, out_dir, method: str = "lda", spec: FeatureSpec = DEFAULT_FEATURES, val_artists: float = 0.2,
          seed: int = 0, progress: bool = True, **method_params) -> PairModel:
    """Train a same-artist model on ``data_dir`` and save it in ``out_dir``.

    Parameters
    ----------
    data_dir : cleaned folder (``painter clean``) or a folder-per-artist tree
    method : a registered method name (``painter.same_artist.method_names()``), default ``"lda"``
    spec : the frozen features (``painter.features.FeatureSpec``)
    val_artists : fraction of artists held out for unseen-artist validation
    method_params : the method's hyperparameters (e.g. ``pca_dim=384`` for lda, ``epochs=30`` for
        the Keras methods); an unknown name is an error. Keras methods back up to ``out_dir``:
        an interrupted training resumes, a finished one is trained afresh.

    Returns the saved ``PairModel``; validation metrics are in ``model.info["validation"]``.
    """
    t0 = time.time()
    if "backup_dir" in inspect.signature(method_class(method)).parameters:
        method_params.setdefault("backup_dir", str(out_dir))
    estimator = make_method(method, **method_params)   # refuses unknown methods and parameters first
    if not 0 < val_artists < 1:
        raise ValueError(f"val_artists must be between 0 and 1, got {val_artists}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths, labels = load_training_images(data_dir)
    if getattr(estimator, "needs_images", False):   # fitted on the paintings themselves: paths, not features
        F, failed, keep = np.array(paths), {}, np.ones(len(paths), bool)
    else:
        F, failed = extract_features(paths, spec, progress=progress)
        keep = ~np.isnan(F).any(axis=1)
    _report_failed(failed, "training images")
    F_fit, y_fit, validation = ValidationPairs.hold_out(F[keep] if not keep.all() else F, labels[keep],
                                                        val_artists=val_artists, seed=seed)
    del F   # the fitting and held-out rows are copies
    t_fit = time.time()
    estimator.fit(F_fit, y_fit, validation, spec=spec)
    model = estimator.pair_model(spec)
    model.info = {**model.info, "validation": estimator.validation_, "n_images": int(keep.sum()),
                  "n_artists": int(len(np.unique(labels[keep]))), "n_failed": len(failed),
                  "params": _jsonable(estimator.get_params()),
                  "fit_seconds": round(time.time() - t_fit, 1), "total_seconds": round(time.time() - t0, 1)}
    model.save(out_dir)
    _save_validation(out_dir, validation, estimator, np.array(paths)[keep][validation.rows])
    print(f"trained {method} in {model.info['total_seconds']} s; validation: " +
          ", ".join(f"{k} AUC {v['auc']:.3f} acc {v['accuracy']:.3f}" for k, v in estimator.validation_.items()))
    return model


def _report_failed(failed, what):
    if failed:
        print(f"{len(failed)} {what} could not be used:")
        for p, reason in failed.items():
            print(f"  {p}: {reason}")


def _jsonable(params):
    return {k: (v if isinstance(v, (int, float, str, bool, type(None), list, tuple)) else repr(v))
            for k, v in params.items() if k != "callbacks"}


def _save_validation(out_dir, validation, estimator, paths):
    """The validation pairs and their scores, for plots (``validation_pairs.npz``: ``paths`` and
    ``labels`` of the held-out paintings, pairs ``i``, ``j`` indexing them; ``validation.json``)."""
    np.savez(out_dir / "validation_pairs.npz", i=validation.i, j=validation.j, same=validation.same,
             kind=validation.kind, p=estimator.validation_scores_, labels=validation.labels, paths=paths)
    (out_dir / "validation.json").write_text(json.dumps(estimator.validation_, indent=2))
