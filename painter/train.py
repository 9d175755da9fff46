"""Train a same-artist model on a cleaned data folder (CPU fast path: cached frozen features).

Every method sees the same data and the same validation: 20% of the training artists are held
out whole (pairs of *unseen* artists), and 20% of the remaining artists' images (pairs of
*seen* artists). Methods (``method=``):

* ``"lda"`` (default): style statistics -> PCA whitening -> LDA embedding; each image's
  softmax over its cosines to the training artists' mean embeddings (nearest class mean) is
  its artist-probability profile. Score = n_artists x profile dot product + w x LDA cosine; the
  temperature and weight are chosen on validation pairs, then calibrated. Refitted on all
  training images at the end.
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

from .data import flatten, make_pairs, read_training_images
from .features import DEFAULT_FEATURE_BACKBONES, FeatureSpec, LogColumns, embed_files, std_columns
from .metric import fit_calibration
from .pairmodel import PairModel, predict_rows
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
    d, root = read_training_images(data_dir, label)
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
    """``(i, j, same, kind)``: ``n`` seen and ``n`` unseen validation pairs, half same-artist each.

    Laid out as the competition's test pairs, which are drawn among test paintings whoever
    painted them: "seen" pairs join two held-out paintings by training artists; "unseen" pairs
    involve a held-out artist, and of their different-artist pairs the share that uniform
    drawing among all held-out paintings would give, ``2 s / (2 s + u)`` for ``s`` and ``u``
    held-out paintings of seen and unseen artists, join a held-out artist's painting with a
    training artist's.
    """
    rng = np.random.default_rng(seed)
    parts = []
    for kind, ids in (("seen", val_seen), ("unseen", val_unseen)):
        if len(ids) >= 2 and len(np.unique(labels[ids])) >= 2:
            i, j, s = make_pairs(labels[ids], n, seed=seed)
            i, j = ids[i], ids[j]
            if kind == "unseen" and len(val_seen):
                different = np.flatnonzero(s == 0)
                share = 2 * len(val_seen) / (2 * len(val_seen) + len(val_unseen))
                mixed = rng.choice(different, int(round(share * len(different))), replace=False)
                i[mixed] = rng.choice(val_seen, len(mixed))
            parts.append((i, j, s, np.full(len(s), kind)))
    return tuple(np.concatenate(x) for x in zip(*parts))


# --- methods: each returns (embedder, head, calibrate, history) ---------------------------------

def _lda(F, y, n_classes, pca_dim=384, lda_dim=None, log_columns=None, overwrite=False, **_):
    """PCA-whitened LDA embedding plus its cosine to every artist's mean, as one Keras model.

    features ``(n, D)`` -> [log of the std columns] -> standardize -> PCA whitening (``pca_dim``)
    -> LDA (``n_classes - 1``) -> unit length = embedding; its cosines to the artists' unit mean
    embeddings = class_cosine.

    ``pca_dim`` 384: validation AUC (seen + unseen) / 2 0.9130 against 0.9113 for 256 and
    0.9123 for 512 (four artist splits, ``benchmarks/feature_choice.py``).

    ``log_columns`` (bool ``(D,)``, optional): columns to take the log of first (the style
    standard deviations, see ``painter.features.std_columns``). ``overwrite``: ``F`` (float32)
    may be used as the working copy and is destroyed.

    Outputs ``[embedding (n, d), class_cosine (n, n_classes)]``; a softmax of ``class_cosine``
    over a temperature is the nearest-class-mean artist classifier whose probability profiles
    are compared by dot product (measured better than a logistic regression, seen and unseen).
    """
    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    # one working copy, transformed in place (the real competition's 79,433 training paintings
    # make a 5 GB feature matrix): log of the stds as LogColumns does, standardize, PCA
    S = F if overwrite and F.dtype == np.float32 else np.array(F, np.float32)
    if log_columns is not None:
        S[:, log_columns] = np.log(np.maximum(S[:, log_columns], 1e-6))
    mean = S.mean(0, dtype=np.float64)   # float64 sums, without a float64 copy of S
    S -= mean.astype(np.float32)
    std = np.sqrt(np.einsum("ij,ij->j", S, S, dtype=np.float64) / len(S)) + 1e-6
    S /= std.astype(np.float32)
    # within-class scatter must stay invertible: fewer dimensions than samples minus classes
    n_pca = max(1, min(pca_dim, len(S) - n_classes - 1, S.shape[1]))
    pca = PCA(n_pca, whiten=True, random_state=0, copy=False)
    W = pca.fit_transform(S)   # overwrites S
    del S
    n_lda = min(lda_dim or n_classes - 1, n_classes - 1, W.shape[1])
    lda = LinearDiscriminantAnalysis(n_components=n_lda, solver="eigen").fit(W, y)
    scal = lda.scalings_[:, :n_lda]   # eigen solver: transform(W) = W @ scal
    E = W @ scal
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    centroids = np.stack([E[y == c].mean(0) for c in range(n_classes)])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)

    # standardize -> PCA whitening -> LDA is linear: one (D, d) layer carries the product, a
    # third of the weights of the three (15,872 x 384 + 384 x 174 against 15,872 x 174)
    proj = (pca.components_.T / np.sqrt(pca.explained_variance_)[None, :]).astype(np.float64) @ scal
    kernel = proj / std[:, None]
    bias = -(mean / std) @ proj - pca.mean_ @ proj
    x = x_in = keras.Input((len(mean),), name="features")
    if log_columns is not None:
        log = LogColumns(name="log_std")
        x = log(x)
        log.set_weights([np.asarray(log_columns, np.float32)])
    e = L2Normalize(name="embedding")(_fixed_dense(x, kernel, bias, "standardize_pca_lda"))
    c = _fixed_dense(e, centroids.T, None, "class_cosine")
    return keras.Model(x_in, [e, c], name="lda_embedding"), None, True, None


def _fixed_dense(x, kernel, bias, name):
    """A Dense layer carrying weights computed outside Keras (here by scikit-learn)."""
    layer = keras.layers.Dense(kernel.shape[1], use_bias=bias is not None, name=name)
    out = layer(x)
    layer.set_weights([np.asarray(kernel, np.float32)] + ([] if bias is None else [np.asarray(bias, np.float32)]))
    return out


def _profile_score(E, C, i, j, temperature, weight):
    """``n p_a·p_b + w cos(e_a, e_b)`` of pairs ``(i, j)``, ``p = softmax(C / T)``, from ``_lda``'s outputs."""
    from scipy.special import softmax
    P = softmax(C / temperature, axis=1)
    return C.shape[1] * np.einsum("ij,ij->i", P[i], P[j]) + weight * np.einsum("ij,ij->i", E[i], E[j])


