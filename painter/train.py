"""Train a same-artist model on a cleaned data folder (CPU fast path: cached frozen features).

Every method sees the same data and the same validation: 20% of the training artists are held
out whole (pairs of *unseen* artists), and 20% of the remaining artists' images (pairs of
*seen* artists). Methods (``method=``):

* ``"lda"`` (default): style statistics -> PCA whitening -> LDA cosine, plus the softmax dot
  product of a logistic-regression artist classifier, calibrated on validation pairs. Refitted
  on all training images at the end.
* ``"arcface"``: a learned projection with a cosine-margin artist classifier (CosFace).
* ``"bce"``: seed 001's Siamese head (|A−B|, dropout, sigmoid) with binary cross-entropy.
* ``"contrastive"`` / ``"triplet"``: a learned embedding with that metric loss.

The Keras methods use EarlyStopping on ``val_auc`` (mode ``max``, best weights restored),
checkpoint every epoch and resume after an interruption.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from .data import flatten, make_pairs, readdatainfo, readfolders
from .features import DEFAULT_FEATURE_BACKBONES, FeatureSpec, embed_files
from .metric import fit_calibration
from .pairmodel import PairModel
from .siamese import (ContrastiveModel, L2Normalize, TripletModel, build_embedding_net, build_pair_head,
                      compile_pair_model)

__all__ = ["train", "METHODS", "load_training_images", "validation_split", "get_strategy"]

METHODS = ("lda", "arcface", "bce", "contrastive", "triplet")


def get_strategy():
    """MirroredStrategy over several GPUs, else the default strategy (one device)."""
    import tensorflow as tf
    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


def load_training_images(data_dir, label="artist"):
    """``(paths, labels)`` of the training images of a cleaned folder or a folder-per-artist tree."""
    data_dir = Path(data_dir)
    if (data_dir / "all_data_info.csv").is_file() and (data_dir / "train").is_dir():
        d = readdatainfo(data_dir / "all_data_info.csv", images_dir=data_dir / "train", in_train=True, label=label)
        root = data_dir / "train"
    elif data_dir.is_dir():
        d, root = readfolders(data_dir), data_dir
    else:
        raise FileNotFoundError(f"{data_dir}: folder not found")
    files, labels = flatten(d)
    return [str(root / f) for f in files], np.array(labels)


def validation_split(labels, val_artists=0.2, val_images=0.2, seed=0):
    """Indices ``(fit, val_seen, val_unseen)``: held-out artists and held-out images of the rest."""
    rng = np.random.default_rng(seed)
    names = np.unique(labels)
    held = set(rng.choice(names, size=int(round(val_artists * len(names))), replace=False)) if val_artists else set()
    unseen = np.flatnonzero([lab in held for lab in labels])
    seen_all = rng.permutation(np.flatnonzero([lab not in held for lab in labels]))
    n_val = int(round(val_images * len(seen_all)))
    return np.sort(seen_all[n_val:]), np.sort(seen_all[:n_val]), unseen


def _validation_pairs(labels, val_seen, val_unseen, n=10000, seed=1):
    parts = []
    for kind, ids in (("seen", val_seen), ("unseen", val_unseen)):
        if len(ids) >= 2 and len(np.unique(labels[ids])) >= 2:
            i, j, s = make_pairs(labels[ids], n, seed=seed)
            parts.append((ids[i], ids[j], s, np.full(len(s), kind)))
    return tuple(np.concatenate(x) for x in zip(*parts))


# --- methods: each returns (embedder, head, calibrate, history) ---------------------------------

def _lda(F, y, n_classes, pca_dim=256, lda_dim=100, C=0.05, **_):
    """PCA-whitened LDA embedding and a logistic-regression classifier, as one Keras model."""
    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import LogisticRegression

    mean, std = F.mean(0), F.std(0) + 1e-6
    S = (F - mean) / std
    # within-class scatter must stay invertible: fewer dimensions than samples minus classes
    pca = PCA(max(1, min(pca_dim, len(F) - n_classes - 1, F.shape[1])), whiten=True, random_state=0).fit(S)
    W = pca.transform(S)
    lda = LinearDiscriminantAnalysis(n_components=min(lda_dim, n_classes - 1, W.shape[1]), solver="eigen").fit(W, y)
    logreg = LogisticRegression(C=C, max_iter=500).fit(W, y)

    x_in = keras.Input((F.shape[1],), name="features")
    x = keras.layers.Normalization(mean=mean, variance=std ** 2, name="standardize")(x_in)
    pca_w = pca.components_.T / np.sqrt(pca.explained_variance_)[None, :]
    w = keras.layers.Dense(W.shape[1], name="pca_whiten")
    x = w(x)
    w.set_weights([pca_w.astype(np.float32), (-(pca.mean_ @ pca_w)).astype(np.float32)])
    scal = lda.scalings_[:, : lda._max_components]   # eigen solver: transform(W) = W @ scal
    d = keras.layers.Dense(scal.shape[1], use_bias=False, name="lda")
    e = L2Normalize(name="embedding")(d(x))
    d.set_weights([scal.astype(np.float32)])
    c = keras.layers.Dense(logreg.coef_.shape[0], activation="softmax", name="artist_probabilities")
    p = c(x)
    coef, icpt = logreg.coef_, logreg.intercept_
    if coef.shape[0] == 1:  # binary logistic regression: expand to two softmax classes
        coef, icpt = np.vstack([-coef / 2, coef / 2]), np.array([-icpt[0] / 2, icpt[0] / 2])
    c.set_weights([coef.T.astype(np.float32), icpt.astype(np.float32)])
    return keras.Model(x_in, [e, p], name="lda_embedding"), None, True, None


class _PairAUC(keras.callbacks.Callback):
    """Adds ``val_auc`` (ROC AUC of validation pairs) to the epoch logs for EarlyStopping."""

    def __init__(self, embedder, val_pairs):
        super().__init__()
        self.embedder, self.val_pairs = embedder, val_pairs

    def on_epoch_end(self, epoch, logs=None):
        from sklearn.metrics import roc_auc_score
        i, j, same, _kind, F = self.val_pairs
        cos, _ = _similarities(self.embedder, F, i, j)
        logs["val_auc"] = float(roc_auc_score(same, cos))


def _callbacks(out_dir, patience):
    return [keras.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=patience, restore_best_weights=True),
            keras.callbacks.ModelCheckpoint(str(out_dir / "checkpoint.weights.h5"), save_weights_only=True),
            keras.callbacks.CSVLogger(str(out_dir / "history.csv"), append=True)]


def _initial_epoch(out_dir, model):
    """Resume: load the last checkpoint and return the number of epochs already logged."""
    ckpt, log = out_dir / "checkpoint.weights.h5", out_dir / "history.csv"
    if ckpt.is_file() and log.is_file():
        done = len(pd.read_csv(log))
        if done:
            model.load_weights(ckpt)
            print(f"resuming from epoch {done} ({ckpt})")
            return done
    return 0


def _gather_dataset(F, batches, batch_size, shuffle_seed=None):
    """tf.data of feature rows gathered by index: ``batches`` is a tuple of index arrays + labels."""
    import tensorflow as tf
    table = tf.constant(F)
    *idx, y = batches
    ds = tf.data.Dataset.from_tensor_slices((tuple(idx), y))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(y), seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(lambda ix, t: (tuple(tf.gather(table, k) for k in ix), t))
    return ds.prefetch(2)


def _bce(F, y, n_classes, val_pairs, out_dir, epochs=30, seed=0, patience=5, **_):
    norm = keras.layers.Normalization(mean=F.mean(0), variance=F.var(0) + 1e-6, name="standardize")
    x_in = keras.Input((F.shape[1],), name="features")
    # unit-length standardized features keep |A-B| on a scale a linear head can use
    embedder = keras.Model(x_in, L2Normalize(name="unit")(norm(x_in)), name="standardize_features")
    F = np.asarray(embedder.predict(F, batch_size=4096, verbose=0))
    val_pairs = (*val_pairs[:4], np.asarray(embedder.predict(val_pairs[4], batch_size=4096, verbose=0)))
    with get_strategy().scope():
        head = compile_pair_model(build_pair_head((F.shape[1],)), learning_rate=1e-3)
    i, j, s = make_pairs(y, 20 * len(y), seed=seed)
    vi, vj, vs = val_pairs[:3]
    val = _gather_dataset(val_pairs[4], (vi, vj, vs.astype(np.float32)), 1024)
    train_ds = _gather_dataset(F, (i, j, s.astype(np.float32)), 256, shuffle_seed=seed)
    start = _initial_epoch(out_dir, head)
    hist = head.fit(train_ds, validation_data=val, epochs=epochs, initial_epoch=start, verbose=2,
                    callbacks=_callbacks(out_dir, patience))
    return embedder, head, False, hist


def _metric_embedding(F, y, n_classes, val_pairs, out_dir, method, epochs=30, seed=0, patience=5, **_):
    keras.utils.set_random_seed(seed)
    norm = keras.layers.Normalization(mean=F.mean(0), variance=F.var(0) + 1e-6, name="standardize")
    with get_strategy().scope():
        net = build_embedding_net(F.shape[1], dim=128)
        x_in = keras.Input((F.shape[1],), name="features")
        embedder = keras.Model(x_in, net(norm(x_in)), name=f"{method}_embedding")
        if method == "contrastive":
            trainer = ContrastiveModel(embedder, margin=1.0)
            i, j, s = make_pairs(y, 20 * len(y), seed=seed)
            ds = _gather_dataset(F, (i, j, s.astype(np.float32)), 256, shuffle_seed=seed)
        else:
            trainer = TripletModel(embedder, margin=0.3)
            a, p, _ = make_pairs(y, 20 * len(y), seed=seed, positive_fraction=1.0)
            rng = np.random.default_rng(seed)
            n = rng.integers(0, len(y), len(a))
            while (bad := y[n] == y[a]).any():
                n[bad] = rng.integers(0, len(y), int(bad.sum()))
            ds = _gather_dataset(F, (a, p, n, np.zeros(len(a), np.float32)), 256, shuffle_seed=seed)
        trainer.compile(optimizer=keras.optimizers.Adam(1e-3))
    trainer(next(iter(ds))[0])  # build the variables, so that a resume can load them
    start = _initial_epoch(out_dir, trainer)
    hist = trainer.fit(ds, epochs=epochs, initial_epoch=start, verbose=2,
                       callbacks=[_PairAUC(embedder, val_pairs)] + _callbacks(out_dir, patience))
    return embedder, None, True, hist


def _arcface(F, y, n_classes, val_pairs, out_dir, epochs=40, seed=0, patience=8, **_):
    from .metric import build_artist_embedding
    keras.utils.set_random_seed(seed)
    trainer, embedder = build_artist_embedding(F.shape[1], n_classes, mean=F.mean(0), variance=F.var(0) + 1e-6)
    steps = epochs * int(np.ceil(len(F) / 256))
    trainer.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)),
                    loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1))
    onehot = np.eye(n_classes, dtype=np.float32)[y]
    start = _initial_epoch(out_dir, trainer)
    hist = trainer.fit([F, onehot], onehot, epochs=epochs, initial_epoch=start, batch_size=256, verbose=2,
                       callbacks=[_PairAUC(embedder, val_pairs)] + _callbacks(out_dir, patience))
    return embedder, None, True, hist


def _dot_embedder(base, alpha, beta):
    """Fold calibration weights into the embedding: z = [sqrt(alpha) e, sqrt(beta) p]."""
    x_in = keras.Input(base.input_shape[1:], name="features")
    parts = base(x_in)
    parts = parts if isinstance(parts, (list, tuple)) else [parts]
    scaled = [keras.layers.Rescaling(float(np.sqrt(w)), name=f"weight_{k}")(t)
              for k, (t, w) in enumerate(zip(parts, (alpha, beta))) if w > 0]
    z = scaled[0] if len(scaled) == 1 else keras.layers.Concatenate(name="pair_embedding")(scaled)
    return keras.Model(x_in, z, name="pair_embedder")


def _similarities(base, F, i, j):
    out = base.predict(F, batch_size=4096, verbose=0)
    out = out if isinstance(out, list) else [out]
    sims = [np.einsum("ij,ij->i", t[i], t[j]) for t in out]
    return sims[0], (sims[1] if len(sims) > 1 else np.zeros_like(sims[0]))


def train(data_dir, out_dir, method: str = "lda", backbone: str = DEFAULT_FEATURE_BACKBONES, image_size: int | None = None,
          kind: str = "style", flip: bool = False, epochs: int | None = None, seed: int = 0,
          val_artists: float = 0.2, refit: bool = True, progress: bool = True) -> PairModel:
    """Train a same-artist model on ``data_dir`` and save it in ``out_dir``.

    Parameters
    ----------
    data_dir : cleaned folder (``painter clean``) or a folder-per-artist tree
    method : one of ``METHODS``
    backbone, image_size, kind, flip : the frozen features (see ``painter.features.FeatureSpec``)
    epochs : maximum epochs for the Keras methods (early stopping may end sooner)
    val_artists : fraction of artists held out for unseen-artist validation
    refit : for ``"lda"``, refit on all training images after validation

    Returns the saved ``PairModel``; validation AUCs are in ``model.info``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    t0 = time.time()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = FeatureSpec(backbone=backbone, image_size=image_size, kind=kind, flip=flip)
    paths, labels = load_training_images(data_dir)
    F, failed = embed_files(paths, spec, progress=progress)
    if failed:
        print(f"{len(failed)} training images could not be used:")
        for p, reason in failed.items():
            print(f"  {p}: {reason}")
    keep = ~np.isnan(F).any(axis=1)
    F, labels = F[keep], labels[keep]
    fit, val_seen, val_unseen = validation_split(labels, val_artists=val_artists, seed=seed)
    names, y = np.unique(labels, return_inverse=True)
    vi, vj, vs, vkind = _validation_pairs(labels, val_seen, val_unseen, seed=seed + 1)
    # Methods see only the fit rows; validation pairs index into all rows.
    fit_names, y_fit = np.unique(labels[fit], return_inverse=True)
    val_pairs = (vi, vj, vs, vkind, F)
    kwargs = dict(seed=seed, **({"epochs": epochs} if epochs else {}))
    t_fit = time.time()
    if method == "lda":
        base, head, calibrate, hist = _lda(F[fit], y_fit, len(fit_names))
    elif method == "bce":
        base, head, calibrate, hist = _bce(F[fit], y_fit, len(fit_names), val_pairs, out_dir, **kwargs)
    elif method == "arcface":
        base, head, calibrate, hist = _arcface(F[fit], y_fit, len(fit_names), val_pairs, out_dir, **kwargs)
    else:
        base, head, calibrate, hist = _metric_embedding(F[fit], y_fit, len(fit_names), val_pairs, out_dir, method, **kwargs)

    bias, alpha, beta = 0.0, 1.0, 0.0
    if calibrate:
        cos, pdot = _similarities(base, F, vi, vj)
        alpha, beta, bias = fit_calibration(cos, pdot, vs)
        embedder = _dot_embedder(base, alpha, beta)
        model = PairModel(spec, embedder, "dot", bias, method=method)
    else:
        model = PairModel(spec, base, "head", head=head, method=method)
    z = model.embed_features(F)
    p_val = model.score_pairs(z, vi, vj)
    from .evaluate import pair_metrics
    metrics = pair_metrics(vs, p_val, vkind, threshold=0.5)
    if method == "lda" and refit:
        base, _, _, _ = _lda(F, y, len(names))
        model = PairModel(spec, _dot_embedder(base, alpha, beta), "dot", bias, method=method)
    model.info = {"validation": metrics, "calibration": {"alpha": alpha, "beta": beta, "bias": bias},
                  "n_images": int(len(F)), "n_artists": int(len(names)), "n_failed": len(failed),
                  "fit_seconds": round(time.time() - t_fit, 1), "total_seconds": round(time.time() - t0, 1)}
    model.save(out_dir)
    np.savez(out_dir / "validation_pairs.npz", i=vi, j=vj, same=vs, kind=vkind, p=p_val,
             paths=np.array(paths)[keep])
    (out_dir / "validation.json").write_text(json.dumps(metrics, indent=2))
    print(f"trained {method} in {model.info['total_seconds']} s; validation: " +
          ", ".join(f"{k} AUC {v['auc']:.3f} acc {v['accuracy']:.3f}" for k, v in metrics.items()))
    return model
