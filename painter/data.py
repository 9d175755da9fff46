"""Seed 001's data helpers: read labels, balance, split, and stream image pairs.

A *label dict* maps a label (an artist, by default) to a sorted list of image file names
relative to an images folder, e.g. ``{"Claude Monet": ["1.jpg", "7.jpg"], ...}``.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .images import is_image_name, load_array

__all__ = [
    "LabelDict", "readdatainfo", "readfolders", "read_training_images", "reducedictrandom", "splitdict",
    "make_pairs", "datagenerator", "flatten",
]


class LabelDict(dict):
    """``dict`` label -> list of file names, plus what was left out while reading.

    Attributes
    ----------
    missing : list of str
        Files named in the CSV but not found in ``images_dir``.
    unlabelled : list of str
        Files whose label cell was empty.
    """

    def __init__(self, *args, missing=(), unlabelled=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.missing = list(missing)
        self.unlabelled = list(unlabelled)

    @property
    def n_images(self) -> int:
        return sum(len(v) for v in self.values())


def _read_label_table(csv_path) -> pd.DataFrame:
    """Read Kaggle's all_data_info.csv or train_info.csv as columns filename, label columns."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"{csv_path}: file not found")
    df = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    if "new_filename" in df.columns:        # all_data_info.csv
        df = df.rename(columns={"new_filename": "filename"})
    if "filename" not in df.columns:
        raise ValueError(f"{csv_path}: no 'new_filename' or 'filename' column (columns: {', '.join(df.columns)})")
    return df


def readdatainfo(csv_path, images_dir=None, in_train=None, label: str = "artist") -> LabelDict:
    """Read a Painter by Numbers CSV into ``{label: [file names]}``.

    Parameters
    ----------
    csv_path : path
        ``all_data_info.csv`` (Kaggle columns, file in ``new_filename``) or ``train_info.csv``
        (the competition's own training labels, artists hashed; file in ``filename``).
    images_dir : path, optional
        Keep only files present in this folder; the rest are listed in ``result.missing``
        and counted in a warning.
    in_train : bool, optional
        With all_data_info.csv: True keeps the ``in_train`` rows, False the test rows.
    label : {"artist", "style", "genre"} or another column
        The column to group by. Rows with an empty label are left out and listed in
        ``result.unlabelled``.

    Returns
    -------
    LabelDict
        Labels sorted by name, each with its sorted file names.
    """
    df = _read_label_table(csv_path)
    if label not in df.columns:
        raise ValueError(f"{csv_path}: no {label!r} column (columns: {', '.join(df.columns)})")
    if in_train is not None:
        if "in_train" not in df.columns:
            raise ValueError(f"{csv_path}: in_train={in_train} given but the CSV has no 'in_train' column")
        df = df[df["in_train"].str.lower() == str(bool(in_train)).lower()]
    unlabelled = df.loc[df[label].str.strip() == "", "filename"].tolist()
    df = df[df[label].str.strip() != ""]
    missing = []
    if images_dir is not None:
        present = {p.name for p in Path(images_dir).iterdir()} if Path(images_dir).is_dir() else set()
        found = df["filename"].isin(present)
        missing = sorted(df.loc[~found, "filename"])
        df = df[found]
        if missing:
            warnings.warn(f"readdatainfo: {len(missing)} of {len(found)} files listed in {csv_path} "
                          f"are not in {images_dir} (first: {missing[0]}); see result.missing", stacklevel=2)
    groups = df.groupby(label)["filename"].apply(lambda s: sorted(s))
    return LabelDict(sorted(groups.items()), missing=missing, unlabelled=unlabelled)


