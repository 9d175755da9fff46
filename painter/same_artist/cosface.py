"""``cosface``: artist embeddings learned on cached features with a cosine-margin classifier.

A small network maps a painting's features to a unit-length embedding; a cosine classifier
over the training artists with an additive margin (CosFace, Wang et al. 2018; earlier painter
versions called it "arcface") shapes the embedding so that one artist's paintings cluster. Two
similarities come out of it for a pair: the cosine of the two embeddings (carries over to
artists never seen in training) and the dot product of the two artist-probability vectors
(strong when both artists were in training); both are calibrated into one dot product.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import layers

from ..layers import CosineMargin
from .calibration import dot_embedder, fit_calibration
from .devices import get_strategy
from .method import KerasTraining, SameArtistMethod, pair_similarities, register

__all__ = ["CosFaceMethod", "build_artist_embedding"]


@register("cosface")
class CosFaceMethod(KerasTraining, SameArtistMethod):
    """Parameters
    ----------
    dim, hidden, dropout : the embedding network (features -> hidden ReLU -> dim, unit length)
    scale, margin : CosFace's logit scale and additive cosine margin
    epochs, patience, learning_rate, batch_size, seed : ``model.fit`` with a cosine-decayed Adam
    backup_dir : folder for ``BackupAndRestore`` and ``history.csv`` (None: no backup)
    callbacks : more Keras callbacks for ``model.fit``
    """

    def __init__(self, dim=256, hidden=1024, dropout=0.3, scale=30.0, margin=0.2, epochs=40, patience=8,
                 learning_rate=2e-3, batch_size=256, seed=0, backup_dir=None, callbacks=()):
        self.dim, self.hidden, self.dropout, self.scale, self.margin = dim, hidden, dropout, scale, margin
        self.epochs, self.patience, self.learning_rate, self.batch_size = epochs, patience, learning_rate, batch_size
        self.seed, self.backup_dir, self.callbacks = seed, backup_dir, callbacks

    def _fit(self, features, labels, validation, spec):
        keras.utils.set_random_seed(self.seed)
        names, y = np.unique(labels, return_inverse=True)
        with get_strategy().scope():
            trainer, embedder = build_artist_embedding(features.shape[1], len(names), self.dim, self.hidden,
                                                       self.dropout, self.scale, self.margin,
                                                       mean=features.mean(0), variance=features.var(0) + 1e-6)
            steps = self.epochs * int(np.ceil(len(features) / self.batch_size))
            schedule = keras.optimizers.schedules.CosineDecay(self.learning_rate, steps)
            trainer.compile(optimizer=keras.optimizers.Adam(schedule),
                            loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1))
        onehot = np.eye(len(names), dtype=np.float32)[y]
        hist = trainer.fit([features, onehot], onehot, epochs=self.epochs, batch_size=self.batch_size, verbose=2,
                           callbacks=self.fit_callbacks(validation, embedder))
        cos, pdot = pair_similarities(embedder, validation.features, validation.i, validation.j)
        alpha, beta, self.bias_ = fit_calibration(cos, pdot, validation.same)
        self.scorer_, self.embedder_ = "dot", dot_embedder(embedder, alpha, beta)
        self.info_ = {"calibration": {"alpha": alpha, "beta": beta, "bias": self.bias_},
                      "history": self._history(hist)}


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
    l2 = layers.UnitNormalization(name="embedding")
    classifier = CosineMargin(n_classes, scale, margin, name="artist_logits")

    def embed(x):
        return l2(proj(drop(dense(drop_in(norm(x))))))

    e = embed(x_in)
    trainer = keras.Model([x_in, y_in], classifier(e, y_in), name="artist_embedding_trainer")
    probs = layers.Softmax(name="artist_probabilities")(classifier(e))
    embedder = keras.Model(x_in, [e, probs], name="artist_embedding")
    return trainer, embedder
