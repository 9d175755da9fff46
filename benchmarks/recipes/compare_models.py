"""Is a rebuilt model the shipped one? Compares two same-artist model folders: every fitted number
of their ``config.json`` (timings and paths aside) and their embeddings of pbn_dev test paintings.

A rebuild is not byte-for-byte: the LDA's factors come out of a different summation order, so the
weights of the folded layer differ while the map they make is the same. The embeddings say whether it is.

    python benchmarks/recipes/compare_models.py runs/base_check painter/default_model [--n 200]
"""
import argparse
import json

import numpy as np

import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data

from shared_data import RUNS, clean_pbn_dev
from painter.same_artist.predict import load_pair_model

p = argparse.ArgumentParser()
p.add_argument("rebuilt")
p.add_argument("shipped")
p.add_argument("--n", type=int, default=200)
args = p.parse_args()
NOT_FITTED = ("seconds", "sources", "painter_version")


def numbers(x, y, path=""):
    """``(path, relative difference)`` of every number in both configs; other differences as text."""
    if isinstance(x, dict) and isinstance(y, dict):
        for k in sorted(set(x) | set(y)):
            if not any(s in k for s in NOT_FITTED):
                yield from numbers(x.get(k), y.get(k), f"{path}.{k}")
    elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
        for i, (u, v) in enumerate(zip(x, y)):
            yield from numbers(u, v, f"{path}[{i}]")
    elif isinstance(x, (int, float)) and isinstance(y, (int, float)):
        yield path, abs(x - y) / max(abs(y), 1e-12)
    elif x != y:
        yield path, f"{str(x)[:40]!r} != {str(y)[:40]!r}"


configs = [json.loads((Path(d) / "config.json").read_text()) for d in (args.rebuilt, args.shipped)]
found = list(numbers(*configs))
gaps = [d for _, d in found if isinstance(d, float)]
print(f"config.json: {len(gaps)} numbers, largest relative difference {max(gaps):.1e}")
for path, d in found:
    if not isinstance(d, float):
        print(f"  {path}: {d}")
paths = sorted((clean_pbn_dev(RUNS / "pbn_clean") / "test").glob("*.jpg"))[:args.n]
E = [load_pair_model(d).embed_files(paths, progress=False)[0] for d in (args.rebuilt, args.shipped)]
print(f"embeddings of {len(paths)} pbn_dev test paintings: largest difference {np.abs(E[0] - E[1]).max():.1e} "
      f"(largest value {np.abs(E[1]).max():.2f}); pair scores z_a.z_b: largest difference "
      f"{np.abs(E[0] @ E[0].T - E[1] @ E[1].T).max():.1e}")
