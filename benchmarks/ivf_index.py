"""A compressed FAISS index of a million synthetic paintings: build time, peak memory, bytes per
painting, query latency and recall@10 against exact search, per ``nprobe``.

    python benchmarks/ivf_index.py [--n 1000000] [--dim 1315] [--nprobe 62,125,250,500]
                                   [--queries 1000] [--write]
    python benchmarks/ivf_index.py --quick     # 20,000 vectors: proves that it runs

Width: 1,315, the packaged same-artist model's embedding (``painter/default_model``), is what an
index of millions should hold: attribution's reference set holds it too, and it is what tells
artists apart (LDA-whitened), at a twelfth of the 15,872 default backbone features that
``painter index --embedding backbone`` stores (``--dim 15872`` measures those: 16 KB a painting
even as bytes).

The vectors imitate such embeddings: ``n / 45`` artists (the competition's 103,250 paintings by
2,300 artists), each painting its artist's unit centre plus isotropic noise of the same norm
(same-artist cosine about 0.5), unit length; they are made chunk by chunk from fixed seeds, so
that neither the build nor the exact search ever holds the collection. The queries are new
paintings of the same artists. Recall@10: the share of the exact 10 nearest (inner product over
all ``n``, streamed) that the index returns. The index is built as ``painter index --index-type
ivfsq`` builds it (``painter.compressed_index``: trained on a sample, filled ``FILL_CHUNK`` at a
time).
"""
import argparse
import resource
import time

import faiss
import numpy as np

import results_tables
from shared_data import write_results
from painter.compressed_index import FILL_CHUNK, compressed_index, n_lists, training_size

p = argparse.ArgumentParser()
p.add_argument("--n", type=int, default=1_000_000)
p.add_argument("--dim", type=int, default=1315)
p.add_argument("--nprobe", default=None, help="comma-separated; default: painter's own (lists / 8), a quarter, "
               "half and twice it")
p.add_argument("--queries", type=int, default=1000)
p.add_argument("--quick", action="store_true", help="20,000 vectors, 100 queries")
p.add_argument("--write", action="store_true", help="write the tables into RESULTS.md (its 'ivf-index' section)")
args = p.parse_args()
if args.quick:
    args.n, args.queries = 20_000, 100
n_artists = max(1, args.n // 45)
centres = np.random.default_rng(0).standard_normal((n_artists, args.dim)).astype(np.float32)
centres /= np.linalg.norm(centres, axis=1, keepdims=True)


def paintings(n, seed):
    """``(n, dim)`` unit vectors: paintings of random artists."""
    rng = np.random.default_rng(seed)
    x = centres[rng.integers(n_artists, size=n)] + rng.standard_normal((n, args.dim), np.float32) / np.sqrt(args.dim)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def chunks():
    """The collection, ``FILL_CHUNK`` paintings at a time (chunk k from seed 1 + k)."""
    for k, start in enumerate(range(0, args.n, FILL_CHUNK)):
        yield paintings(min(FILL_CHUNK, args.n - start), 1 + k)


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


queries = paintings(args.queries, 10**6)
start_mb = rss_mb()
index = compressed_index(args.dim, args.n)
t = time.time()
sample, need = [], training_size(args.n)   # the first paintings: their artists are drawn at random
for x in chunks():
    sample.append(x[:need - sum(map(len, sample))])
    if sum(map(len, sample)) >= need:
        break
index.train(np.concatenate(sample))
del sample
train_s = time.time() - t
t = time.time()
for x in chunks():
    index.add(x)
add_s = time.time() - t
size = faiss.serialize_index(index).nbytes
build_mb = rss_mb()   # the build's peak, before the exact search adds its own
print(f"ivfsq: {args.n:,} paintings of {args.dim} values, {n_lists(args.n)} lists, "
      f"trained on {need:,} ({train_s:.1f} s), filled in {add_s:.1f} s; build {train_s + add_s:.1f} s")
print(f"index {size / 2**20:.0f} MiB = {size / args.n:.0f} bytes a painting (float32: {4 * args.dim}); "
      f"peak memory {build_mb:.0f} MB ({start_mb:.0f} MB before the build)")

t = time.time()
top = np.full((args.queries, 10), -np.inf, np.float32), np.zeros((args.queries, 10), np.int64)
offset = 0
for x in chunks():   # exact top 10, merged chunk by chunk
    sims = queries @ x.T
    best = np.argpartition(-sims, 9, axis=1)[:, :10]
    scores = np.concatenate([top[0], np.take_along_axis(sims, best, 1)], axis=1)
    ids = np.concatenate([top[1], best + offset], axis=1)
    keep = np.argsort(-scores, axis=1)[:, :10]
    top = np.take_along_axis(scores, keep, 1), np.take_along_axis(ids, keep, 1)
    offset += len(x)
exact_s = time.time() - t
print(f"exact search of {args.queries} queries: {exact_s:.1f} s")
build = {"n": args.n, "dim": args.dim, "lists": n_lists(args.n), "trained": need, "chunk": FILL_CHUNK,
         "queries": args.queries, "train_s": train_s, "fill_s": add_s, "bytes": size, "peak_mb": build_mb,
         "start_mb": start_mb, "exact_s": exact_s}

lists = faiss.extract_index_ivf(index)   # behind the rotation
base = lists.nprobe
probes = []
for nprobe in [int(v) for v in args.nprobe.split(",")] if args.nprobe else (base // 4, base // 2, base, 2 * base):
    lists.nprobe = max(1, min(nprobe, n_lists(args.n)))
    _, found = index.search(queries, 10)
    recall = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, top[1])])
    one = []
    for q in queries[:200]:
        t = time.perf_counter()
        index.search(q[None], 10)
        one.append(time.perf_counter() - t)
    t = time.perf_counter()
    index.search(queries, 10)
    batch_ms = (time.perf_counter() - t) / args.queries * 1000
    print(f"nprobe {lists.nprobe:5d}{' (painter)' if nprobe == base else '':10s}: recall@10 {recall:.4f}; "
          f"one query {np.median(one) * 1000:.2f} ms (median), {batch_ms:.3f} ms each in a batch of {args.queries}")
    probes.append((lists.nprobe, recall, np.median(one) * 1000, batch_ms))
text = results_tables.ivf_index(build, probes, base)
print(text)
if args.write:
    write_results("ivf-index", text)
