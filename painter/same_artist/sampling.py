"""Training examples drawn from labelled paintings, as tf.data pipelines for ``model.fit``:
random balanced pairs and triplets, fresh every epoch (``PairSampler``) or drawn once
(``gather_dataset``), with hard negatives from each artist's nearest artists."""
from __future__ import annotations

import keras
import numpy as np

from ..data.pairs import make_pairs
from .frozen_stages import load_size

__all__ = ["random_triplets", "gather_dataset", "nearest_artists", "PairSampler"]


def random_triplets(y, n, seed):
    """``(anchor, positive, negative)`` index arrays of ``n`` triplets: a random same-label pair and
    a random painting of another label."""
    a, p, _ = make_pairs(y, n, seed=seed, positive_fraction=1.0)
    rng = np.random.default_rng(seed)
    neg = rng.integers(0, len(y), len(a))
    while (bad := y[neg] == y[a]).any():
        neg[bad] = rng.integers(0, len(y), int(bad.sum()))
    return a, p, neg


def gather_dataset(F, batches, batch_size, shuffle_seed=None):
    """tf.data of feature rows gathered by index: ``batches`` is a tuple of index arrays + targets."""
    import tensorflow as tf
    table = tf.constant(F)
    *idx, y = batches
    ds = tf.data.Dataset.from_tensor_slices((tuple(idx), y))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(y), seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(lambda ix, t: (tuple(tf.gather(table, k) for k in ix), t))
    return ds.prefetch(2)


def nearest_artists(inputs, codes, k=5):
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
            rounds = -(-self.n // len(self.codes))
            i = np.concatenate([rng.permutation(len(self.codes)) for _ in range(rounds)])[:self.n]
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

