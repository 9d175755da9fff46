"""``siamese``: the seed project's Siamese network fitted end to end on the paintings, and its
contrastive and triplet variants on the same path.

    painting A ─ random crop + flip ─ frozen lower stages ─ top stages ─ map ─┐  (one set of weights)
    painting B ─ random crop + flip ─ frozen lower stages ─ top stages ─ map ─┤
        loss="bce":                 |A−B| ─ GlobalMaxPooling2D ─ Dropout ─ Dense(1, sigmoid)
        "contrastive" / "triplet":  per map ChannelStats ─ Dense ─ unit length; cosine, calibrated
        "cosface":                  the same embedding, trained on single paintings by a
                                    cosine-margin classifier over the fitting artists

One run in two phases, as the Keras transfer-learning guide does it: the head with the backbone
frozen, then the backbone from ``trainable_from`` on at a lower learning rate. The backbone
always runs with ``training=False``, so its BatchNorm layers keep the statistics of the weights it
starts from. Every epoch draws fresh balanced pairs (cosface: paintings, each once before any
twice); early stopping on the validation pairs' ROC AUC.

On a CPU (``cache_maps``, the default without a GPU) the frozen stages' maps of a few random
crops of each painting are computed once and cached on disk (keyed by the image's content):
each training draw picks one of them, so augmentation survives and only the top stages run per
step. With a GPU each step decodes, crops and flips the paintings in the tf.data pipeline,
under mixed precision. Evaluation always sees the centre crop.

The fitted ``PairModel`` reads images itself (no ``FeatureSpec``): centre crop, the fine-tuned
backbone, the head. The fine-tuned backbone is also written to
``backup_dir/backbone.weights.h5``: ``FeatureSpec(backbone, weights=that file)`` gives the
``lda`` style features of a backbone that learned artists.
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import keras
import numpy as np
from scipy.special import expit

from ..backbones import get_backbone
from ..backbones.catalog import trained_artists
from ..features.spec import weights_key
from ..layers import ChannelStats
from .calibration import dot_embedder, fit_calibration
from .devices import get_strategy, global_policy
from .frozen_stages import centre_crops, frozen_maps, load_size, split_backbone
from .method import KerasTraining, SameArtistMethod, check_labels, register
from .model import PairModel, predict_rows
from .sampling import PairSampler, nearest_artists
from .networks import ContrastiveModel, CosFaceModel, TripletModel, build_pair_head, compile_pair_model
from ..errors import ParameterError

__all__ = ["SiameseFitMethod", "LOSSES"]

logger = logging.getLogger(__name__)

LOSSES = ("bce", "contrastive", "triplet", "cosface")


@register("siamese")
class SiameseFitMethod(KerasTraining, SameArtistMethod):
    """Parameters
    ----------
    backbone, image_size : the network and its crop side (paintings are loaded at
        ``image_size / 0.875`` and cropped)
    weights : where the backbone starts: ``"imagenet"``, ``"artists"`` (the packaged fine-tune, to
        tune further) or a weights file of an earlier run
    trainable_from : the first layer (or block, e.g. ``"block11"``: stage 6 of Lite0) fine-tuned in
        the second phase; everything below stays frozen (and cached on a CPU)
    loss : ``"bce"`` (the seed project's |A−B| head), ``"contrastive"``, ``"triplet"`` or ``"cosface"``
        (artist classification with a cosine margin; ``pairs_per_epoch`` paintings per epoch)
    epochs_head, epochs_finetune : epochs of the two phases (frozen backbone, then fine-tuning)
    epochs : total epochs of the run, when given: the head phase's ``min(epochs_head, epochs)``,
        fine-tuning the rest (None: ``epochs_head + epochs_finetune``)
    learning_rate, finetune_learning_rate : Adam's, per phase
    pairs_per_epoch, batch_size : fresh random balanced pairs (or triplets) drawn every epoch
    crops_per_image : random crops (each flipped or not) cached per painting on the CPU path
    hard_negatives : share of different-artist pairs whose second painting is by one of the 5
        artists closest to the first's (mean frozen-map statistics)
    dropout : the bce head's; dim, margin : the metric losses' embedding size and margin
    scale : cosface's logit scale
    patience : early stopping on validation ROC AUC, per phase
    cache_maps : cache the frozen stages' maps (None: when no GPU is present)
    seed, backup_dir, callbacks : see ``painter.same_artist.method.KerasTraining``
    """
    needs_images = True   # ``training.train`` hands it image paths instead of features

    def __init__(self, backbone="efficientnet_lite0", image_size=224, weights="imagenet", trainable_from="block11",
                 loss="bce",
                 epochs_head=2, epochs_finetune=8, epochs=None, learning_rate=1e-3, finetune_learning_rate=1e-4,
                 pairs_per_epoch=8192, batch_size=32, crops_per_image=4, hard_negatives=0.0, dropout=0.3, dim=128,
                 margin=None, scale=30.0, patience=3, cache_maps=None, seed=0, backup_dir=None, callbacks=()):
        if loss not in LOSSES:
            raise ParameterError(f"loss must be one of {LOSSES}, got {loss!r}")
        if not 0 <= hard_negatives <= 1:
            raise ParameterError(f"hard_negatives must be between 0 and 1, got {hard_negatives}")
        if weights not in ("imagenet", "artists") and not Path(str(weights)).is_file():
            raise ParameterError(f"weights must be 'imagenet', 'artists' or a weights file, got {weights!r} "
                                 "(no such file)")
        if hard_negatives and loss == "cosface":
            raise ParameterError(f"hard_negatives={hard_negatives}: cosface trains on single paintings, it draws no "
                             "pairs; use hard_negatives=0")
        self.backbone, self.image_size, self.trainable_from, self.loss = backbone, image_size, trainable_from, loss
        self.weights = weights
        self.epochs_head, self.epochs_finetune, self.epochs = epochs_head, epochs_finetune, epochs
        self.learning_rate, self.finetune_learning_rate = learning_rate, finetune_learning_rate
        self.pairs_per_epoch, self.batch_size, self.crops_per_image = pairs_per_epoch, batch_size, crops_per_image
        self.hard_negatives, self.dropout, self.dim = hard_negatives, dropout, dim
        self.margin, self.scale = margin, scale
        self.patience, self.cache_maps, self.seed = patience, cache_maps, seed
        self.backup_dir, self.callbacks = backup_dir, callbacks

    @staticmethod
    def _check_inputs(paths, labels, validation):
        paths, labels = np.asarray(paths, dtype=str), np.asarray(labels)
        if paths.ndim != 1 or len(paths) != len(labels):
            raise ValueError(f"siamese fits on image paths (n,) with one label each, got {paths.shape} "
                             f"and {labels.shape}")
        check_labels(labels, validation)
        return paths, labels

    # --- fit -----------------------------------------------------------------------------------
    def _fit(self, paths, labels, validation, spec):
        import tensorflow as tf

        keras.utils.set_random_seed(self.seed)
        gpu = bool(tf.config.list_logical_devices("GPU"))
        with global_policy("mixed_float16" if gpu else None):
            self._fit_models(paths, labels, validation, gpu)

    def _fit_models(self, paths, labels, validation, gpu):
        self.cached_ = (not gpu) if self.cache_maps is None else bool(self.cache_maps)
        with get_strategy().scope():
            self.backbone_ = get_backbone(self.backbone, self.weights, (None, None, 3))
            self.bottom_, self.top_ = split_backbone(self.backbone_, self.trainable_from)
        paths, labels, train_inputs, self.val_inputs_ = self._inputs(paths, labels, validation)
        self.fitting_artists_, codes = np.unique(labels, return_inverse=True)
        kind = {"triplet": "triplets", "cosface": "paintings"}.get(self.loss, "pairs")
        sampler = PairSampler(codes, self.pairs_per_epoch, self.seed, kind, hard_negatives=self.hard_negatives,
                              neighbours=nearest_artists(train_inputs, codes) if self.hard_negatives else None)
        ds = sampler.dataset(train_inputs, self.batch_size, self.image_size)
        with get_strategy().scope():
            trainer = self.build_trainer(tuple(ds.element_spec[0][0].shape[1:]), n_artists=int(codes.max()) + 1)
        trainer(next(iter(ds))[0])   # built, so that BackupAndRestore can load a resumed fit
        self.info_ = {"history": self._two_phases(trainer, ds, sampler, validation), "cached_maps": self.cached_,
                      "finetuned": self.finetuned_}
        if self.loss != "bce":
            cos = self._pair_scores(validation.i, validation.j)
            self.alpha_, _, self.bias_ = fit_calibration(cos, np.zeros_like(cos), validation.same)
            self.info_["calibration"] = {"alpha": self.alpha_, "beta": 0.0, "bias": self.bias_}
        if self.backup_dir is not None:
            self.backbone_weights_ = self.save_backbone(Path(self.backup_dir) / "backbone.weights.h5")

    def _inputs(self, paths, labels, validation):
        """The fitting paintings as the pipeline reads them (cached crop maps, or paths) and the
        held-out paintings' centre crops (maps or pixels), unusable paintings dropped / zeroed."""
        if self.cached_:
            train, failed = frozen_maps(self.bottom_, paths, self.image_size, self.crops_per_image,
                                        self._store_key(self.crops_per_image), self.seed)
            val, val_failed = frozen_maps(self.bottom_, validation.features, self.image_size, 0, self._store_key(0))
            val = val[:, 0]
        else:
            train, failed = paths, {}
            val, val_failed = centre_crops(validation.features, self.image_size)
        for what, bad in (("fitting paintings left out", failed), ("held-out paintings scored as blank", val_failed)):
            if bad:
                logger.warning(f"{len(bad)} {what}: " + "; ".join(f"{p}: {r}" for p, r in list(bad.items())[:5]))
        keep = ~np.isin(paths, list(failed))
        return paths[keep], labels[keep], train[keep] if len(failed) else train, val

    def _store_key(self, crops):
        fields = {"backbone": self.backbone, "image_size": self.image_size, "load": load_size(self.image_size),
                  **({} if self.weights == "imagenet" else {"weights": weights_key(self.weights, [self.backbone])}),
                  "cut": self.trainable_from, "crops": crops, "seed": self.seed if crops else None, "v": 1}
        digest = hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:10]
        return f"siamese-maps-{self.backbone}-{self.image_size}-{self.trainable_from}-{crops or 'centre'}-{digest}"

    def build_trainer(self, input_shape, n_artists=None):
        """The encoder (crop or cached map -> flattened top map, or unit embedding), the bce pair
        head, and the model ``fit`` trains (cosface: a classifier over ``n_artists``)."""
        x_in = keras.Input(input_shape, name="crop_maps" if self.cached_ else "crop")
        x = x_in if self.cached_ else self.bottom_(x_in, training=False)
        m = self.top_(x, training=False)   # BatchNorm in inference mode (see _two_phases)
        self.bottom_.trainable = self.top_.trainable = False
        if self.loss == "bce":
            self.encoder_ = keras.Model(x_in, keras.layers.Flatten(name="map")(m), name="encoder")
            self.head_ = _flat_pair_head(tuple(m.shape[1:]), self.dropout)
            a, b = keras.Input(input_shape, name="a"), keras.Input(input_shape, name="b")
            out = self.head_([self.encoder_(a), self.encoder_(b)])
            return compile_pair_model(keras.Model([a, b], out, name="siamese"), self.learning_rate)
        e = keras.layers.Dense(self.dim, name="embedding")(ChannelStats(name="map_stats")(m))
        self.encoder_ = keras.Model(x_in, keras.layers.UnitNormalization(name="unit")(e), name="encoder")
        self.head_ = None
        if self.loss == "cosface":
            trainer = CosFaceModel(self.encoder_, n_artists, self.scale, 0.2 if self.margin is None else self.margin)
        else:
            trainer_class, margin = (ContrastiveModel, 1.0) if self.loss == "contrastive" else (TripletModel, 0.3)
            trainer = trainer_class(self.encoder_, margin=margin if self.margin is None else self.margin)
        trainer.compile(optimizer=keras.optimizers.Adam(self.learning_rate))
        return trainer

    def _two_phases(self, trainer, ds, sampler, validation):
        """Head (backbone frozen), then fine-tuning from ``trainable_from``: two ``fit`` calls of one
        run. A finished head phase leaves ``head_phase.npz`` until the run ends, so an
        interrupted fine-tuning resumes there (with its own optimizer state from the backup)."""
        head_epochs, finetune_epochs = self.phase_epochs()
        marker = Path(self.backup_dir) / "head_phase.npz" if self.backup_dir is not None else None
        monitor = _ValidationAUC(self, validation)
        history, best_head, self.finetuned_ = {}, -np.inf, False
        if marker is not None and marker.is_file():
            with np.load(marker) as saved:
                trainer.set_weights([saved[f"arr_{k}"] for k in range(len(saved.files))])
            best_head = _best_logged(Path(self.backup_dir) / "history.csv", head_epochs)
        elif head_epochs:
            hist = trainer.fit(ds, epochs=head_epochs, verbose=2, shuffle=False,   # PairSampler draws afresh
                               callbacks=[sampler, monitor] + self.fit_callbacks(validation))
            history, best_head = self._history(hist), max(hist.history["val_auc"])
            if marker is not None:
                np.savez(marker, *trainer.get_weights())
        if finetune_epochs:
            head_weights = trainer.get_weights()
            self.unfreeze()
            if self.loss == "bce":
                compile_pair_model(trainer, self.finetune_learning_rate)
            else:
                trainer.compile(optimizer=keras.optimizers.Adam(self.finetune_learning_rate))
            hist = trainer.fit(ds, initial_epoch=head_epochs, epochs=head_epochs + finetune_epochs,
                               verbose=2, shuffle=False,
                               callbacks=[sampler, monitor] + self.fit_callbacks(validation, append=True))
            history = {k: history.get(k, []) + v for k, v in self._history(hist).items()}
            self.finetuned_ = max(hist.history.get("val_auc", [-np.inf])) >= best_head
            if not self.finetuned_:   # fine-tuning did not beat the head phase on validation: keep the head's
                trainer.set_weights(head_weights)
        if marker is not None:
            marker.unlink(missing_ok=True)
        return history

    def phase_epochs(self) -> tuple:
        """``(head, fine-tuning)`` epochs of the run (see ``epochs``)."""
        if self.epochs is None:
            return self.epochs_head, self.epochs_finetune
        head = min(self.epochs_head, self.epochs)
        return head, self.epochs - head

    def unfreeze(self):
        """The second phase: the stages from ``trainable_from`` on train, their BatchNorm layers do not.
        Keras 3 passes fit's ``training=True`` down into nested models over the ``training=False``
        they were called with; a frozen BatchNormalization layer always runs in inference mode."""
        self.top_.trainable = True
        for layer in self.top_.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False

    # --- scoring -------------------------------------------------------------------------------
    def _pair_scores(self, i, j):
        """The validation pairs' P(same) (bce) or cosine under the current weights."""
        z = predict_rows(self.encoder_, self.val_inputs_, 64)
        if self.loss == "bce":
            return PairModel(None, self.encoder_, "head", head=self.head_).score_pairs(z, i, j)
        return np.einsum("ij,ij->i", z[i], z[j])

    def score_validation(self, validation) -> np.ndarray:
        s = self._pair_scores(validation.i, validation.j)
        return s if self.loss == "bce" else expit(self.alpha_ * s + self.bias_).astype(np.float32)

    def pair_model(self, spec=None) -> PairModel:
        """The fitted network as a ``PairModel`` that reads images (``spec`` is ignored: no features)."""
        if not hasattr(self, "encoder_"):
            raise ValueError("SiameseFitMethod is not fitted: call fit(paths, labels, validation) first")
        image = keras.Input((load_size(self.image_size),) * 2 + (3,), name="image")
        x = keras.layers.CenterCrop(self.image_size, self.image_size, name="centre_crop")(image)
        z = self.encoder_(self.bottom_(x) if self.cached_ else x)
        embedder = keras.Model(image, z, name="siamese_embedder")
        if self.loss != "bce":
            embedder = dot_embedder(embedder, self.alpha_, 0.0)
        info = {**self.info_, "backbone": self.backbone, "image_size": self.image_size}
        return PairModel(None, embedder, "head" if self.loss == "bce" else "dot", self.bias_,
                         self.head_, getattr(self, "threshold_", 0.5), self.name, info)

    def save_backbone(self, path) -> str:
        """Write the fine-tuned backbone's weights: ``FeatureSpec(self.backbone, weights=path)``
        reads features from it (``painter.features``). Beside them, ``<path>.artists.txt`` lists
        the artists they learned (the fitting ones and those of the starting weights), so that a
        later training run on them holds out others for validation first."""
        self.backbone_.save_weights(str(path))
        learned = set(self.fitting_artists_) | trained_artists(self.weights)
        Path(f"{path}.artists.txt").write_text("\n".join(sorted(learned)) + "\n", encoding="utf-8")
        return str(path)


