"""``siamese``: seed 001's Siamese network fitted end to end on the paintings, and its contrastive
and triplet variants (seeds 000 / 002) on the same path.

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

import contextlib
import hashlib
import json
from pathlib import Path

import keras
import numpy as np
from scipy.special import expit

from ..backbones import get_backbone
from ..backbones.catalog import trained_artists
from ..data.pairs import make_pairs
from ..features.extract import cached_rows, content_keys, image_batches, predict_padded
from ..features.spec import weights_key
from ..features.store import FeatureStore
from ..layers import ChannelStats
from .calibration import dot_embedder, fit_calibration
from .method import KerasTraining, SameArtistMethod, check_labels, register
from .metric_learning import random_triplets
from .model import PairModel, predict_rows
from .siamese import ContrastiveModel, CosFaceModel, TripletModel, build_pair_head, compile_pair_model

__all__ = ["SiameseFitMethod", "split_backbone", "frozen_maps", "PairSampler", "LOSSES"]

LOSSES = ("bce", "contrastive", "triplet", "cosface")
CROP_FRACTION = 0.875   # crops are 7/8 of the painting's side, as ImageNet's 224 of 256


@contextlib.contextmanager
def global_policy(name):
    """Keras's global dtype policy set to ``name`` (None: left as it is) inside the block, and put
    back after it: the models built inside keep theirs, and later ones (feature models, whose
    cached features are float32) are not built in float16."""
    previous = keras.mixed_precision.global_policy()
    if name is not None:
        keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def load_size(image_size: int) -> int:
    """Side the paintings are loaded at before cropping ``image_size``."""
    return int(round(image_size / CROP_FRACTION))


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
    loss : ``"bce"`` (seed 001's |A−B| head), ``"contrastive"``, ``"triplet"`` or ``"cosface"``
        (artist classification with a cosine margin; ``pairs_per_epoch`` paintings per epoch)
    epochs_head, epochs_finetune : epochs of the two phases (frozen backbone, then fine-tuning)
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

    def __init__(self, backbone="efficientnet_lite0", image_size=224, weights="imagenet", trainable_from="block11", loss="bce",
                 epochs_head=2, epochs_finetune=8, learning_rate=1e-3, finetune_learning_rate=1e-4,
                 pairs_per_epoch=8192, batch_size=32, crops_per_image=4, hard_negatives=0.0, dropout=0.3, dim=128,
                 margin=None, scale=30.0, patience=3, cache_maps=None, seed=0, backup_dir=None, callbacks=()):
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        if not 0 <= hard_negatives <= 1:
            raise ValueError(f"hard_negatives must be between 0 and 1, got {hard_negatives}")
        if weights not in ("imagenet", "artists") and not Path(str(weights)).is_file():
            raise ValueError(f"weights must be 'imagenet', 'artists' or a weights file, got {weights!r} (no such file)")
        if hard_negatives and loss == "cosface":
            raise ValueError(f"hard_negatives={hard_negatives}: cosface trains on single paintings, it draws no "
                             "pairs; use hard_negatives=0")
        self.backbone, self.image_size, self.trainable_from, self.loss = backbone, image_size, trainable_from, loss
        self.weights = weights
        self.epochs_head, self.epochs_finetune = epochs_head, epochs_finetune
        self.learning_rate, self.finetune_learning_rate = learning_rate, finetune_learning_rate
        self.pairs_per_epoch, self.batch_size, self.crops_per_image = pairs_per_epoch, batch_size, crops_per_image
        self.hard_negatives, self.dropout, self.dim, self.margin, self.scale = hard_negatives, dropout, dim, margin, scale
        self.patience, self.cache_maps, self.seed = patience, cache_maps, seed
        self.backup_dir, self.callbacks = backup_dir, callbacks

    @staticmethod
    def _check_inputs(paths, labels, validation):
        paths, labels = np.asarray(paths, dtype=str), np.asarray(labels)
        if paths.ndim != 1 or len(paths) != len(labels):
            raise ValueError(f"siamese fits on image paths (n,) with one label each, got {paths.shape} and {labels.shape}")
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
        from .training import get_strategy
        self.cached_ = (not gpu) if self.cache_maps is None else bool(self.cache_maps)
        with get_strategy().scope():
            self.backbone_ = get_backbone(self.backbone, self.weights, (None, None, 3))
            self.bottom_, self.top_ = split_backbone(self.backbone_, self.trainable_from)
        paths, labels, train_inputs, self.val_inputs_ = self._inputs(paths, labels, validation)
        self.fitting_artists_, codes = np.unique(labels, return_inverse=True)
        kind = {"triplet": "triplets", "cosface": "paintings"}.get(self.loss, "pairs")
        sampler = PairSampler(codes, self.pairs_per_epoch, self.seed, kind, hard_negatives=self.hard_negatives,
                              neighbours=_nearest_artists(train_inputs, codes) if self.hard_negatives else None)
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
            val, val_failed = _centre_crops(validation.features, self.image_size)
        for what, bad in (("fitting paintings left out", failed), ("held-out paintings scored as blank", val_failed)):
            if bad:
                print(f"{len(bad)} {what}: " + "; ".join(f"{p}: {r}" for p, r in list(bad.items())[:5]))
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
        marker = Path(self.backup_dir) / "head_phase.npz" if self.backup_dir is not None else None
        monitor = _ValidationAUC(self, validation)
        history, best_head, self.finetuned_ = {}, -np.inf, False
        if marker is not None and marker.is_file():
            with np.load(marker) as saved:
                trainer.set_weights([saved[f"arr_{k}"] for k in range(len(saved.files))])
            best_head = _best_logged(Path(self.backup_dir) / "history.csv", self.epochs_head)
        elif self.epochs_head:
            hist = trainer.fit(ds, epochs=self.epochs_head, verbose=2, shuffle=False,   # PairSampler draws afresh
                               callbacks=[sampler, monitor] + self.fit_callbacks(validation))
            history, best_head = self._history(hist), max(hist.history["val_auc"])
            if marker is not None:
                np.savez(marker, *trainer.get_weights())
        if self.epochs_finetune:
            head_weights = trainer.get_weights()
            self.unfreeze()
            if self.loss == "bce":
                compile_pair_model(trainer, self.finetune_learning_rate)
            else:
                trainer.compile(optimizer=keras.optimizers.Adam(self.finetune_learning_rate))
            hist = trainer.fit(ds, initial_epoch=self.epochs_head, epochs=self.epochs_head + self.epochs_finetune,
                               verbose=2, shuffle=False,
                               callbacks=[sampler, monitor] + self.fit_callbacks(validation, append=True))
            history = {k: history.get(k, []) + v for k, v in self._history(hist).items()}
            self.finetuned_ = max(hist.history.get("val_auc", [-np.inf])) >= best_head
            if not self.finetuned_:   # fine-tuning did not beat the head phase on validation: keep the head's
                trainer.set_weights(head_weights)
        if marker is not None:
            marker.unlink(missing_ok=True)
        return history

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


def split_backbone(backbone, trainable_from):
    """``(bottom, top)``: the backbone cut at the input of layer ``trainable_from`` (or of the
    first layer named ``trainable_from_*``, a block); both share the backbone's layers."""
    first = next((layer for layer in backbone.layers
                  if layer.name == trainable_from or layer.name.startswith(f"{trainable_from}_")), None)
    if first is None:
        raise ValueError(f"trainable_from={trainable_from!r}: no such layer or block in {backbone.name}")
    cut = first.input
    if isinstance(cut, (list, tuple)):
        raise ValueError(f"trainable_from={trainable_from!r}: {first.name} has several inputs; "
                         "choose the first layer of a block")
    return (keras.Model(backbone.input, cut, name="frozen_stages"),
            keras.Model(cut, backbone.output, name="trained_stages"))