def readfolders(root) -> LabelDict:
    """Read a folder-per-label layout ``root/<label>/<image>`` into a ``LabelDict``.

    File names are relative to ``root`` (``"Monet/water.jpg"``) so that
    ``datagenerator(d, root)`` finds them.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: folder not found")
    d = {}
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(f"{sub.name}/{f.name}" for f in sub.iterdir() if f.is_file() and is_image_name(f.name))
        if files:
            d[sub.name] = files
    if not d:
        raise ValueError(f"{root}: no <label>/<image> sub-folders with images found")
    return LabelDict(d)


def read_training_images(data_dir, label: str = "artist") -> tuple[LabelDict, Path]:
    """``(d, root)``: the labelled training images of a cleaned folder (``all_data_info.csv`` and
    ``train/``, labelled by the ``label`` column) or of a folder-per-label tree; file names in
    ``d`` are relative to ``root``."""
    data_dir = Path(data_dir)
    if (data_dir / "all_data_info.csv").is_file() and (data_dir / "train").is_dir():
        d = readdatainfo(data_dir / "all_data_info.csv", images_dir=data_dir / "train", in_train=True, label=label)
        return d, data_dir / "train"
    return readfolders(data_dir), data_dir


def reducedictrandom(d: dict, n: int | None = None, seed: int = 0) -> LabelDict:
    """Balance labels by random undersampling.

    Every label keeps ``n`` images chosen at random (``n`` defaults to the smallest label's
    count); labels with fewer than ``n`` images are dropped. Deterministic for a ``seed``.
    """
    if not d:
        raise ValueError("reducedictrandom: empty dict")
    if n is None:
        n = min(len(v) for v in d.values())
    if n < 1:
        raise ValueError(f"reducedictrandom: n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    out = {}
    for label in sorted(d):
        files = sorted(d[label])
        if len(files) >= n:
            out[label] = sorted(rng.choice(files, size=n, replace=False).tolist())
    return LabelDict(out)


def splitdict(d: dict, test: float = 0.4, val: float = 0.2, by: str = "image", seed: int = 0):
    """Split a label dict into ``(train, val, test)`` label dicts.

    Parameters
    ----------
    test, val : float
        Fractions of the images (``by="image"``: within every label) or of the labels
        (``by="artist"``) that go to the test and validation parts; the rest is train.
    by : {"image", "artist"}
        ``"image"`` splits each artist's images (every artist in every part, for seen-artist
        evaluation); ``"artist"`` keeps artists disjoint (for unseen-artist evaluation).

    No image is ever in two parts. Empty labels are not kept.
    """
    if by not in ("image", "artist", "label"):
        raise ValueError(f"splitdict: by must be 'image' or 'artist', got {by!r}")
    if not (0 <= test < 1 and 0 <= val < 1 and test + val < 1):
        raise ValueError(f"splitdict: need 0 <= test, val and test + val < 1, got test={test}, val={val}")
    rng = np.random.default_rng(seed)
    parts = ({}, {}, {})
    if by == "image":
        for label in sorted(d):
            files = rng.permutation(sorted(d[label])).tolist()
            n_test, n_val = int(round(test * len(files))), int(round(val * len(files)))
            if n_test + n_val >= len(files):   # small labels keep at least one training image
                n_test, n_val = max(0, min(n_test, len(files) - 1)), 0
            chunks = (files[n_test + n_val:], files[n_test:n_test + n_val], files[:n_test])
            for part, chunk in zip(parts, chunks):
                if chunk:
                    part[label] = sorted(chunk)
    else:
        labels = rng.permutation(sorted(d)).tolist()
        n_test, n_val = int(round(test * len(labels))), int(round(val * len(labels)))
        groups = (labels[n_test + n_val:], labels[n_test:n_test + n_val], labels[:n_test])
        for part, group in zip(parts, groups):
            part.update({label: sorted(d[label]) for label in sorted(group)})
    return tuple(LabelDict(p) for p in parts)


def flatten(d: dict):
    """Return ``(files, labels)``: parallel lists over every image of a label dict."""
    files, labels = [], []
    for label in sorted(d):
        files += list(d[label])
        labels += [label] * len(d[label])
    return files, labels


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
