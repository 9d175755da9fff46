"""A same-artist method as a scikit-learn-style estimator, and the registry that names them.

    method = make_method("lda", pca_dim=384)            # hyperparameters in __init__
    method.fit(features, labels, validation)             # returns the method, fitted
    model = method.pair_model(spec)                      # a PairModel, saved with model.save(dir)

``features (n, D)`` are the fitting paintings' features, ``labels (n,)`` their artists and
``validation`` a ``painter.data.ValidationPairs`` of held-out paintings on which every choice
(calibration, threshold, early stopping) is made.
"""
from __future__ import annotations

import inspect
from pathlib import Path

import keras
import numpy as np

from ..data.pairs import ValidationPairs
from ..metrics import pair_metrics
from .calibration import choose_threshold
from .model import PairModel, predict_rows
from ..errors import InputError, ParameterError

__all__ = ["SameArtistMethod", "KerasTraining", "PairAUC", "register", "make_method", "method_class", "method_names",
           "pair_similarities", "check_labels"]

_REGISTRY: dict = {}


def register(name):
    """Class decorator: make a method available to ``make_method(name)`` and ``painter train --method``."""
    def add(cls):
        cls.name = name
        _REGISTRY[name] = cls
        return cls
    return add


def _load_methods():
    """Import the method modules (each registers itself); not at package import, so that
    loading and using a saved model never imports the training code."""
    from . import lda  # noqa: F401  (first: the default)
    from . import bce_head, cosface, metric_learning, siamese_fit  # noqa: F401


def method_names() -> tuple:
    _load_methods()
    return tuple(_REGISTRY)


def method_class(name) -> type:
    """The estimator class registered as ``name``."""
    _load_methods()
    if name not in _REGISTRY:
        raise ParameterError(f"method must be one of {method_names()}, got {name!r}")
    return _REGISTRY[name]


def make_method(name, **params) -> "SameArtistMethod":
    """The method registered as ``name`` with these hyperparameters; unknown ones are an error."""
    cls = method_class(name)
    accepted = [p for p in inspect.signature(cls).parameters if p != "self"]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ParameterError(f"method {name!r} has no parameter {', '.join(map(repr, unknown))}; "
                         f"its parameters: {', '.join(accepted)}")
    return cls(**params)


class SameArtistMethod:
    """Base of every method. Subclasses set hyperparameters in ``__init__`` and implement ``_fit``.

    Fitted attributes
    -----------------
    embedder_ : keras.Model, features ``(batch, D)`` -> pair embedding ``(batch, E)``
    scorer_ : ``"dot"`` (``P = sigmoid(z_a·z_b + bias_)``) or ``"head"`` (``head_(z_a, z_b)``)
    bias_ : float; head_ : keras.Model or None
    threshold_ : the yes/no threshold on P(same), chosen on the validation pairs
    validation_ : ``painter.metrics.pair_metrics`` of the validation pairs (seen / unseen / all)
    validation_scores_ : ``(n_pairs,)`` P(same) of the validation pairs (before any refit)
    info_ : dict of the method's own choices (calibration, temperature, history, ...)
    """
    name = ""

    def fit(self, features, labels, validation: ValidationPairs, spec=None):
        """Fit on ``features (n, D)`` and ``labels (n,)``, choose on ``validation``; returns self.

        ``spec``: the ``FeatureSpec`` the features come from, for methods that use the layout of
        the feature columns (``lda`` takes the log of the style standard deviations).
        """
        features, labels = self._check_inputs(features, labels, validation)
        self.head_, self.bias_, self.info_ = None, 0.0, {}
        self._fit(features, labels, validation, spec)
        p = self.validation_scores_ = self.score_validation(validation)
        self.threshold_ = choose_threshold(validation.same, p, validation.kind)
        self.validation_ = pair_metrics(validation.same, p, validation.kind, threshold=self.threshold_)
        self._refit(features, labels, validation, spec)
        return self

    @staticmethod
    def _check_inputs(features, labels, validation):
        return _check_inputs(features, labels, validation)

    def _fit(self, features, labels, validation, spec):
        raise NotImplementedError

    def _refit(self, features, labels, validation, spec):
        """After the threshold is chosen: methods that refit on every painting do it here."""

    def score_validation(self, validation) -> np.ndarray:
        """P(same) ``(n_pairs,)`` of the validation pairs under the current fit."""
        model = self.pair_model(None)
        return model.score_pairs(model.embed_features(validation.features), validation.i, validation.j)

    def pair_model(self, spec) -> PairModel:
        """The fitted method as a ``PairModel`` reading features of ``spec``."""
        if not hasattr(self, "embedder_"):
            raise ValueError(f"{type(self).__name__} is not fitted: call fit(features, labels, validation) first")
        return PairModel(spec, self.embedder_, self.scorer_, self.bias_, self.head_,
                         getattr(self, "threshold_", 0.5), self.name, self.info_)

    def get_params(self) -> dict:
        return {p: getattr(self, p) for p in inspect.signature(type(self)).parameters}

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_params().items())})"


