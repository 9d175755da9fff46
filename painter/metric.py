"""Artist embeddings learned on cached features with a classification-margin loss.

A small network maps an image's features to a unit-length embedding; a cosine classifier
over the training artists with an additive margin (CosFace) shapes the embedding so that one
artist's paintings cluster. Two similarities come out of it for a pair:

* the cosine of the two embeddings — carries over to artists never seen in training;
* the dot product of the two artist-probability vectors — the competition winner's scorer,
  strong when both artists were in training.

Both are dot products, so a calibrated score ``sigmoid(alpha*cos + beta*pdot + gamma)`` is
one dot product of per-image vectors ``[sqrt(alpha)*e, sqrt(beta)*p]`` plus a bias, which is
what makes scoring millions of pairs cheap (see ``painter.pairmodel``).
"""
from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from .siamese import L2Normalize

__all__ = ["CosineMargin", "build_artist_embedding", "fit_calibration"]


@keras.saving.register_keras_serializable(package="painter")
class CosineMargin(layers.Layer):
    """Cosine classifier: ``scale * cos(e, w_k)``, minus ``margin`` at the true class in training."""

    def __init__(self, n_classes, scale=30.0, margin=0.2, **kwargs):
        super().__init__(**kwargs)
        self.n_classes, self.scale, self.margin = int(n_classes), float(scale), float(margin)

    def build(self, input_shape):
        self.w = self.add_weight(shape=(int(input_shape[-1]), self.n_classes), initializer="glorot_uniform", name="w")

    def call(self, e, onehot=None):
        w = self.w / ops.sqrt(ops.maximum(ops.sum(ops.square(self.w), axis=0, keepdims=True), 1e-12))
        cos = ops.matmul(e, w)
        if onehot is not None:
            cos = cos - self.margin * onehot
        return self.scale * cos

    def get_config(self):
        return {**super().get_config(), "n_classes": self.n_classes, "scale": self.scale, "margin": self.margin}


def build_artist_embedding(input_dim, n_classes, dim=256, hidden=1024, dropout=0.3, scale=30.0, margin=0.2,
                           mean=None, variance=None):
    """Return ``(trainer, embedder)``.

    trainer : ``[features (batch, D), onehot (batch, K)] -> margin logits (batch, K)`` for fitting
    embedder : ``features (batch, D) -> [embedding (batch, dim), artist probabilities (batch, K)]``
    """
    x_in = keras.Input((input_dim,), name="features")
    y_in = keras.Input((n_classes,), name="onehot")
    norm = layers.Normalization(mean=mean, variance=variance, name="standardize")
    drop_in = layers.Dropout(dropout, name="dropout_in")
    dense = layers.Dense(hidden, activation="relu", name="hidden")
    drop = layers.Dropout(dropout, name="dropout_hidden")
    proj = layers.Dense(dim, name="projection")
    l2 = L2Normalize(name="embedding")
    classifier = CosineMargin(n_classes, scale, margin, name="artist_logits")

    def embed(x):
        return l2(proj(drop(dense(drop_in(norm(x))))))

    e = embed(x_in)
    trainer = keras.Model([x_in, y_in], classifier(e, y_in), name="artist_embedding_trainer")
    probs = layers.Softmax(name="artist_probabilities")(classifier(e))
    embedder = keras.Model(x_in, [e, probs], name="artist_embedding")
    return trainer, embedder


def fit_calibration(cos, pdot, same):
    """Logistic regression ``P(same) = sigmoid(alpha*cos + beta*pdot + gamma)`` with alpha, beta >= 0.

    A term whose fitted weight comes out negative is dropped (weight 0) and the rest refitted,
    so the score stays a dot product of per-image vectors. Returns ``(alpha, beta, gamma)``.
    """
    from sklearn.linear_model import LogisticRegression

    feats = np.stack([cos, pdot], axis=1)
    use = [0, 1]
    while True:
        lr = LogisticRegression(C=100.0, max_iter=1000).fit(feats[:, use], same)
        coef = dict(zip(use, lr.coef_[0]))
        negative = [k for k, v in coef.items() if v < 0]
        if not negative:
            break
        use = [k for k in use if k not in negative]
        if not use:
            return 0.0, 0.0, float(np.log(np.mean(same) / (1 - np.mean(same))))
    return float(coef.get(0, 0.0)), float(coef.get(1, 0.0)), float(lr.intercept_[0])
