"""A FAISS index for millions of paintings: inverted lists over compressed vectors.

A flat index keeps every vector as float32: 5.3 GB for a million 1,315-wide embeddings of the
default same-artist model, 63 GB for a million 15,872-wide default features. ``"ivfsq"``
keeps a byte per value (IVF with 8-bit scalar quantisation, a quarter of flat), behind a random
rotation for vectors up to ``ROTATE_MAX`` wide. It is trained on a sample (k-means for the
lists, the quantiser's ranges), then filled in chunks: memory holds the index and one chunk,
never the collection.

The rotation is what makes 8 bits enough on real embeddings (``python
benchmarks/ivf_recall_real.py --alternatives``): the largest value of a dimension of the packaged
model's embedding lies a median 29 standard deviations out (a few paintings carry each
dimension), so unrotated each dimension's 8-bit range leaves steps coarser than the gaps between
neighbours, and recall@10 stays at 0.9495 however many lists are probed. Rotated, every
dimension mixes all of them: 0.975 at the default ``nprobe``, for one ``dim x dim`` product per
query and per painting added, which up to 4,096 values costs no more than finding a painting's
list among a million's 4,000. Wider vectors (the default backbone features, 15,872 values: a 1 GB
rotation, 252 M multiply-adds a painting) are quantised unrotated. Clipping the ranges instead
(0.1% quantiles) lost the tails that tell paintings apart (0.80-0.83 over runs); 16-bit values
(0.996) take twice the bytes. Codes are padded with zeros to a multiple of ``SIMD_WIDTH`` values,
which FAISS scans with SIMD. ``benchmarks/ivf_index.py`` measures the index on a million synthetic
vectors. Product quantisation (IVF-PQ, a byte per four values) was left out: FAISS trained its 236
codebooks of a 944-wide embedding in 90 s on 60 vectors here, and its recall needs a re-ranking
copy of the vectors.
"""
from __future__ import annotations

import numpy as np

__all__ = ["COMPRESSED", "FILL_CHUNK", "ROTATE_MAX", "SIMD_WIDTH", "compressed_index", "training_size", "n_lists"]

COMPRESSED = ("ivfsq",)
# paintings embedded and added at a time: 1 GB of 15,872-wide features, 86 MB of 1,315-wide embeddings
FILL_CHUNK = 16_384
# the widest vectors rotated before quantisation (the rotation is ROTATE_MAX^2 floats, 64 MB)
ROTATE_MAX = 4096
# codes are scanned this many values at a time (compressed_index pads to a multiple)
SIMD_WIDTH = 16
# FAISS's k-means wants at least 39 training vectors per list (it warns below that)
POINTS_PER_LIST = 39


def n_lists(n: int) -> int:
    """Inverted lists for ``n`` vectors: 4 sqrt(n) (4,000 for a million), at most one per 39 vectors."""
    return int(max(1, min(4 * np.sqrt(max(n, 1)), n // POINTS_PER_LIST)))


def training_size(n: int) -> int:
    """Vectors sampled to train an index for ``n``: 39 per list (156,000 of a million), all below that."""
    return min(n, POINTS_PER_LIST * n_lists(n))


def compressed_index(dim: int, n: int, kind: str = "ivfsq", nprobe: int | None = None):
    """An untrained inner-product FAISS index of ``kind`` (``"ivfsq"``: a random rotation up to
    ``ROTATE_MAX`` values, then IVF with 8-bit scalar quantisation) for ``n`` vectors of ``dim`` values.

    Parameters
    ----------
    dim, n : the vectors' width and about how many there will be (sets the list count, ``n_lists``)
    kind : ``"ivfsq"``
    nprobe : lists probed per query; default one in 8: recall@10 against exact search 0.969 on a
        million synthetic vectors (``benchmarks/ivf_index.py``) and 0.975 on real embeddings
        (``benchmarks/ivf_recall_real.py``), a margin over 0.95 that one in 16 (0.956 / 0.967) lacks

    Returns
    -------
    FAISS index; ``faiss.extract_index_ivf`` reaches its lists (``nprobe``, ``nlist``).
    """
    import faiss
    if kind not in COMPRESSED:
        raise ValueError(f"kind must be one of {COMPRESSED}, got {kind!r}")
    nlist = n_lists(n)
    # FAISS scans 8-bit codes with SIMD only when their width is a multiple of 8 (16 with AVX-512):
    # the packaged model's 1,315 values scan 7-10 times slower than 1,328; zeros added by the
    # rotation (or a padding) change no inner product
    width = -(-dim // SIMD_WIDTH) * SIMD_WIDTH
    transform = f"RR{width}," if dim <= ROTATE_MAX else f"Pad{width}," if width != dim else ""
    index = faiss.index_factory(dim, f"{transform}IVF{nlist},SQ8", faiss.METRIC_INNER_PRODUCT)
    faiss.extract_index_ivf(index).nprobe = nprobe or max(1, nlist // 8)
    return index
