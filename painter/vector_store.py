"""Vectors, a metadata row for each, and a FAISS inner-product index over them, kept as one folder.

Both of painter's searches are one: the similar-painting index (``painter.search``) and the
reference set of an attribution (``painter.attribution``). A folder holds ``index.faiss``,
``vectors.npy``, ``metadata.csv`` and, written last, ``config.json``: its owner's settings, the
row count and a CRC-32 of every other file, so that a folder cut short, damaged or half-written
is refused with a message naming the file.
"""
from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from .compressed_index import COMPRESSED, FILL_CHUNK, compressed_index, training_size
from .errors import InputError, read_json_part, read_part

__all__ = ["VectorStore", "make_faiss_index", "INDEX_TYPES"]

INDEX_TYPES = ("flat", "ivf", "hnsw", *COMPRESSED)
_PARTS = ("index.faiss", "vectors.npy", "metadata.csv")


def make_faiss_index(dim, index_type, n):
    """An empty inner-product FAISS index: exact ``flat``, graph ``hnsw`` or inverted-list ``ivf``
    (sqrt(n) lists, a quarter probed), or compressed ``ivfsq`` (``compressed_index``) for ``n``
    vectors of ``dim`` values."""
    import faiss
    if index_type in COMPRESSED:
        return compressed_index(dim, n, index_type)
    if index_type == "flat":
        return faiss.IndexFlatIP(dim)
    if index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = 64
        return index
    if index_type == "ivf":
        nlist = max(1, int(np.sqrt(max(n, 1))))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)  # faiss keeps quantizer alive
        index.nprobe = max(1, nlist // 4)
        return index
    raise ValueError(f"index_type must be one of {', '.join(map(repr, INDEX_TYPES))}, got {index_type!r}")


class VectorStore:
    """``vectors (N, E)`` float32, ``metadata`` (a DataFrame of N rows) and a FAISS index over them.

    Parameters
    ----------
    vectors : ``(N, E)`` array, or None for an empty store (its width set by the first ``add``)
    metadata : DataFrame of N rows, default a ``file`` column only
    index_type : ``"flat"`` (exact), ``"ivf"``, ``"hnsw"`` (``make_faiss_index``), or ``"ivfsq"``,
        codes without the float32 vectors, filled with ``fill``
    """

    def __init__(self, vectors=None, metadata: pd.DataFrame | None = None, index_type: str = "flat"):
        if index_type not in INDEX_TYPES:
            make_faiss_index(0, index_type, 0)   # the one message for an unknown type
        self.index_type = index_type
        self.vectors = (np.zeros((0, 0), np.float32) if vectors is None
                        else np.ascontiguousarray(vectors, np.float32))
        self.metadata = pd.DataFrame(columns=["file"]) if metadata is None else metadata.reset_index(drop=True)
        self._index = None

    def __len__(self):
        return len(self.metadata) if self.index_type in COMPRESSED else len(self.vectors)   # compressed: no vectors

    @property
    def index(self):
        """The FAISS index over ``vectors``, built on first use (trained on them for ``ivf``);
        None while the store is empty."""
        if self._index is None and len(self.vectors):
            self._index = make_faiss_index(self.vectors.shape[1], self.index_type, len(self.vectors))
            if not self._index.is_trained:
                self._index.train(self.vectors)
            self._index.add(self.vectors)
        return self._index

    def add(self, vectors, metadata: pd.DataFrame):
        """Append rows; an ``ivf`` index keeps the lists it was trained with on its first rows."""
        vectors = np.ascontiguousarray(vectors, np.float32)
        if not len(self.vectors):
            self.vectors, self.metadata, self._index = vectors, metadata.reset_index(drop=True), None
            return
        self.index.add(vectors)
        self.vectors = np.concatenate([self.vectors, vectors])
        self.metadata = pd.concat([self.metadata, metadata], ignore_index=True)

    def fill(self, items, metadata: pd.DataFrame, embed, progress=False) -> dict:
        """Add ``items`` to a compressed index, ``FILL_CHUNK`` at a time, so that memory holds the
        index and one chunk, never the collection.

        ``embed(items, progress)`` gives ``(x, failed)``: a row of ``x`` per item (NaN where it
        failed) and ``{item: reason}``. A new index is first trained on a sample of the items
        (``training_size``; embedded twice, the second time from the feature store). Returns
        ``{item: reason}`` of the failures (an index none of the sample could train stays None).
        """
        meta, failed = metadata.reset_index(drop=True), {}
        if self._index is None:
            rng = np.random.default_rng(0)
            sample = np.sort(rng.choice(len(items), training_size(len(items)), replace=False))
            x, failed = embed([items[i] for i in sample], progress)
            x = x[~np.isnan(x).any(1)]
            if not len(x):
                return failed
            self._index = make_faiss_index(x.shape[1], self.index_type, len(items))
            self._index.train(np.ascontiguousarray(x, np.float32))
            self.vectors = np.zeros((0, x.shape[1]), np.float32)   # none kept: the index holds the codes
        for start in range(0, len(items), FILL_CHUNK):
            x, bad = embed(items[start:start + FILL_CHUNK], progress)
            failed |= bad
            ok = ~np.isnan(x).any(1)
            self._index.add(np.ascontiguousarray(x[ok], np.float32))
            self.metadata = pd.concat([self.metadata, meta[start:start + FILL_CHUNK][ok]], ignore_index=True)
        return failed

    def rows(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """``(stop - start, E)`` vectors of rows ``start:stop`` (default: all): the kept ones, or
        a compressed index's codes decoded (to their 8-bit rounding; a copy)."""
        stop = len(self) if stop is None else min(stop, len(self))
        if self.index_type not in COMPRESSED or stop <= start:
            return self.vectors[start:stop]
        return self.index.reconstruct_n(int(start), int(stop - start))   # reads all ids, decodes these rows

    def search(self, queries, k: int):
        """``(scores, rows)``, each ``(n_queries, k)``: the inner products of the ``k`` best rows
        (row -1 where fewer are found).

        An inverted-list index returns only rows of the lists it probes: asked for more than
        half of what they hold on average (an attribution's 1,024 of a small reference), it
        probes more lists for this search."""
        import faiss
        queries = np.ascontiguousarray(np.atleast_2d(queries), np.float32)
        ivf = faiss.try_extract_index_ivf(self.index)
        if ivf is None or 2 * k * ivf.nlist <= ivf.nprobe * max(ivf.ntotal, 1):
            return self.index.search(queries, k)
        nprobe = min(ivf.nlist, -(-2 * k * ivf.nlist // max(ivf.ntotal, 1)))
        return self.index.search(queries, k, params=faiss.SearchParametersIVF(nprobe=nprobe))

    def save(self, directory, config: dict, tables: dict | None = None) -> Path:
        """Write the store in ``directory`` with the owner's ``config`` and ``tables`` (more CSV
        files, ``{name: DataFrame}``); ``config.json`` goes last, so a folder without it is incomplete."""
        import faiss
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "config.json").unlink(missing_ok=True)
        faiss.write_index(self.index, str(directory / "index.faiss"))
        parts = _PARTS if self.index_type not in COMPRESSED else tuple(p for p in _PARTS if p != "vectors.npy")
        if "vectors.npy" in parts:   # a compressed index keeps codes only
            np.save(directory / "vectors.npy", self.vectors)
        self.metadata.to_csv(directory / "metadata.csv", index=False)
        for name, table in (tables or {}).items():
            table.to_csv(directory / name, index=False)
        crc = {name: zlib.crc32((directory / name).read_bytes()) for name in parts}
        tmp = directory / "config.json.part"
        tmp.write_text(json.dumps({**config, "rows": len(self), "crc32": crc}))
        os.replace(tmp, directory / "config.json")
        return directory

    @classmethod
    def load(cls, directory, keys=(), error=InputError, folder_kind: str = "index folder", hint: str = ""):
        """``(store, config)`` of a saved folder; ``error`` naming the file when one is missing,
        damaged (its checksum differs), foreign (``config.json`` lacks ``keys``) or when the files
        disagree on the number of rows."""
        import faiss
        directory = Path(directory)
        config = read_json_part(directory / "config.json", keys, error, folder_kind, hint)
        crc = config.get("crc32", {})   # folders written before checksums were kept are read unchecked

        def part(name, read):
            def checked(path):
                blob = path.read_bytes()
                if name in crc and zlib.crc32(blob) != crc[name]:
                    raise ValueError("checksum differs from config.json's")
                return read(path, blob)
            return read_part(directory / name, checked, error, folder_kind, hint)

        self = cls(index_type=config.get("index_type", "flat"))
        self._index = part("index.faiss", lambda p, blob: faiss.deserialize_index(np.frombuffer(blob, np.uint8)))
        if self.index_type in COMPRESSED:   # codes only: the vectors' width is the index's
            self.vectors = np.zeros((0, self._index.d), np.float32)
        else:
            self.vectors = part("vectors.npy", lambda p, blob: np.load(p, allow_pickle=False))
        self.metadata = part("metadata.csv", lambda p, blob: pd.read_csv(p, dtype=str, keep_default_na=False))
        counts = (self._index.ntotal, len(self.vectors) if self.index_type not in COMPRESSED else self._index.ntotal,
                  len(self.metadata))
        if len(set(counts)) > 1 or config.get("rows", counts[0]) != counts[0]:
            rows = ", ".join(map(str, counts))
            raise error(f"{directory}: index.faiss, vectors.npy and metadata.csv disagree ({rows} rows)"
                        + (f"; {hint}" if hint else ""))
        return self, config
