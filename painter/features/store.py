"""The on-disk store of vectors computed from images (features, frozen maps), one folder per
name, keyed by image content.

The stores live in ``<cache>/features/`` or, with ``$PAINTER_FEATURE_STORE``, in any folder or
fsspec URL (``s3://bucket/painter-features``, ``gs://...``: the filesystem's package installed),
so that the workers of a cluster write into one store that the driver reads. A local store's
shards are read memory-mapped; a remote one's are downloaded whole as they are opened.
"""
from __future__ import annotations

import glob
import io
import os
import time
import uuid
import warnings

import numpy as np

from ..cache import cache_dir

__all__ = ["FeatureStore", "write_shard", "shard_keys", "missing_rows", "feature_root", "STORE_ENV"]

STORE_ENV = "PAINTER_FEATURE_STORE"


def feature_root() -> str:
    """Where the feature stores live: ``$PAINTER_FEATURE_STORE`` (a folder or an fsspec URL), else
    ``<cache>/features``."""
    return os.environ.get(STORE_ENV, "").strip() or str(cache_dir() / "features")


class _LocalDisk:
    """The filesystem calls a store makes, on this machine's disk, as fsspec names them: a local
    store does without importing fsspec (0.08 s of every one-shot command)."""

    glob = staticmethod(lambda pattern: sorted(glob.glob(pattern)))
    exists = staticmethod(os.path.exists)
    mv = staticmethod(os.replace)
    open = staticmethod(open)

    @staticmethod
    def makedirs(path, exist_ok=False):
        os.makedirs(path, exist_ok=exist_ok)


def _filesystem(location):
    """``(filesystem, path within it, is local)`` of a folder or an fsspec URL."""
    location = str(location)
    if "://" not in location or location.startswith("file://"):
        return _LocalDisk, location.removeprefix("file://"), True
    import fsspec
    fs, path = fsspec.core.url_to_fs(location)
    return fs, path, False


def _load(fs, path, local, mmap=False):
    if local:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    with fs.open(path, "rb") as f:
        return np.load(io.BytesIO(f.read()), allow_pickle=False)


class FeatureStore:
    """Append-only store of vectors in ``<root>/<name>/`` (root: ``feature_root()``), as pairs of
    files per shard:
    ``shard_*.npy`` holds the vectors, read memory-mapped (a store of the real competition's
    103,250 paintings is 6.5 GB of default features, too much to load whole), and
    ``shard_*.keys.npy`` their content hashes, written last so that a shard without keys (an
    interrupted write) is ignored.

    A damaged shard (truncated, garbled, or its two files disagreeing) is named in one warning,
    moved to ``damaged/`` beside the shards, and its images are embedded again.
    """

    def __init__(self, name: str, root=None):
        self.name, self.root = name, str(root or feature_root())
        self.url = f"{self.root.rstrip('/')}/{name}"   # the store for another process (a cluster's worker)
        self.fs, self.dir, self.local = _filesystem(self.url)
        self.fs.makedirs(self.dir, exist_ok=True)
        self.index = {}
        self.shards = []
        for keys_file in sorted(self.fs.glob(f"{self.dir}/shard_*.keys.npy")):
            vectors_file = keys_file[:-len(".keys.npy")] + ".npy"
            try:
                keys, vectors = self._read_shard(keys_file, vectors_file)
            except (OSError, ValueError, EOFError) as e:
                self._set_aside(keys_file, vectors_file, e)
                continue
            self.shards.append(vectors)
            for row, key in enumerate(keys):
                self.index[str(key)] = (len(self.shards) - 1, row)

    def _read_shard(self, keys_file, vectors_file):
        keys = _load(self.fs, keys_file, self.local)
        vectors = _load(self.fs, vectors_file, self.local, mmap=True)
        if keys.ndim != 1 or vectors.ndim != 2 or len(keys) != len(vectors):
            raise ValueError(f"{len(keys)} keys for {len(vectors)} vectors")
        return keys, vectors

    def _set_aside(self, keys_file, vectors_file, error):
        damaged = f"{self.dir}/damaged"
        self.fs.makedirs(damaged, exist_ok=True)
        for f in (keys_file, vectors_file):
            if self.fs.exists(f):
                self.fs.mv(f, f"{damaged}/{f.rsplit('/', 1)[-1]}")
        warnings.warn(f"{vectors_file}: damaged feature cache shard ({error}); moved to {damaged} "
                      "and its images will be embedded again", stacklevel=3)

    def get(self, key):
        loc = self.index.get(key)
        return None if loc is None else self.shards[loc[0]][loc[1]]

    def add(self, keys, vectors):
        if not len(keys):
            return
        write_shard(self.url, f"shard_{time.time_ns():020d}_{os.getpid()}", keys, vectors)   # unique, in time order
        self.shards.append(vectors)
        for row, key in enumerate(keys):
            self.index[key] = (len(self.shards) - 1, row)


def write_shard(directory, stem, keys, vectors):
    """Write ``<stem>.npy`` (vectors ``(n, D)``) then ``<stem>.keys.npy`` (``n`` content hashes)
    into ``directory`` (a folder or an fsspec URL), each under a temporary name moved into place
    when complete: a reader sees a whole shard or none (``FeatureStore`` ignores vectors without
    keys)."""
    fs, path, _ = _filesystem(directory)
    for name, array in ((f"{stem}.npy", vectors), (f"{stem}.keys.npy", np.array(keys))):
        tmp = f"{path}/{name}.{uuid.uuid4().hex[:8]}.part.npy"   # two writers never share one
        with fs.open(tmp, "wb") as f:
            np.save(f, array)
        fs.mv(tmp, f"{path}/{name}")


def shard_keys(directory, stem):
    """The content hashes of the complete shard ``stem`` in ``directory`` (a folder or an fsspec
    URL), or None when there is none."""
    fs, path, local = _filesystem(directory)
    try:
        return _load(fs, f"{path}/{stem}.keys.npy", local)
    except (OSError, ValueError, EOFError):   # absent, or damaged: FeatureStore sets it aside
        return None


def missing_rows(paths, digests, store):
    """The distinct readable ``paths`` (those in ``digests``, ``{path: content hash}``) whose vectors
    ``store`` lacks (all of them without a store)."""
    return [p for p in dict.fromkeys(paths) if p in digests and (store is None or store.get(digests[p]) is None)]