def _check_inputs(features, labels, validation):
    features, labels = np.asarray(features, np.float32), np.asarray(labels)
    if features.ndim != 2 or len(features) != len(labels):
        raise ValueError(f"features must be (n, D) with one label per row, got {features.shape} and {labels.shape}")
    check_labels(labels, validation)
    if validation.features.shape[1:] != features.shape[1:]:
        raise ValueError(f"validation features have {validation.features.shape[1:]} columns, "
                         f"the fitting features {features.shape[1:]}")
    return features, labels


def check_labels(labels, validation):
    """The checks every method's inputs pass: two artists at least, validation pairs."""
    if len(np.unique(labels)) < 2:
        raise InputError("need paintings of at least two artists to fit")
    if not isinstance(validation, ValidationPairs):
        raise ValueError("validation must be a painter.data.ValidationPairs")


class KerasTraining:
    """What the Keras-trained methods share: ``model.fit`` under a ``tf.distribute`` strategy with
    early stopping on the validation pairs' ROC AUC (``val_auc``, mode max, best weights
    restored), ``BackupAndRestore`` in ``backup_dir`` (an interrupted fit resumes with its
    optimizer state; a finished one leaves no backup, so the next fit starts afresh) and the
    epoch history in ``backup_dir/history.csv``.
    """

    def fit_callbacks(self, validation, embedder=None, append=False):
        """``embedder``: compute ``val_auc`` from its cosine on the validation pairs (else the
        model's own validation metric named ``auc`` is used). ``append``: a later phase of the same
        run, whose epochs continue ``history.csv``."""
        callbacks = [PairAUC(embedder, validation)] if embedder is not None else []
        callbacks += [keras.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=self.patience,
                                                   restore_best_weights=True)]
        if self.backup_dir is not None:
            backup = Path(self.backup_dir) / "backup"
            resuming = backup.is_dir()
            callbacks += [keras.callbacks.BackupAndRestore(str(backup)),
                          keras.callbacks.CSVLogger(str(Path(self.backup_dir) / "history.csv"),
                                                    append=resuming or append)]
        return callbacks + list(self.callbacks)   # the user's last: they see every log

    def _history(self, hist) -> dict:
        return {k: [float(v) for v in vals] for k, vals in hist.history.items()}


def pair_similarities(embedder, features, i, j):
    """Dot products of the embedder's output(s) for pairs ``(i, j)``: ``[(n,), ...]`` one per output."""
    out = predict_rows(embedder, features)
    out = out if isinstance(out, list) else [out]
    return [np.einsum("ij,ij->i", t[i], t[j]) for t in out]


def _pair_auc(embedder, validation) -> float:
    from sklearn.metrics import roc_auc_score
    cos = pair_similarities(embedder, validation.features, validation.i, validation.j)[0]
    return float(roc_auc_score(validation.same, cos))


class PairAUC(keras.callbacks.Callback):
    """Adds ``val_auc`` (ROC AUC of the validation pairs' embedding cosine) to the epoch logs."""

    def __init__(self, embedder, validation):
        super().__init__()
        self.embedder, self.validation = embedder, validation

    def on_epoch_end(self, epoch, logs=None):
        logs["val_auc"] = _pair_auc(self.embedder, self.validation)