def _flat_pair_head(map_shape, dropout):
    """The seed project's head on flattened maps, so that a PairModel keeps one row per painting."""
    a, b = (keras.Input((int(np.prod(map_shape)),), name=n) for n in ("map_a", "map_b"))
    reshape = keras.layers.Reshape(map_shape, name="map")
    p = build_pair_head(map_shape, dropout)([reshape(a), reshape(b)])
    return keras.Model([a, b], keras.layers.Activation("linear", dtype="float32", name="p")(p), name="pair_head")



class _ValidationAUC(keras.callbacks.Callback):
    """``val_auc`` (and for bce ``val_loss``, ``val_accuracy``) of the validation pairs, each
    held-out painting encoded once: cheaper than running every pair through the network."""

    def __init__(self, method, validation):
        super().__init__()
        self.method, self.validation = method, validation

    def on_epoch_end(self, epoch, logs=None):
        from sklearn.metrics import roc_auc_score
        v = self.validation
        s = self.method._pair_scores(v.i, v.j)
        logs["val_auc"] = float(roc_auc_score(v.same, s))
        if self.method.loss == "bce":
            p = np.clip(s, 1e-7, 1 - 1e-7)
            logs["val_loss"] = float(-np.mean(v.same * np.log(p) + (1 - v.same) * np.log(1 - p)))
            logs["val_accuracy"] = float(np.mean((s >= 0.5) == v.same))


def _best_logged(history_csv, epochs):
    """Best ``val_auc`` of the first ``epochs`` epochs logged in ``history.csv``."""
    import pandas as pd
    h = pd.read_csv(history_csv) if Path(history_csv).is_file() else None
    return float(h.loc[h["epoch"] < epochs, "val_auc"].max()) if h is not None and len(h) else -np.inf
