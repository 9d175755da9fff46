"""Label dicts (the seed project's helpers): read a collection's labels, balance and split them.

A *label dict* maps a label (an artist, by default) to a sorted list of image file names
relative to an images folder, e.g. ``{"Claude Monet": ["1.jpg", "7.jpg"], ...}``.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, check_folder, what_folder
from .images import is_image_name
from .kaggle import read_kaggle_csv

__all__ = [
    "LabelDict", "readdatainfo", "readfolders", "read_training_images", "reducedictrandom", "splitdict",
    "flatten", "read_collection",
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
    df = read_kaggle_csv(csv_path)
    if label not in df.columns:
        raise InputError(f"{csv_path}: no {label!r} column (columns: {', '.join(df.columns)})")
    if in_train is not None:
        if "in_train" not in df.columns:
            raise InputError(f"{csv_path}: in_train={in_train} given but the CSV has no 'in_train' column")
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
    return _label_folders(check_folder(root, "data"))


def _label_folders(root: Path) -> LabelDict:
    """``readfolders`` of a folder already checked (``_is_cleaned_kaggle`` checks it first)."""
    d = {}
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(f"{sub.name}/{f.name}" for f in sub.iterdir() if f.is_file() and is_image_name(f.name))
        if files:
            d[sub.name] = files
    if not d:
        raise InputError(f"{root}: no <label>/<image> sub-folders with images found; {what_folder('data')}")
    return LabelDict(d)


def _is_cleaned_kaggle(data_dir: Path) -> bool:
    """True for ``painter clean``'s output, False for another folder; an error for Kaggle's
    download, which holds the CSV but not the cleaned ``train/`` folder."""
    data_dir = check_folder(data_dir, "data")
    if not (data_dir / "all_data_info.csv").is_file():
        return False
    if not (data_dir / "train").is_dir():
        raise InputError(f"{data_dir}: holds all_data_info.csv but no train/ folder, as Kaggle's download does; "
                         f"clean it first: `painter clean {data_dir} --out DATA`, then use DATA")
    return True


def read_training_images(data_dir, label: str = "artist") -> tuple[LabelDict, Path]:
    """``(d, root)``: the labelled training images of a cleaned folder (``all_data_info.csv`` and
    ``train/``, labelled by the ``label`` column) or of a folder-per-label tree; file names in
    ``d`` are relative to ``root``."""
    data_dir = Path(data_dir)
    if _is_cleaned_kaggle(data_dir):
        d = readdatainfo(data_dir / "all_data_info.csv", images_dir=data_dir / "train", in_train=True, label=label)
        return d, data_dir / "train"
    return _label_folders(data_dir), data_dir


def read_collection(data_dir) -> pd.DataFrame:
    """Every painting of a collection, one row each: ``file`` (path), ``artist``, ``style``,
    ``artist_in_train`` ("True"/"False": the artist has training paintings).

    A cleaned Kaggle folder gives its ``train/`` and ``test/`` paintings as listed in
    ``all_data_info.csv`` (files not on disk included: callers list them as skipped); a
    folder-per-artist tree gives its images, style empty, every artist "in train".
    """
    data_dir = Path(data_dir)
    if not _is_cleaned_kaggle(data_dir):
        files, artists = flatten(_label_folders(data_dir))
        return pd.DataFrame({"file": [str(data_dir / f) for f in files], "artist": artists, "style": "",
                             "artist_in_train": "True"})
    info = read_kaggle_csv(data_dir / "all_data_info.csv", required=("artist", "in_train"))
    in_train = info["in_train"].str.lower() == "true"
    info["file"] = [str(data_dir / ("train" if t else "test") / f) for f, t in zip(info["filename"], in_train)]
    info["artist_in_train"] = info["artist"].isin(set(info["artist"][in_train])).astype(str)
    if "style" not in info.columns:
        info["style"] = ""
    return info[["file", "artist", "style", "artist_in_train"]]


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
