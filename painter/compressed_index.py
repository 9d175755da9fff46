"""A FAISS index for millions of paintings: inverted lists over compressed vectors.

A flat index keeps every vector as float32: 3.8 GB for a million 944-wide embeddings of the
default same-artist model, 63 GB for a million 15,872-wide default features. ``"ivfsq"``
keeps a byte per value (IVF with 8-bit scalar quantisation, a quarter of flat). It is trained
on a sample (k-means for the lists, the quantiser's ranges), then filled in chunks: memory
holds the index and one chunk, never the collection. ``benchmarks/ivf_index.py`` measures its
recall against exact search. Product quantisation (IVF-PQ, a byte per four values) was left
out: FAISS trained its 236 codebooks of a 944-wide embedding in 90 s on 60 vectors here, and
its recall needs a re-ranking copy of the vectors.
"""
from __future__ import annotations

import numpy as np

__all__ = ["COMPRESSED", "FILL_CHUNK", "compressed_index", "training_size", "n_lists"]

COMPRESSED = ("ivfsq",)
# paintings embedded and added at a time: 1 GB of 15,872-wide features, 62 MB of 944-wide embeddings
FILL_CHUNK = 16_384
# FAISS's k-means wants at least 39 training vectors per list (it warns below that)
POINTS_PER_LIST = 39


def n_lists(n: int) -> int:
    """Inverted lists for ``n`` vectors: 4 sqrt(n) (4,000 for a million), at most one per 39 vectors."""
    return int(max(1, min(4 * np.sqrt(max(n, 1)), n // POINTS_PER_LIST)))


def training_size(n: int) -> int:
    """Vectors sampled to train an index for ``n``: 39 per list (156,000 of a million), all below that."""
    return min(n, POINTS_PER_LIST * n_lists(n))


def compressed_index(dim: int, n: int, kind: str = "ivfsq", nprobe: int | None = None):
    """An untrained inner-product FAISS index of ``kind`` (``"ivfsq"``) for ``n`` vectors of
    ``dim`` values, probing ``nprobe`` lists per query (default: one in 8, the fewest that reach
    recall@10 0.95 against exact search on a million vectors, ``benchmarks/ivf_index.py``: one in 16
    gave 0.946)."""
    import faiss
    if kind not in COMPRESSED:
        raise ValueError(f"kind must be one of {COMPRESSED}, got {kind!r}")
    nlist = n_lists(n)
    index = faiss.index_factory(dim, f"IVF{nlist},SQ8", faiss.METRIC_INNER_PRODUCT)
    index.nprobe = nprobe or max(1, nlist // 8)
    return index
