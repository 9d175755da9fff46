"""``contrastive`` and ``triplet``: an embedding of cached features learned with
a metric loss, its cosine calibrated into P(same)."""
from __future__ import annotations

import keras
import numpy as np

from ..data.pairs import make_pairs
from .calibration import dot_embedder, fit_calibration
from .devices import get_strategy
from .method import KerasTraining, SameArtistMethod, pair_similarities, register
from .sampling import gather_dataset, random_triplets
from .networks import ContrastiveModel, TripletModel, build_embedding_net

__all__ = ["ContrastiveMethod", "TripletMethod"]


class _MetricLearning(KerasTraining, SameArtistMethod):
    """Parameters
    ----------
    dim : embedding dimensions; margin : the loss's margin
    pairs_per_image : random training pairs (or triplets) drawn per painting
    epochs, patience, learning_rate, batch_size, seed : ``model.fit`` with Adam
    backup_dir, callbacks : see ``painter.same_artist.method.KerasTraining``
    """
    default_margin = 1.0
    trainer_class = ContrastiveModel

    def __init__(self, dim=128, margin=None, pairs_per_image=20, epochs=30, patience=5, learning_rate=1e-3,
                 batch_size=256, seed=0, backup_dir=None, callbacks=()):
        self.dim, self.margin, self.pairs_per_image = dim, margin, pairs_per_image
        self.epochs, self.patience, self.learning_rate, self.batch_size = epochs, patience, learning_rate, batch_size
        self.seed, self.backup_dir, self.callbacks = seed, backup_dir, callbacks

    def _fit(self, features, labels, validation, spec):
        keras.utils.set_random_seed(self.seed)
        norm = keras.layers.Normalization(mean=features.mean(0), variance=features.var(0) + 1e-6, name="standardize")
        margin = self.default_margin if self.margin is None else self.margin
        with get_strategy().scope():
            net = build_embedding_net(features.shape[1], dim=self.dim)
            x_in = keras.Input((features.shape[1],), name="features")
            embedder = keras.Model(x_in, net(norm(x_in)), name=f"{self.name}_embedding")
            trainer = self.trainer_class(embedder, margin=margin)
            trainer.compile(optimizer=keras.optimizers.Adam(self.learning_rate))
        ds = gather_dataset(features, self._batches(np.unique(labels, return_inverse=True)[1]), self.batch_size,
                            shuffle_seed=self.seed)
        trainer(next(iter(ds))[0])   # build the variables, so that a resumed fit can load them
        hist = trainer.fit(ds, epochs=self.epochs, verbose=2, shuffle=False,   # the dataset shuffles
                           callbacks=self.fit_callbacks(validation, embedder))
        cos = pair_similarities(embedder, validation.features, validation.i, validation.j)[0]
        alpha, _, self.bias_ = fit_calibration(cos, np.zeros_like(cos), validation.same)
        self.scorer_, self.embedder_ = "dot", dot_embedder(embedder, alpha, 0.0)
        self.info_ = {"calibration": {"alpha": alpha, "beta": 0.0, "bias": self.bias_}, "history": self._history(hist)}


@register("contrastive")
class ContrastiveMethod(_MetricLearning):
    __doc__ = "Contrastive loss (Hadsell et al.) on random balanced pairs.\n\n" + _MetricLearning.__doc__

    def _batches(self, y):
        i, j, s = make_pairs(y, self.pairs_per_image * len(y), seed=self.seed)
        return i, j, s.astype(np.float32)


@register("triplet")
class TripletMethod(_MetricLearning):
    __doc__ = "Triplet loss on (anchor, positive, random negative).\n\n" + _MetricLearning.__doc__
    default_margin, trainer_class = 0.3, TripletModel

    def _batches(self, y):
        n = self.pairs_per_image * len(y)
        return (*random_triplets(y, n, self.seed), np.zeros(n, np.float32))
