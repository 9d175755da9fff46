"""``lda`` (the default method): style statistics -> PCA whitening -> LDA, and nearest-class-mean
artist profiles.

features ``(n, D)`` -> [log of the std columns] -> standardize -> PCA whitening -> LDA -> unit
length = embedding ``e``; its cosines to the training artists' unit mean embeddings, softmaxed
at a temperature T, are the painting's artist profile ``p``. A pair scores
``n p_a·p_b + w cos(e_a, e_b)``: the profile dot product is the competition winner's scorer, and
it also separates artists never seen in training (two paintings by one unknown artist resemble
the same known artists). T and w are chosen on the validation pairs, then calibrated into one
dot product; at the end the projection is refitted on every painting.
"""
from __future__ import annotations

import warnings

import keras
import numpy as np

from ..features import std_columns
from ..layers import LogColumns
from .calibration import dot_embedder, fit_calibration
from .method import SameArtistMethod, register
from .model import predict_rows
from ..errors import ParameterError

__all__ = ["LDAMethod", "lda_projection", "profile_score", "choose_scorer"]


@register("lda")
class LDAMethod(SameArtistMethod):
    """Parameters
    ----------
    pca_dim : PCA whitening dimensions before LDA (fewer if there are fewer paintings than
        dimensions plus artists). 384: validation AUC (seen + unseen) / 2 0.9130 against 0.9113
        for 256 and 0.9123 for 512 (four artist splits, ``benchmarks/experiments/feature_choice.py``).
    lda_dim : LDA dimensions; None = number of artists - 1
    log_std : take the log of the style standard deviations first (needs ``fit(..., spec=)``)
    temperatures, cos_weights : the grids T and w are chosen from on the validation pairs
    refit : after validation, refit the projection on every painting (fitting + held-out)
    """

    def __init__(self, pca_dim: int = 384, lda_dim: int | None = None, log_std: bool = True,
                 temperatures=(0.05, 0.07, 0.1, 0.14, 0.2), cos_weights=(0.0, 0.5, 1.0, 2.0, 4.0, 8.0),
                 refit: bool = True):
        if pca_dim < 1:
            raise ParameterError(f"pca_dim must be >= 1, got {pca_dim}")
        self.pca_dim, self.lda_dim, self.log_std, self.refit = pca_dim, lda_dim, log_std, refit
        self.temperatures, self.cos_weights = tuple(temperatures), tuple(cos_weights)

    def _fit(self, features, labels, validation, spec):
        self.log_columns_ = std_columns(spec) if self.log_std and spec is not None and spec.summary == "style" else None
        names, y = np.unique(labels, return_inverse=True)
        base = lda_projection(features, y, len(names), self.pca_dim, self.lda_dim, self.log_columns_)
        E, C = (np.asarray(t) for t in predict_rows(base, validation.features))
        v = validation
        T, w, table = choose_scorer(E, C, v.i, v.j, v.same, v.kind, self.temperatures, self.cos_weights)
        score = profile_score(E, C, v.i, v.j, T, w)
        scale, _, self.bias_ = fit_calibration(score, np.zeros_like(score), v.same)  # P = sigmoid(scale*score + bias)
        self.temperature_, self.cos_weight_, self.scale_ = T, w, scale
        self._set_embedder(base, len(names))
        self.info_ = {"calibration": {"alpha": scale * w, "beta": scale * len(names), "bias": self.bias_,
                                      "temperature": T, "cos_weight": w, "scale": scale, "choices": table}}

    def _set_embedder(self, base, n_artists):
        # n p·p is 1 for uniform profiles whatever n: the same calibration holds for the refit's n
        self.scorer_ = "dot"
        self.embedder_ = dot_embedder(base, self.scale_ * self.cos_weight_, self.scale_ * n_artists, self.temperature_)

    def _refit(self, features, labels, validation, spec):
        if not self.refit:
            return
        everything, all_labels = validation.rejoin(features, labels)
        names, y = np.unique(all_labels, return_inverse=True)
        base = lda_projection(everything, y, len(names), self.pca_dim, self.lda_dim, self.log_columns_, overwrite=True)
        self._set_embedder(base, len(names))
        self.info_["calibration"]["beta"] = self.scale_ * len(names)