def _flat_pair_head(map_shape, dropout):
    """Seed 001's head on flattened maps, so that a PairModel keeps one row per painting."""
    a, b = (keras.Input((int(np.prod(map_shape)),), name=n) for n in ("map_a", "map_b"))
    reshape = keras.layers.Reshape(map_shape, name="map")
    p = build_pair_head(map_shape, dropout)([reshape(a), reshape(b)])
    return keras.Model([a, b], keras.layers.Activation("linear", dtype="float32", name="p")(p), name="pair_head")


# --- inputs ------------------------------------------------------------------------------------

def _crops(image, size, k, rng):
    """``k`` random ``size`` crops of an image, each flipped left-right or not; ``k=0``: the centre crop."""
    h, w = image.shape[:2]
    if k == 0:
        y, x = (h - size) // 2, (w - size) // 2
        return image[None, y:y + size, x:x + size]
    out = []
    for _ in range(k):
        y, x = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
        crop = image[y:y + size, x:x + size]
        out.append(crop[:, ::-1] if rng.random() < 0.5 else crop)
    return np.stack(out)


def _centre_crops(paths, size):
    crops, failed = [], {}
    for images, reasons in image_batches(list(paths), load_size(size), 32):
        crops += [_crops(im, size, 0, None)[0] for im in images]
        failed.update({p: r for p, r in zip(paths[len(crops) - len(images):len(crops)], reasons) if r})
    return np.stack(crops).astype(np.float32), failed


