"""Artist, style and genre classification on the frozen backbone (seeds 003 and 004).

Two heads, one flag apart:

* ``"dense"``: cached style features -> standardize -> dropout -> softmax (CPU fast path);
* ``"cnn_rnn"``: the backbone's feature map read as a sequence of ``h*w`` positions by a GRU
  (seed 003's CNN+RNN).

Class weights balance rare classes; classes with fewer than ``min_examples`` images and
unlabelled rows are left out and counted in the report. Outputs in the model folder:
``classifier.keras``, ``classes.json``, ``report.txt``/``report.json``, ``confusion.png``,
``outliers.csv`` and ``outliers.png``.
"""
from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from .data import flatten, read_training_images, splitdict
from .evaluate import _save
from .features import FeatureSpec, embed_files, predict_images
from .images import ImageError, load_array

__all__ = ["train_classifier", "predict_files", "classification_summary", "find_outliers", "plot_confusion_top"]


def _labelled_images(data_dir, target, min_examples):
    d, root = read_training_images(data_dir, label=target)
    dropped = {k: len(v) for k, v in d.items() if len(v) < min_examples}
    kept = {k: v for k, v in d.items() if len(v) >= min_examples}
    if len(kept) < 2:
        raise ValueError(f"{data_dir}: fewer than two {target} classes with >= {min_examples} images")
    return kept, root, {"unlabelled": len(d.unlabelled), "small_classes": dropped}


def _feature_maps(paths, spec: FeatureSpec, layer="stage6_out", batch_size=32):
    """``(N, h*w, C)`` float16 feature maps of one backbone stage (for the CNN+RNN head), and
    ``{path: reason}`` for the images that could not be read (their rows are NaN)."""
    from .backbones import get_backbone
    size = spec.components()[0].image_size
    model = get_backbone(spec.components()[0].backbone, input_shape=(size, size, 3), outputs=[layer])
    out, failed = [], {}
    for chunk, m, bad in predict_images(model, paths, size, batch_size):
        m = (m[0] if isinstance(m, list) else m).astype(np.float16)
        m[[p in bad for p in chunk]] = np.nan
        failed |= bad
        out.append(m.reshape(len(m), -1, m.shape[-1]))
    return (np.concatenate(out) if out else np.zeros((0, 1, 1), np.float16)), failed


def _build_head(kind, input_shape, n_classes, mean=None, var=None):
    x_in = keras.Input(input_shape, name="features")
    if kind == "dense":
        x = keras.layers.Normalization(mean=mean, variance=var, name="standardize")(x_in)
        x = keras.layers.Dropout(0.5)(x)
    else:
        x = keras.layers.GRU(128, name="gru")(keras.layers.LayerNormalization()(x_in))
        x = keras.layers.Dropout(0.3)(x)
    out = keras.layers.Dense(n_classes, activation="softmax", name="classes")(x)
    model = keras.Model(x_in, out, name=f"{kind}_classifier")
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


