"""The on-disk store of vectors computed from images (features, frozen maps), one folder per
name, keyed by image content."""
from __future__ import annotations

import os
import time
import uuid
import warnings
from pathlib import Path

import numpy as np

from ..cache import cache_dir

__all__ = ["FeatureStore", "write_shard", "shard_keys", "missing_rows"]


class FeatureStore:
    """Append-only store of vectors in ``<root>/<name>/`` (root: ``$PAINTER_CACHE/features``), as
    pairs of files per shard:
    ``shard_*.npy`` holds the vectors, read memory-mapped (a store of the real competition's
    103,250 paintings is 6.5 GB of default features, too much to load whole), and
    ``shard_*.keys.npy`` their content hashes, written last so that a shard without keys (an
    interrupted write) is ignored.

    A damaged shard (truncated, garbled, or its two files disagreeing) is named in one warning,
    moved to ``damaged/`` beside the shards, and its images are embedded again.
    """

    def __init__(self, name: str, root=None):
        self.dir = Path(root or cache_dir() / "features") / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.index = {}
        self.shards = []
        for keys_file in sorted(self.dir.glob("shard_*.keys.npy")):
            vectors_file = keys_file.with_name(keys_file.name.replace(".keys.npy", ".npy"))
            try:
                keys, vectors = self._read_shard(keys_file, vectors_file)
            except (OSError, ValueError, EOFError) as e:
                self._set_aside(keys_file, vectors_file, e)
                continue
            self.shards.append(vectors)
            for row, key in enumerate(keys):
                self.index[str(key)] = (len(self.shards) - 1, row)

    @staticmethod
    def _read_shard(keys_file, vectors_file):
        keys = np.load(keys_file, allow_pickle=False)
        vectors = np.load(vectors_file, mmap_mode="r", allow_pickle=False)
        if keys.ndim != 1 or vectors.ndim != 2 or len(keys) != len(vectors):
            raise ValueError(f"{len(keys)} keys for {len(vectors)} vectors")
        return keys, vectors

    def _set_aside(self, keys_file, vectors_file, error):
        damaged = self.dir / "damaged"
        damaged.mkdir(exist_ok=True)
        for f in (keys_file, vectors_file):
            if f.exists():
                os.replace(f, damaged / f.name)
        warnings.warn(f"{vectors_file}: damaged feature cache shard ({error}); moved to {damaged} "
                      "and its images will be embedded again", stacklevel=3)

    def get(self, key):
        loc = self.index.get(key)
        return None if loc is None else self.shards[loc[0]][loc[1]]

    def add(self, keys, vectors):
        if not len(keys):
            return
        write_shard(self.dir, f"shard_{time.time_ns():020d}_{os.getpid()}", keys, vectors)   # unique, in time order
        self.shards.append(vectors)
        for row, key in enumerate(keys):
            self.index[key] = (len(self.shards) - 1, row)


def write_shard(directory, stem, keys, vectors):
    """Write ``<stem>.npy`` (vectors ``(n, D)``) then ``<stem>.keys.npy`` (``n`` content hashes)
    into ``directory``, each under a temporary name renamed when complete: a reader sees a whole
    shard or none (``FeatureStore`` ignores vectors without keys)."""
    directory = Path(directory)
    for name, array in ((f"{stem}.npy", vectors), (f"{stem}.keys.npy", np.array(keys))):
        tmp = directory / f"{name}.{uuid.uuid4().hex[:8]}.part.npy"   # two writers never share one
        np.save(tmp, array)
        os.replace(tmp, directory / name)


def shard_keys(directory, stem):
    """The content hashes of the complete shard ``stem`` in ``directory``, or None when there is none."""
    try:
        return np.load(Path(directory) / f"{stem}.keys.npy", allow_pickle=False)
    except (OSError, ValueError, EOFError):   # absent, or damaged: FeatureStore sets it aside
        return None


def missing_rows(paths, digests, store):
    """The distinct readable ``paths`` (those in ``digests``, ``{path: content hash}``) whose vectors
    ``store`` lacks (all of them without a store)."""
    return [p for p in dict.fromkeys(paths) if p in digests and (store is None or store.get(digests[p]) is None)]
