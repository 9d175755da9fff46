"""How much do public_art's "seen" figures say? Its seen same-artist pairs and their spread.

public_art's test split (``shared_data.split_source``) holds 20% of each learned artist's
photographs, at least one left in training: most learned artists have one test photograph, so
few of them give seen same-artist pairs. This counts them, and gives the seen and unseen AUC of a
model on the split with a 95% interval from a bootstrap over artists (artists drawn with
replacement, every pair between two drawn artists kept, as many times as they were drawn);
``--against DIR``: also another model's AUC on the same pairs, and the interval of the difference
(the same draws for both). Nothing is chosen here: it says how far a seen figure can be read.

    python benchmarks/experiments/seen_pairs_spread.py [--model DIR] [--against DIR] [--context] [--draws 1000]

"""
import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data

from shared_data import known_artists, split_source
from painter.same_artist.evaluate import evaluate
from painter.same_artist.training import load_training_images


def _bootstrap(a, b, same, p, draws, q=None, seed=0):
    """95% interval of the AUC over ``draws`` resamples of the artists (``a``, ``b``: each pair's
    artist indices); with the other model's scores ``q``, of the AUC of ``p`` less that of ``q``."""
    rng = np.random.default_rng(seed)
    n = max(a.max(), b.max()) + 1
    out = []
    for _ in range(draws):
        times = np.bincount(rng.integers(0, n, n), minlength=n)
        weight = times[a] * times[b]
        if same[weight > 0].all() or not same[weight > 0].any():
            continue
        out.append(roc_auc_score(same, p, sample_weight=weight)
                   - (0 if q is None else roc_auc_score(same, q, sample_weight=weight)))
    return np.percentile(out, [2.5, 97.5])


p = argparse.ArgumentParser()
p.add_argument("--model", default=None, help="model folder (default: the packaged model)")
p.add_argument("--against", default=None, help="another model folder, compared on the same pairs")
p.add_argument("--context", action="store_true", help="the collection itself as context")
p.add_argument("--draws", type=int, default=1000)
args = p.parse_args()
_, test_dir = split_source("public_art", exclude=known_artists())
result = evaluate(test_dir, args.model, context="self" if args.context else None, progress=False)
pairs = result.pairs
other = (evaluate(test_dir, args.against, context="self" if args.context else None, progress=False).pairs["p"]
         if args.against else None)
_, labels = load_training_images(test_dir)
names, artist = np.unique(labels, return_inverse=True)
for kind in ("seen", "unseen"):
    k = pairs["kind"] == kind
    i, j, same, score = pairs["i"][k], pairs["j"][k], pairs["same"][k], pairs["p"][k]
    by_artist = Counter(names[artist[i[same]]])
    low, high = _bootstrap(artist[i], artist[j], same, score, args.draws)
    print(f"{kind}: {k.sum()} pairs, {same.sum()} same-artist pairs from {len(by_artist)} artists "
          f"(largest share {max(by_artist.values()) / same.sum():.2f}, {by_artist.most_common(1)[0][0]}); "
          f"AUC {roc_auc_score(same, score):.3f}, 95% interval over artists {low:.3f}-{high:.3f}")
    if other is not None:
        low, high = _bootstrap(artist[i], artist[j], same, score, args.draws, other[k])
        gap = roc_auc_score(same, score) - roc_auc_score(same, other[k])
        print(f"  against {args.against}: AUC {roc_auc_score(same, other[k]):.3f}, difference {gap:+.3f}, "
              f"95% interval {low:+.3f} to {high:+.3f}")