def _choose_scorer(E, C, i, j, same, kind, temperatures=(0.05, 0.07, 0.1, 0.14, 0.2),
                   weights=(0.0, 0.5, 1.0, 2.0, 4.0, 8.0)):
    """Pick the softmax temperature T and cosine weight w of ``score = n p_a·p_b + w cos(e_a, e_b)``.

    ``n`` is the number of artists: ``n p_a·p_b`` is 1 for uniform profiles whatever ``n``, so
    the calibration carries over to the refit on more artists (measured: the best unseen-pair
    threshold of ``n p·p`` moved 1.166 / 1.178 / 1.170 for 84 / 112 / 140 artists; that of
    ``p·p`` 0.014 / 0.011 / 0.008). Chosen on validation pairs by the mean of seen and unseen
    ROC AUC. ``E (n, d)``, ``C (n, n_artists)``: the outputs of ``_lda``'s model. Returns ``(T, w, table)``.
    """
    from sklearn.metrics import roc_auc_score
    table = []
    for T in temperatures:
        for w in weights:
            score = _profile_score(E, C, i, j, T, w)
            aucs = {k: roc_auc_score(same[kind == k], score[kind == k]) for k in np.unique(kind)}
            table.append({"temperature": T, "cos_weight": w, **aucs, "mean": float(np.mean(list(aucs.values())))})
    best = max(table, key=lambda r: r["mean"])
    return best["temperature"], best["cos_weight"], table


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
    F = predict_rows(embedder, F)
    val_pairs = (*val_pairs[:4], predict_rows(embedder, val_pairs[4]))
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


def _dot_embedder(base, alpha, beta, temperature=None):
    """Fold calibration weights into the embedding: z = [sqrt(alpha) e, sqrt(beta) p].

    With ``temperature``, the base's second output (class cosines) becomes ``p = softmax(c / T)``.
    """
    x_in = keras.Input(base.input_shape[1:], name="features")
    parts = base(x_in)
    parts = list(parts) if isinstance(parts, (list, tuple)) else [parts]
    if temperature:
        parts[1] = keras.layers.Softmax(name="artist_probabilities")(
            keras.layers.Rescaling(1.0 / temperature, name="temperature")(parts[1]))
    scaled = [keras.layers.Rescaling(float(np.sqrt(w)), name=f"weight_{k}")(t)
              for k, (t, w) in enumerate(zip(parts, (alpha, beta))) if w > 0]
    z = scaled[0] if len(scaled) == 1 else keras.layers.Concatenate(name="pair_embedding")(scaled)
    return keras.Model(x_in, z, name="pair_embedder")


def _similarities(base, F, i, j):
    out = predict_rows(base, F)
    out = out if isinstance(out, list) else [out]
    sims = [np.einsum("ij,ij->i", t[i], t[j]) for t in out]
    return sims[0], (sims[1] if len(sims) > 1 else np.zeros_like(sims[0]))