def frozen_maps(bottom, paths, image_size, crops, key, seed=0, batch_size=32, progress=True):
    """The frozen stages' maps of ``crops`` random crops of every painting (``crops=0``: the
    centre crop), computed once and cached on disk under ``key`` by image content
    (``painter.features.cached_rows``, as features are).

    Returns ``(maps (n, max(crops, 1), h, w, C) float16, failed {path: reason})``, zeros for the
    paintings in ``failed``; an image's crops depend on its content and ``seed`` only, not on
    which others are computed with it.
    """
    paths = [str(p) for p in paths]
    digests, failed = content_keys(paths, progress=progress)
    k = max(crops, 1)
    rows = cached_rows(paths, digests, failed, FeatureStore(key),
                       lambda todo: _crop_maps(bottom, todo, digests, image_size, crops, seed, batch_size),
                       f"frozen maps x{k}", progress, np.float16)
    shape = bottom.compute_output_shape((1, image_size, image_size, 3))[1:]
    out = np.zeros((len(paths), k, *shape), np.float16)
    for row, v in enumerate(rows):
        if v is not None:
            out[row] = np.asarray(v).reshape(k, *shape)
    return out, failed


def _crop_maps(bottom, paths, digests, image_size, crops, seed, batch_size):
    """``(paths_chunk, maps, failed)`` per batch of paintings, as ``predict_images``: each one's
    crops (drawn from its content and ``seed``) through ``bottom``, flattened into one row."""
    batches = image_batches(paths, load_size(image_size), batch_size)
    for start, (images, reasons) in zip(range(0, len(paths), batch_size), batches):
        chunk = paths[start:start + len(images)]
        x = np.concatenate([_crops(im, image_size, crops, np.random.default_rng([seed, int(digests[p][:12], 16)]))
                            for p, im in zip(chunk, images)]).astype(np.float32)
        maps = predict_padded(bottom, x, batch_size * max(crops, 1)).reshape(len(chunk), -1)
        yield chunk, maps, {p: r for p, r in zip(chunk, reasons) if r}


def _nearest_artists(inputs, codes, k=5):
    """``(n_artists, k)`` each artist's ``k`` nearest other artists by their paintings' mean map
    channel statistics (cached maps; on the image path, random: no maps to compare)."""
    n = codes.max() + 1
    if inputs.dtype.kind in "US":
        rng = np.random.default_rng(0)
        return np.stack([rng.permutation(np.setdiff1d(np.arange(n), [a]))[:k] for a in range(n)])
    x = inputs.mean(axis=(1, 2, 3), dtype=np.float32)   # (n_paintings, C) channel means
    means = np.stack([x[codes == a].mean(0) for a in range(n)])
    means /= np.linalg.norm(means, axis=1, keepdims=True) + 1e-12
    sim = means @ means.T
    np.fill_diagonal(sim, -np.inf)
    return np.argsort(-sim, axis=1)[:, :min(k, n - 1)]


