"""Pairs of paintings: random pairs for training, the seed's image-pair generator, and the
validation layout every same-artist method is chosen on.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .images import load_array
from .labels import flatten

__all__ = ["make_pairs", "datagenerator", "validation_split", "validation_pairs", "ValidationPairs"]


def make_pairs(labels, n_pairs: int, seed: int = 0, positive_fraction: float = 0.5):
    """Sample image pairs for training or evaluation.

    Parameters
    ----------
    labels : sequence, length n_images
        Label of every image (e.g. from ``flatten``).
    n_pairs : int
        Number of pairs; ``round(n_pairs * positive_fraction)`` are same-label pairs.

    Returns
    -------
    (i, j, same) : three int arrays of length n_pairs
        Image indices and 1 for same label, 0 otherwise; ``i != j`` always; shuffled.
    """
    labels = np.asarray(labels)
    codes, inverse = np.unique(labels, return_inverse=True)
    members = [np.flatnonzero(inverse == c) for c in range(len(codes))]
    multi = [m for m in members if len(m) >= 2]
    if len(codes) < 2:
        raise ValueError("make_pairs: need at least two labels for different-label pairs")
    if not multi:
        raise ValueError("make_pairs: no label has two images, so no same-label pair exists")
    rng = np.random.default_rng(seed)
    n_pos = int(round(n_pairs * positive_fraction))
    # Positives: pick a label (weighted by its number of images), then two distinct members.
    sizes = np.array([len(m) for m in multi], dtype=float)
    chosen = rng.choice(len(multi), size=n_pos, p=sizes / sizes.sum())
    pos = np.empty((n_pos, 2), dtype=np.int64)
    for k, g in enumerate(chosen):
        pos[k] = rng.choice(multi[g], size=2, replace=False)
    # Negatives: two images drawn uniformly, resampled until their labels differ.
    n_neg = n_pairs - n_pos
    neg = rng.integers(0, len(labels), size=(n_neg, 2))
    bad = inverse[neg[:, 0]] == inverse[neg[:, 1]]
    while bad.any():
        neg[bad] = rng.integers(0, len(labels), size=(int(bad.sum()), 2))
        bad = inverse[neg[:, 0]] == inverse[neg[:, 1]]
    pairs = np.concatenate([pos, neg])
    same = np.concatenate([np.ones(n_pos, np.int64), np.zeros(n_neg, np.int64)])
    order = rng.permutation(n_pairs)
    return pairs[order, 0], pairs[order, 1], same[order]


def datagenerator(d: dict, images_dir, batch_size: int = 32, image_size: int = 224,
                  n_pairs: int | None = None, seed: int = 0, repeat: bool = False):
    """A ``tf.data.Dataset`` of ``((A, B), label)`` batches for ``model.fit``.

    Half the pairs are same-artist (label 1), half different-artist (label 0); an image is
    never paired with itself. Images are decoded in parallel by ``painter.images`` (EXIF,
    CMYK, PNG-behind-.jpg all handled) and prefetched. The pairs are a fixed sample drawn
    with ``seed``, so two calls give the same batches.

    Parameters
    ----------
    d : label dict (see ``readdatainfo``)
    images_dir : path the file names in ``d`` are relative to
    n_pairs : int, optional
        Pairs per pass; default twice the number of images.

    Yields
    ------
    ((A, B), y) : A and B float32 ``(batch, image_size, image_size, 3)`` in 0..255; y float32 ``(batch,)``.
    """
    import tensorflow as tf

    if batch_size < 1:
        raise ValueError(f"datagenerator: batch_size must be >= 1, got {batch_size}")
    files, labels = flatten(d)
    paths = np.array([str(Path(images_dir) / f) for f in files])
    i, j, y = make_pairs(labels, n_pairs or 2 * len(files), seed=seed)

    def load(path):
        return load_array(path.decode() if isinstance(path, bytes) else str(path), image_size).astype(np.float32)

    def load_pair(pa, pb, label):
        a = tf.numpy_function(load, [pa], tf.float32, stateful=False)
        b = tf.numpy_function(load, [pb], tf.float32, stateful=False)
        a.set_shape((image_size, image_size, 3))
        b.set_shape((image_size, image_size, 3))
        return (a, b), tf.cast(label, tf.float32)

    ds = tf.data.Dataset.from_tensor_slices((paths[i], paths[j], y))
    ds = ds.map(load_pair, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(batch_size)
    if repeat:
        ds = ds.repeat()
    return ds.prefetch(tf.data.AUTOTUNE)


def validation_split(labels, val_artists=0.2, val_images=0.2, seed=0, prefer=None):
    """Indices ``(fit, val_seen, val_unseen)``: held-out artists and held-out images of the rest.

    ``prefer``: artist names to hold out first (e.g. those a base model has never seen, so that
    unseen-artist validation stays unseen by every learned part); the rest are drawn as usual.
    """
    rng = np.random.default_rng(seed)
    names = np.unique(labels)
    n_held = int(round(val_artists * len(names))) if val_artists else 0
    # drawn whatever ``prefer`` says: the held-out paintings of the seen artists then depend only on
    # which artists are held out (a preference that picks the artists a plain draw picked, e.g. a
    # backbone's own held-out artists, gives that draw's split exactly)
    drawn = rng.choice(names, size=n_held, replace=False)
    held = set(drawn)
    if prefer is not None:
        preferred, drawn = np.isin(names, list(prefer)), np.isin(names, drawn)
        order = np.lexsort((np.random.default_rng([seed, 1]).random(len(names)), ~drawn, ~preferred))
        held = set(names[order[:n_held]])   # preferred first, then those drawn, then the rest at random
    unseen = np.flatnonzero([lab in held for lab in labels])
    seen_all = rng.permutation(np.flatnonzero([lab not in held for lab in labels]))
    n_val = int(round(val_images * len(seen_all)))
    return np.sort(seen_all[n_val:]), np.sort(seen_all[:n_val]), unseen


def validation_pairs(labels, val_seen, val_unseen, n=10000, seed=1):
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
        counts = np.unique(labels[ids], return_counts=True)[1]
        # a kind with no artist holding two of its paintings has no same-artist pair: left out (a
        # collection of two or three paintings per artist holds out one painting of each seen artist)
        if len(counts) >= 2 and counts.max() >= 2:
            i, j, s = make_pairs(labels[ids], n, seed=seed)
            i, j = ids[i], ids[j]
            if kind == "unseen" and len(val_seen):
                different = np.flatnonzero(s == 0)
                share = 2 * len(val_seen) / (2 * len(val_seen) + len(val_unseen))
                mixed = rng.choice(different, int(round(share * len(different))), replace=False)
                i[mixed] = rng.choice(val_seen, len(mixed))
            parts.append((i, j, s, np.full(len(s), kind)))
    if not parts:
        raise ValueError("validation_pairs: the held-out paintings have fewer than two artists, or no artist "
                         "with two of them; use more artists or a larger val_artists")
    return tuple(np.concatenate(x) for x in zip(*parts))


@dataclass
class ValidationPairs:
    """Held-out paintings and the pairs among them that every method is chosen and calibrated on.

    features : ``(m, D)`` the held-out paintings' features (or any per-painting inputs)
    labels : ``(m,)`` their artists
    i, j : ``(n,)`` row indices into ``features`` of the pairs' two paintings
    same : ``(n,)`` 1 for a same-artist pair
    kind : ``(n,)`` ``"seen"`` (both artists in training) or ``"unseen"``
    rows : ``(m,)`` optional: where the held-out paintings are in the collection ``hold_out`` split
    unseen_artists : optional: the artists held out whole (``hold_out`` sets it; an artist with
        one painting may be in no pair, so the pairs alone do not tell)
    """
    features: np.ndarray
    labels: np.ndarray
    i: np.ndarray
    j: np.ndarray
    same: np.ndarray
    kind: np.ndarray
    rows: np.ndarray | None = None
    unseen_artists: np.ndarray | None = None

    @classmethod
    def hold_out(cls, features, labels, val_artists=0.2, seed=0, n_pairs=10000, prefer=None):
        """Split ``(features (N, D), labels (N,))`` into fitting rows and validation pairs.

        Returns ``(fit_features, fit_labels, validation)``: ``val_artists`` of the artists are
        held out whole (unseen; ``prefer``-red names first, see ``validation_split``) and 20% of
        the other artists' paintings (seen).
        """
        labels = np.asarray(labels)
        fit, val_seen, val_unseen = validation_split(labels, val_artists=val_artists, seed=seed, prefer=prefer)
        i, j, same, kind = validation_pairs(labels, val_seen, val_unseen, n=n_pairs, seed=seed + 1)
        held = np.sort(np.concatenate([val_seen, val_unseen]))
        validation = cls(features[held], labels[held], np.searchsorted(held, i), np.searchsorted(held, j), same, kind,
                         held, np.unique(labels[val_unseen]))
        return features[fit], labels[fit], validation

    def rejoin(self, fit_features, fit_labels):
        """``(features, labels)`` of every painting: the fitting rows and these held-out ones, in the
        collection's order when ``rows`` is known (so a refit does not depend on the split), else
        fitting rows first."""
        features = np.concatenate([fit_features, self.features])
        labels = np.concatenate([fit_labels, self.labels])
        if self.rows is None:
            return features, labels
        n = len(features)
        order = np.empty(n, np.int64)
        order[np.setdiff1d(np.arange(n), self.rows)] = np.arange(len(fit_features))
        order[self.rows] = len(fit_features) + np.arange(len(self.rows))
        return features[order], labels[order]
