"""Score 22,000,000 synthetic pairs over 24,000 cached embeddings; print pairs/s and peak memory.

Pairs follow Kaggle's layout (every pair inside each of 13 groups of test images) and, as a
harder case, uniformly random pairs (rows gathered, no block product).

    python benchmarks/pair_scoring.py [--pairs 22000000] [--images 24000] [--dim 356] [--write]
"""
import argparse
import resource
import time

import numpy as np

import results_tables
from shared_data import write_results
from painter.same_artist.model import PairModel
from painter.features import FeatureSpec

p = argparse.ArgumentParser()
p.add_argument("--pairs", type=int, default=22_000_000)
p.add_argument("--images", type=int, default=24_000)
p.add_argument("--dim", type=int, default=356, help="embedding size (default model: 100 LDA + 256 classes)")
p.add_argument("--chunk", type=int, default=1_000_000)
p.add_argument("--write", action="store_true", help="write the table into RESULTS.md (its 'pair-scoring' section)")
args = p.parse_args()
rng = np.random.default_rng(0)
z = rng.normal(size=(args.images, args.dim)).astype(np.float32) / np.sqrt(args.dim)
model = PairModel(FeatureSpec("efficientnet_lite0", 224), embedder=None, scorer="dot", bias=-1.0)


def grouped_pairs():
    """Yield chunks of (i, j): all pairs within 13 groups, cut at args.pairs."""
    groups = np.array_split(rng.permutation(args.images), 13)
    left = args.pairs
    for g in groups:
        g = np.sort(g)
        iu, ju = np.triu_indices(len(g), 1)
        for s in range(0, len(iu), args.chunk):
            n = min(args.chunk, len(iu) - s, left)
            if n <= 0:
                return
            yield g[iu[s:s + n]], g[ju[s:s + n]]
            left -= n


runs = []
for name, chunks in (("kaggle-grouped", grouped_pairs()),
                     ("random", ((rng.integers(0, args.images, args.chunk), rng.integers(0, args.images, args.chunk))
                                 for _ in range(max(1, args.pairs // args.chunk // 4))))):
    t, n = time.time(), 0
    for i, j in chunks:
        model.score_pairs(z, i, j)
        n += len(i)
    dt = time.time() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{name:15s}: {n:,} pairs in {dt:.1f} s = {n / dt / 1e6:.2f} M pairs/s; peak RSS so far {peak:.0f} MB",
          flush=True)
    runs.append((name, n, n / dt, peak))
text = results_tables.pair_scoring(args.images, args.dim, args.chunk, runs)
print(text)
if args.write:
    write_results("pair-scoring", text)
