"""Artist, style and genre classification on the frozen backbone.

Two heads, one argument (``head``) apart:

* ``"dense"``: cached style features -> standardize -> dropout -> softmax (CPU fast path);
* ``"cnn_rnn"``: the backbone's feature map read as a sequence of ``h*w`` positions by a GRU
  (the seed projects' CNN+RNN).

Class weights balance rare classes; classes with fewer than ``min_examples`` images and
unlabelled rows are left out and counted in the report. Outputs in the model folder:
``classifier.keras``, ``classes.json``, ``report.txt``/``report.json``, ``confusion.png``,
``outliers.csv`` and ``outliers.png``.
"""
from __future__ import annotations

import json
import logging

import keras
import numpy as np
import pandas as pd

from .data.images import ImageError
from .data.labels import flatten, read_training_images, splitdict
from .errors import (InputError, ParameterError, check_folder, check_out_folder, no_usable_images, read_json_part,
                     read_part)
from .features import DEFAULT_FEATURES, FeatureSpec, extract_features, predict_images, read_spec
from .layers import load_model
from .plots import plot_confusion_top, plot_image_row

__all__ = ["train_classifier", "predict_files", "load_classifier", "ClassifierFolderError", "classification_summary",
           "find_outliers", "HEADS"]

logger = logging.getLogger(__name__)

HEADS = ("dense", "cnn_rnn")


def _labelled_images(data_dir, target, min_examples):
    d, root = read_training_images(data_dir, label=target)
    dropped = {k: len(v) for k, v in d.items() if len(v) < min_examples}
    kept = {k: v for k, v in d.items() if len(v) >= min_examples}
    if len(kept) < 2:
        raise InputError(f"{data_dir}: fewer than two {target} classes with >= {min_examples} images")
    return kept, root, {"unlabelled": len(d.unlabelled), "small_classes": dropped}


def _feature_maps(paths, spec: FeatureSpec, batch_size=32):
    """``(N, h*w, C)`` float16 last tapped feature map of ``spec``'s first backbone (for the CNN+RNN
    head), and ``{path: reason}`` for the images that could not be read (their rows are NaN)."""
    from .backbones import feature_layers, get_backbone
    part = spec.components()[0]
    size = part.image_size
    model = get_backbone(part.backbone, part.weights, (size, size, 3), outputs=feature_layers(part.backbone)[-1:])
    out, failed = [], {}
    for chunk, m, bad in predict_images(model, paths, size, batch_size):
        m = (m[0] if isinstance(m, list) else m).astype(np.float16)
        m[[p in bad for p in chunk]] = np.nan
        failed |= bad
        out.append(m.reshape(len(m), -1, m.shape[-1]))
    return (np.concatenate(out) if out else np.zeros((0, 1, 1), np.float16)), failed


def _build_head(head, input_shape, n_classes, mean=None, var=None):
    x_in = keras.Input(input_shape, name="features")
    if head == "dense":
        x = keras.layers.Normalization(mean=mean, variance=var, name="standardize")(x_in)
        x = keras.layers.Dropout(0.5)(x)
    else:
        x = keras.layers.GRU(128, name="gru")(keras.layers.LayerNormalization()(x_in))
        x = keras.layers.Dropout(0.3)(x)
    out = keras.layers.Dense(n_classes, activation="softmax", name="classes")(x)
    model = keras.Model(x_in, out, name=f"{head}_classifier")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5")])
    return model


def classification_summary(y_true, proba, classes) -> dict:
    """scikit-learn report (every class listed), top-1 and top-5 accuracy, weighted F1."""
    from sklearn.metrics import classification_report, top_k_accuracy_score
    labels = np.arange(len(classes))
    pred = proba.argmax(1)
    report = classification_report(y_true, pred, labels=labels, target_names=list(classes), zero_division=0,
                                   output_dict=True)
    text = classification_report(y_true, pred, labels=labels, target_names=list(classes), zero_division=0)
    return {"top1": float(np.mean(pred == y_true)),
            "top5": float(top_k_accuracy_score(y_true, proba, k=min(5, len(classes)), labels=labels)),
            "weighted_f1": float(report["weighted avg"]["f1-score"]), "report": report, "report_text": text}


def find_outliers(paths, y_true, proba, classes, n=20) -> pd.DataFrame:
    """Paintings whose true-class probability is lowest relative to the predicted class's.

    Sorted by ``ratio = p(true) / p(predicted)`` ascending (most surprising first); only
    misclassified paintings are listed.
    """
    pred = proba.argmax(1)
    p_true = proba[np.arange(len(y_true)), y_true]
    p_pred = proba[np.arange(len(y_true)), pred]
    df = pd.DataFrame({"file": list(paths), "true": np.asarray(classes)[y_true], "predicted": np.asarray(classes)[pred],
                       "p_true": p_true, "p_predicted": p_pred, "ratio": p_true / np.maximum(p_pred, 1e-12)})
    return df[pred != y_true].sort_values("ratio", kind="stable").head(n).reset_index(drop=True)