def lda_projection(F, y, n_classes, pca_dim=384, lda_dim=None, log_columns=None, overwrite=False):
    """PCA-whitened LDA embedding plus its cosine to every artist's mean, as one Keras model.

    features ``(n, D)`` -> [log of the std columns] -> standardize -> PCA whitening (``pca_dim``)
    -> LDA (``n_classes - 1``) -> unit length = embedding; its cosines to the artists' unit mean
    embeddings = class_cosine.

    ``pca_dim`` 384: validation AUC (seen + unseen) / 2 0.9130 against 0.9113 for 256 and
    0.9123 for 512 (four artist splits, ``benchmarks/experiments/feature_choice.py``).

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
    with warnings.catch_warnings():   # an artist with one painting adds no within-artist spread; sklearn warns for each
        warnings.filterwarnings("ignore", "Only one sample available", UserWarning)
        lda = LinearDiscriminantAnalysis(n_components=n_lda, solver="eigen").fit(W, y)
    scal = lda.scalings_[:, :n_lda]   # eigen solver: transform(W) = W @ scal
    E = W @ scal
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    centroids = np.stack([E[y == c].mean(0) for c in range(n_classes)])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)

    # standardize -> PCA whitening -> LDA is linear: one (D, d) layer carries the product, less
    # than half the weights of the three for 175 artists (D x 174 against D x 384 + 384 x 174)
    proj = (pca.components_.T / np.sqrt(pca.explained_variance_)[None, :]).astype(np.float64) @ scal
    kernel = proj / std[:, None]
    bias = -(mean / std) @ proj - pca.mean_ @ proj
    x = x_in = keras.Input((len(mean),), name="features")
    if log_columns is not None:
        log = LogColumns(name="log_std")
        x = log(x)
        log.set_weights([np.asarray(log_columns, np.float32)])
    e = keras.layers.UnitNormalization(name="embedding")(_fixed_dense(x, kernel, bias, "standardize_pca_lda"))
    c = _fixed_dense(e, centroids.T, None, "class_cosine")
    return keras.Model(x_in, [e, c], name="lda_embedding")


def _fixed_dense(x, kernel, bias, name):
    """A Dense layer carrying weights computed outside Keras (here by scikit-learn)."""
    layer = keras.layers.Dense(kernel.shape[1], use_bias=bias is not None, name=name)
    out = layer(x)
    layer.set_weights([np.asarray(kernel, np.float32)] + ([] if bias is None else [np.asarray(bias, np.float32)]))
    return out


def profile_score(E, C, i, j, temperature, weight):
    """``n p_a·p_b + w cos(e_a, e_b)`` of pairs ``(i, j)``, ``p = softmax(C / T)``, from
    ``lda_projection``'s outputs."""
    from scipy.special import softmax
    P = softmax(C / temperature, axis=1)
    return C.shape[1] * np.einsum("ij,ij->i", P[i], P[j]) + weight * np.einsum("ij,ij->i", E[i], E[j])


def choose_scorer(E, C, i, j, same, kind, temperatures=(0.05, 0.07, 0.1, 0.14, 0.2),
                  weights=(0.0, 0.5, 1.0, 2.0, 4.0, 8.0)):
    """Pick the softmax temperature T and cosine weight w of ``score = n p_a·p_b + w cos(e_a, e_b)``.

    ``n`` is the number of artists: ``n p_a·p_b`` is 1 for uniform profiles whatever ``n``, so
    the calibration carries over to the refit on more artists (measured: the best unseen-pair
    threshold of ``n p·p`` moved 1.166 / 1.178 / 1.170 for 84 / 112 / 140 artists; that of
    ``p·p`` 0.014 / 0.011 / 0.008). Chosen on validation pairs by the mean of seen and unseen
    ROC AUC. ``E (n, d)``, ``C (n, n_artists)``: the outputs of ``lda_projection``'s model. Returns ``(T, w, table)``.
    """
    from sklearn.metrics import roc_auc_score
    table = []
    for T in temperatures:
        for w in weights:
            score = profile_score(E, C, i, j, T, w)
            aucs = {k: roc_auc_score(same[kind == k], score[kind == k]) for k in np.unique(kind)}
            table.append({"temperature": T, "cos_weight": w, **aucs, "mean": float(np.mean(list(aucs.values())))})
    best = max(table, key=lambda r: r["mean"])
    return best["temperature"], best["cos_weight"], table