class PairSampler(keras.callbacks.Callback):
    """Fresh balanced pairs (or triplets, or single paintings with their artist) every epoch, as a
    tf.data pipeline for ``model.fit``.

    The draws of epoch ``e`` are made from ``(seed, e)`` when the epoch's iteration starts, so a
    resumed fit draws what the uninterrupted one would have. Each draw of a painting is
    augmented: one of its cached crop maps at random, or (paths) a random crop and flip.
    """
    KINDS = {"pairs": 2, "triplets": 3, "paintings": 1}   # paintings per training example

    def __init__(self, codes, n, seed=0, kind="pairs", hard_negatives=0.0, neighbours=None):
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {tuple(self.KINDS)}, got {kind!r}")
        self.codes, self.n, self.seed, self.kind = codes, int(n), seed, kind
        self.hard_negatives, self.neighbours, self.epoch = hard_negatives, neighbours, 0
        # each artist's paintings, found once rather than for every hard negative of every epoch
        self.members = [np.flatnonzero(codes == a) for a in range(int(codes.max()) + 1)] if hard_negatives else None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def draw(self):
        """``(i, j[, k], target)`` index arrays of this epoch's pairs (triplets), or ``(i, artist)``."""
        seed = [self.seed, self.epoch]
        if self.kind == "paintings":   # every painting once before any twice
            rng = np.random.default_rng(seed)
            i = np.concatenate([rng.permutation(len(self.codes)) for _ in range(-(-self.n // len(self.codes)))])[:self.n]
            return i, self.codes[i].astype(np.float32)
        if self.kind == "triplets":
            return (*random_triplets(self.codes, self.n, seed), np.zeros(self.n, np.float32))
        i, j, same = make_pairs(self.codes, self.n, seed=seed)
        if self.hard_negatives:
            rng = np.random.default_rng([self.seed, self.epoch, 1])
            hard = np.flatnonzero((same == 0) & (rng.random(self.n) < self.hard_negatives))
            artist = self.neighbours[self.codes[i[hard]], rng.integers(0, self.neighbours.shape[1], len(hard))]
            j[hard] = [rng.choice(self.members[a]) for a in artist]
        return i, j, same.astype(np.float32)

    def dataset(self, inputs, batch_size, image_size):
        """``((A, B[, C]), target)`` (or ``((A,), artist)``) batches; ``inputs`` is
        ``(n, crops, h, w, C)`` cached maps or ``(n,)`` image paths."""
        import tensorflow as tf
        k = self.KINDS[self.kind]

        def epoch_pairs(_):
            cols = tf.numpy_function(self.draw, [], [tf.int64] * k + [tf.float32], stateful=True)
            for c in cols:
                c.set_shape((self.n,))
            return tf.data.Dataset.from_tensor_slices((tuple(cols[:k]), cols[k]))

        augment = _random_map(inputs) if inputs.dtype.kind not in "US" else _random_crop(inputs, image_size)
        ds = tf.data.Dataset.range(1).flat_map(epoch_pairs).apply(tf.data.experimental.assert_cardinality(self.n))
        ds = ds.map(lambda ix, y: (tuple(augment(i) for i in ix), y), num_parallel_calls=tf.data.AUTOTUNE)
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _random_map(maps):
    """One of a painting's cached crop maps, at random."""
    import tensorflow as tf
    table = tf.constant(maps)

    def pick(i):
        k = tf.random.uniform((), 0, maps.shape[1], tf.int64)
        return tf.cast(tf.gather_nd(table, tf.stack([i, k])), tf.float32)
    return pick


def _random_crop(paths, image_size):
    """A painting decoded, its short side resized to ``load_size``, randomly cropped and flipped."""
    import tensorflow as tf
    table, side = tf.constant(paths), float(load_size(image_size))

    def crop(i):
        image = tf.io.decode_image(tf.io.read_file(table[i]), channels=3, expand_animations=False)
        hw = tf.cast(tf.shape(image)[:2], tf.float32)
        image = tf.image.resize(image, tf.cast(tf.math.ceil(hw * side / tf.reduce_min(hw)), tf.int32))
        return tf.image.random_flip_left_right(tf.image.random_crop(image, (image_size, image_size, 3)))
    return crop


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
