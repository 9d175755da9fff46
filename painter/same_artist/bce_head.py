"""``bce``: the seed project's Siamese head (|A−B|, dropout, sigmoid, binary cross-entropy) trained on
cached features instead of through the backbone."""
from __future__ import annotations

import keras
import numpy as np

from ..data.pairs import make_pairs
from .devices import get_strategy
from .method import KerasTraining, SameArtistMethod, register
from .model import predict_rows
from .sampling import gather_dataset
from .networks import build_pair_head, compile_pair_model

__all__ = ["PairHeadMethod"]


@register("bce")
class PairHeadMethod(KerasTraining, SameArtistMethod):
    """Parameters
    ----------
    dropout : the head's dropout before the sigmoid
    pairs_per_image : random balanced training pairs drawn per painting
    epochs, patience, learning_rate, batch_size, seed : ``model.fit`` with Adam
    backup_dir, callbacks : see ``painter.same_artist.method.KerasTraining``
    """

    def __init__(self, dropout=0.3, pairs_per_image=20, epochs=30, patience=5, learning_rate=1e-3,
                 batch_size=256, seed=0, backup_dir=None, callbacks=()):
        self.dropout, self.pairs_per_image = dropout, pairs_per_image
        self.epochs, self.patience, self.learning_rate, self.batch_size = epochs, patience, learning_rate, batch_size
        self.seed, self.backup_dir, self.callbacks = seed, backup_dir, callbacks

    def _fit(self, features, labels, validation, spec):
        keras.utils.set_random_seed(self.seed)
        norm = keras.layers.Normalization(mean=features.mean(0), variance=features.var(0) + 1e-6, name="standardize")
        x_in = keras.Input((features.shape[1],), name="features")
        # unit-length standardized features keep |A-B| on a scale a linear head can use
        embedder = keras.Model(x_in, keras.layers.UnitNormalization(name="unit")(norm(x_in)),
                               name="standardize_features")
        Z, Zv = predict_rows(embedder, features), predict_rows(embedder, validation.features)
        with get_strategy().scope():
            head = compile_pair_model(build_pair_head((Z.shape[1],), dropout=self.dropout), self.learning_rate)
        i, j, s = make_pairs(labels, self.pairs_per_image * len(labels), seed=self.seed)
        train_ds = gather_dataset(Z, (i, j, s.astype(np.float32)), self.batch_size, shuffle_seed=self.seed)
        val_ds = gather_dataset(Zv, (validation.i, validation.j, validation.same.astype(np.float32)), 1024)
        hist = head.fit(train_ds, validation_data=val_ds, epochs=self.epochs, verbose=2, shuffle=False,
                        callbacks=self.fit_callbacks(validation))   # val_auc: Keras's AUC on the validation pairs
        self.scorer_, self.embedder_, self.head_ = "head", embedder, head
        self.info_ = {"history": self._history(hist)}