def train_classifier(data_dir, out_dir, target="artist", head="dense", min_examples=2,
                     spec: FeatureSpec = DEFAULT_FEATURES, epochs=60, test=0.2, val=0.1, seed=0,
                     progress=True) -> dict:
    """Train and evaluate a ``target`` classifier; returns the summary (also saved in ``out_dir``).

    ``head``: ``"dense"`` on the cached ``spec`` features, or ``"cnn_rnn"`` on the last feature
    map of ``spec``'s first backbone. The split is image-level (every class in train and test);
    ``test`` images are only used for the final report.
    """
    from sklearn.utils.class_weight import compute_class_weight
    if head not in HEADS:
        raise ParameterError(f"head must be one of {HEADS}, got {head!r}")
    out = check_out_folder(out_dir, "classifier")
    d, root, excluded = _labelled_images(data_dir, target, min_examples)
    classes = sorted(d)
    parts = splitdict(d, test=test, val=val, by="image", seed=seed)
    (_, Xtr, ytr), (_, Xva, yva), (ptest, Xte, yte), excluded["unusable_images"] = _split_inputs(
        parts, root, {c: k for k, c in enumerate(classes)}, spec, head, progress)
    if not len(ytr):
        raise no_usable_images(data_dir, excluded["unusable_images"], "training images")
    out.mkdir(parents=True, exist_ok=True)   # only now: a folder given is left as it was until the fit
    keras.utils.set_random_seed(seed)
    model = _build_head(head, Xtr.shape[1:], len(classes),
                        *((Xtr.mean(0), Xtr.var(0) + 1e-6) if head == "dense" else (None, None)))
    present = np.unique(ytr)
    weights = dict(zip(present, compute_class_weight("balanced", classes=present, y=ytr)))
    stop = keras.callbacks.EarlyStopping(monitor="val_loss" if len(yva) else "loss", patience=6,
                                         restore_best_weights=True)
    model.fit(Xtr, ytr, validation_data=(Xva, yva) if len(yva) else None, epochs=epochs, batch_size=128,
              class_weight=weights, callbacks=[stop], verbose=2 if progress else 0)
    proba = model.predict(Xte, verbose=0)
    summary = classification_summary(yte, proba, classes)
    summary.update({"target": target, "head": head, "n_classes": len(classes), "n_train": len(ytr),
                    "n_test": len(yte), "excluded": excluded})
    _write_outputs(out, model, summary, classes, spec, ptest, yte, proba)
    logger.info(f"{target} ({head}): top-1 {summary['top1']:.3f}, top-5 {summary['top5']:.3f}, weighted F1 "
          f"{summary['weighted_f1']:.3f} over {len(classes)} classes; left out: {excluded['unlabelled']} unlabelled, "
          f"{len(excluded['small_classes'])} classes under {min_examples} images")
    return summary


def _inputs(paths, spec, head, progress):
    if head == "dense":
        return extract_features(paths, spec, progress=progress)
    return _feature_maps(paths, spec)


def _split_inputs(parts, root, code, spec, head, progress):
    """``[(paths, X, y)] * 3`` for train / val / test without unusable images, and ``{path: reason}``
    of those (each printed)."""
    data, unusable = [], {}
    for part in parts:
        files, labels = flatten(part)
        paths = [str(root / f) for f in files]
        X, failed = _inputs(paths, spec, head, progress)
        unusable |= failed
        keep = ~np.isnan(X.reshape(len(X), -1)).any(1) if len(X) else np.zeros(0, bool)
        data.append((np.asarray(paths)[keep], X[keep], np.array([code[c] for c in labels])[keep]))
    for path, reason in unusable.items():
        logger.warning(f"left out {path}: {reason}")
    return (*data, unusable)


def _write_outputs(out, model, summary, classes, spec, ptest, yte, proba):
    outliers = find_outliers(ptest, yte, proba, classes)
    outliers.to_csv(out / "outliers.csv", index=False)
    plot_image_row([(r.file, f"true: {r.true[:18]}\npred: {r.predicted[:18]}") for r in outliers.head(8).itertuples()],
                   out / "outliers.png", width=2.4)
    plot_confusion_top(yte, proba.argmax(1), classes, out / "confusion.png")
    model.save(out / "classifier.keras")
    (out / "classes.json").write_text(json.dumps({"classes": classes, "target": summary["target"],
                                                  "head": summary["head"], "feature_spec": spec.to_dict()}))
    (out / "report.txt").write_text(summary["report_text"])
    (out / "report.json").write_text(json.dumps({k: v for k, v in summary.items() if k != "report_text"}, indent=2,
                                                default=str))


class ClassifierFolderError(InputError):
    """A classifier folder that cannot be used: the message names the file and what to do."""


_RETRAIN = "retrain with `painter classify train DATA --out DIR`"


def load_classifier(model_dir):
    """``(meta, spec, model)``: ``classes.json``, its feature spec and ``classifier.keras`` of a
    classifier folder, or ``ClassifierFolderError`` naming the file that is missing, damaged or foreign."""
    model_dir = check_folder(model_dir, "classifier", ClassifierFolderError)
    meta = read_json_part(model_dir / "classes.json", ("classes", "feature_spec"), ClassifierFolderError,
                          "classifier folder", _RETRAIN)
    spec = read_spec(meta, model_dir / "classes.json", ClassifierFolderError, _RETRAIN)
    model = read_part(model_dir / "classifier.keras", load_model, ClassifierFolderError, "classifier folder", _RETRAIN)
    return meta, spec, model


def predict_files(model_dir, images, top=3) -> dict:
    """``{path: [(label, probability), ...]}`` best ``top`` classes for each image."""
    meta, spec, model = load_classifier(model_dir)
    paths = [str(p) for p in images]
    X, failed = _inputs(paths, spec, meta.get("head", meta.get("model_kind")), progress=False)
    if failed:
        path, reason = next(iter(failed.items()))
        raise ImageError(path, reason)
    proba = model.predict(X, verbose=0)
    classes = meta["classes"]
    return {p: [(classes[k], float(row[k])) for k in np.argsort(-row)[:top]] for p, row in zip(paths, proba)}