def train(data_dir, out_dir, method: str = "lda", backbone: str = DEFAULT_FEATURE_BACKBONES, image_size: int | None = None,
          kind: str = "style", flip: bool = False, epochs: int | None = None, seed: int = 0,
          val_artists: float = 0.2, refit: bool = True, log_std: bool = True, pca_dim: int = 384,
          progress: bool = True) -> PairModel:
    """Train a same-artist model on ``data_dir`` and save it in ``out_dir``.

    Parameters
    ----------
    data_dir : cleaned folder (``painter clean``) or a folder-per-artist tree
    method : one of ``METHODS``
    backbone, image_size, kind, flip : the frozen features (see ``painter.features.FeatureSpec``)
    epochs : maximum epochs for the Keras methods (early stopping may end sooner)
    val_artists : fraction of artists held out for unseen-artist validation
    refit : for ``"lda"``, refit on all training images after validation
    log_std : for ``"lda"``, the log of the style features' standard deviations (measured better)
    pca_dim : for ``"lda"``, the PCA whitening's dimensions before LDA (fewer if there are fewer
        images than dimensions plus artists)

    Returns the saved ``PairModel``; validation AUCs are in ``model.info``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if pca_dim < 1:
        raise ValueError(f"pca_dim must be >= 1, got {pca_dim}")
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
    if not keep.all():
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
        log_columns = std_columns(spec) if log_std and kind == "style" else None
        base, head, calibrate, hist = _lda(F[fit], y_fit, len(fit_names), pca_dim, log_columns=log_columns,
                                                 overwrite=True)
    elif method == "bce":
        base, head, calibrate, hist = _bce(F[fit], y_fit, len(fit_names), val_pairs, out_dir, **kwargs)
    elif method == "arcface":
        base, head, calibrate, hist = _arcface(F[fit], y_fit, len(fit_names), val_pairs, out_dir, **kwargs)
    else:
        base, head, calibrate, hist = _metric_embedding(F[fit], y_fit, len(fit_names), val_pairs, out_dir, method, **kwargs)

    bias, alpha, beta, temperature, scorer = 0.0, 1.0, 0.0, None, {}
    if method == "lda":
        E, C = predict_rows(base, F)
        temperature, weight, table = _choose_scorer(E, C, vi, vj, vs, vkind)
        score = _profile_score(E, C, vi, vj, temperature, weight)
        scale, _, bias = fit_calibration(score, np.zeros_like(score), vs)   # P(same) = sigmoid(scale*score + bias)
        alpha, beta = scale * weight, scale * C.shape[1]
        scorer = {"temperature": temperature, "cos_weight": weight, "scale": scale, "choices": table}
        model = PairModel(spec, _dot_embedder(base, alpha, beta, temperature), "dot", bias, method=method)
    elif calibrate:
        cos, pdot = _similarities(base, F, vi, vj)
        alpha, beta, bias = fit_calibration(cos, pdot, vs)
        embedder = _dot_embedder(base, alpha, beta)
        model = PairModel(spec, embedder, "dot", bias, method=method)
    else:
        model = PairModel(spec, base, "head", head=head, method=method)
    z = model.embed_features(F)
    p_val = model.score_pairs(z, vi, vj)
    from .evaluate import choose_threshold, pair_metrics
    # P(same) stays calibrated; the yes/no decision uses the threshold that is best for seen and
    # unseen pairs alike (same-artist pairs are rarer among unseen artists' pairs)
    threshold = choose_threshold(vs, p_val, vkind)
    metrics = pair_metrics(vs, p_val, vkind, threshold=threshold)
    if method == "lda" and refit:
        base, _, _, _ = _lda(F, y, len(names), pca_dim, log_columns=log_columns, overwrite=True)   # F's last use
        beta = scale * len(names)   # the same score n p·p on the refit's n artists
        model = PairModel(spec, _dot_embedder(base, alpha, beta, temperature), "dot", bias, method=method)
    model.threshold = threshold
    model.info = {"validation": metrics, "calibration": {"alpha": alpha, "beta": beta, "bias": bias, **scorer},
                  "n_images": int(len(F)), "n_artists": int(len(names)), "n_failed": len(failed),
                  "fit_seconds": round(time.time() - t_fit, 1), "total_seconds": round(time.time() - t0, 1)}
    model.save(out_dir)
    np.savez(out_dir / "validation_pairs.npz", i=vi, j=vj, same=vs, kind=vkind, p=p_val,
             paths=np.array(paths)[keep])
    (out_dir / "validation.json").write_text(json.dumps(metrics, indent=2))
    print(f"trained {method} in {model.info['total_seconds']} s; validation: " +
          ", ".join(f"{k} AUC {v['auc']:.3f} acc {v['accuracy']:.3f}" for k, v in metrics.items()))
    return model