def plot_confusion_top(y_true, pred, classes, path, top=20):
    """Confusion matrix of the ``top`` most frequent true classes, rows normalised."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    from sklearn.metrics import confusion_matrix
    counts = np.bincount(y_true, minlength=len(classes))
    keep = np.argsort(-counts)[:top]
    cm = confusion_matrix(y_true, pred, labels=keep).astype(float)
    cm /= np.maximum(cm.sum(1, keepdims=True), 1)
    names = [str(classes[k])[:22] for k in keep]
    fig, ax = plt.subplots(figsize=(0.45 * len(keep) + 3, 0.45 * len(keep) + 2))
    sns.heatmap(cm, xticklabels=names, yticklabels=names, cmap="Blues", vmin=0, vmax=1, ax=ax)
    ax.set(xlabel="predicted", ylabel="true", title=f"confusion (top {len(keep)} classes, row-normalised)")
    return _save(fig, path)


def _plot_outliers(outliers, path, n=8):
    import matplotlib.pyplot as plt
    n = max(1, min(n, len(outliers)))
    fig, axes = plt.subplots(1, n, figsize=(2.4 * n, 3), squeeze=False)
    for ax, row in zip(axes[0], outliers.head(n).itertuples()):
        try:
            ax.imshow(load_array(row.file, 160))
        except ImageError:
            pass
        ax.set_title(f"true: {row.true[:18]}\npred: {row.predicted[:18]}", fontsize=7)
    for ax in axes[0]:
        ax.axis("off")
    return _save(fig, path)


def train_classifier(data_dir, out_dir, target="artist", model_kind="dense", min_examples=2,
                     backbone="efficientnet_lite0", image_size=224, epochs=60, test=0.2, val=0.1, seed=0,
                     progress=True) -> dict:
    """Train and evaluate a ``target`` classifier; returns the summary (also saved in ``out_dir``).

    The split is image-level (every class in train and test); ``test`` images are only used
    for the final report.
    """
    from sklearn.utils.class_weight import compute_class_weight
    if model_kind not in ("dense", "cnn_rnn"):
        raise ValueError(f"model_kind must be 'dense' or 'cnn_rnn', got {model_kind!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    d, root, excluded = _labelled_images(data_dir, target, min_examples)
    parts = splitdict(d, test=test, val=val, by="image", seed=seed)
    classes = sorted(d)
    code = {c: k for k, c in enumerate(classes)}
    spec = FeatureSpec(backbone, image_size, "style")
    data, unusable = [], {}
    for part in parts:
        files, labels = flatten(part)
        paths = [str(root / f) for f in files]
        if model_kind == "dense":
            X, failed = embed_files(paths, spec, progress=progress)
        else:
            X, failed = _feature_maps(paths, spec)
        unusable |= failed
        keep = ~np.isnan(X.reshape(len(X), -1)).any(1) if len(X) else np.zeros(0, bool)
        data.append((np.asarray(paths)[keep], X[keep], np.array([code[c] for c in labels])[keep]))
    (_, Xtr, ytr), (_, Xva, yva), (ptest, Xte, yte) = data
    excluded["unusable_images"] = unusable
    for path, reason in unusable.items():
        print(f"left out {path}: {reason}")
    keras.utils.set_random_seed(seed)
    model = _build_head(model_kind, Xtr.shape[1:], len(classes),
                        *((Xtr.mean(0), Xtr.var(0) + 1e-6) if model_kind == "dense" else (None, None)))
    present = np.unique(ytr)
    weights = dict(zip(present, compute_class_weight("balanced", classes=present, y=ytr)))
    stop = keras.callbacks.EarlyStopping(monitor="val_loss" if len(yva) else "loss", patience=6,
                                         restore_best_weights=True)
    model.fit(Xtr, ytr, validation_data=(Xva, yva) if len(yva) else None, epochs=epochs, batch_size=128,
              class_weight=weights, callbacks=[stop], verbose=2 if progress else 0)
    proba = model.predict(Xte, verbose=0)
    summary = classification_summary(yte, proba, classes)
    summary.update({"target": target, "model_kind": model_kind, "n_classes": len(classes), "n_train": len(ytr),
                    "n_test": len(yte), "excluded": excluded})
    outliers = find_outliers(ptest, yte, proba, classes)
    outliers.to_csv(out / "outliers.csv", index=False)
    _plot_outliers(outliers, out / "outliers.png")
    plot_confusion_top(yte, proba.argmax(1), classes, out / "confusion.png")
    model.save(out / "classifier.keras")
    (out / "classes.json").write_text(json.dumps({"classes": classes, "target": target, "model_kind": model_kind,
                                                  "feature_spec": spec.to_dict()}))
    (out / "report.txt").write_text(summary["report_text"])
    (out / "report.json").write_text(json.dumps({k: v for k, v in summary.items() if k != "report_text"}, indent=2,
                                                default=str))
    print(f"{target} ({model_kind}): top-1 {summary['top1']:.3f}, top-5 {summary['top5']:.3f}, weighted F1 "
          f"{summary['weighted_f1']:.3f} over {len(classes)} classes; left out: {excluded['unlabelled']} unlabelled, "
          f"{len(excluded['small_classes'])} classes under {min_examples} images")
    return summary


def predict_files(model_dir, images, top=3) -> dict:
    """``{path: [(label, probability), ...]}`` best ``top`` classes for each image."""
    model_dir = Path(model_dir)
    meta = json.loads((model_dir / "classes.json").read_text())
    model = keras.saving.load_model(model_dir / "classifier.keras", safe_mode=True)
    spec = FeatureSpec(**meta["feature_spec"])
    paths = [str(p) for p in images]
    if meta["model_kind"] == "dense":
        X, failed = embed_files(paths, spec, progress=False)
    else:
        X, failed = _feature_maps(paths, spec)
    if failed:
        path, reason = next(iter(failed.items()))
        raise ImageError(path, reason)
    proba = model.predict(X, verbose=0)
    classes = meta["classes"]
    return {p: [(classes[k], float(row[k])) for k in np.argsort(-row)[:top]] for p, row in zip(paths, proba)}
