"""How well does the model know an artist learned from k paintings? Validation only, WikiArt.

A museum collection's artists come with few photographs each (public_art: 284 of its 371 training
artists have 2). The seen pairs of a model trained on them can only be as good as the features allow
an artist learned from that few paintings to be recognised. This measures it where the features are
at their best, WikiArt thumbnails: for each validation artist (held out whole by the split, unseen
by the backbones; those with 10 paintings or more), 5 paintings are kept for testing and ``k`` of
the others join the fit (``lda`` on WikiArt's fitting paintings and public_art's training part, as
the packaged model is fitted). Every pair of the test paintings is then a seen pair of an artist
learned from ``k`` paintings (``k = 0``: unseen, for comparison; ``all``: every painting left).
T and w are chosen on the split's own validation pairs at ``k = 0``, as ``painter train`` chooses them.

    python benchmarks/experiments/few_paintings_per_artist.py [--seeds 0,1,2] [--k 0,1,2,3,4,8,all]

"""
import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data

from shared_data import two_source_features
from painter.same_artist.lda import choose_scorer, lda_projection, profile_score

TEST_PAINTINGS, MIN_PAINTINGS = 5, 10


def _draw(labels, held, seed):
    """``(test, pool)``: per held-out artist with ``MIN_PAINTINGS``, ``TEST_PAINTINGS`` test rows and
    the rest in a random order (the first ``k`` of it join the fit)."""
    rng = np.random.default_rng(seed)
    test, pool = [], {}
    for artist in held:
        rows = rng.permutation(np.flatnonzero(labels == artist))
        if len(rows) >= MIN_PAINTINGS:
            test.append(rows[:TEST_PAINTINGS])
            pool[artist] = rows[TEST_PAINTINGS:]
    return np.concatenate(test), pool


def _fit_and_embed(F, P, labels, pa_labels, rows, mask, test):
    names, y = np.unique(np.concatenate([labels[rows], pa_labels]), return_inverse=True)
    base = lda_projection(np.vstack([F[rows], P]), y, len(names), log_columns=mask, overwrite=True)
    return base, [np.asarray(t) for t in base.predict(F[test], batch_size=1024, verbose=0)]


p = argparse.ArgumentParser()
p.add_argument("--seeds", default="0,1,2")
p.add_argument("--k", default="0,1,2,3,4,8,all")
args = p.parse_args()
seeds = [int(s) for s in args.seeds.split(",")]
_, labels, F, mask, splits, _, pa_labels, P = two_source_features(seeds)

rows = []
for seed, (fit, i, j, same, kind) in zip(seeds, splits):
    held = sorted(set(labels) - set(labels[fit]))
    test, pool = _draw(labels, held, seed)
    a, b = np.triu_indices(len(test), 1)
    pair_same = labels[test][a] == labels[test][b]
    T = w = None
    for k in args.k.split(","):
        added = np.concatenate([r if k == "all" else r[:int(k)] for r in pool.values()]).astype(int)
        base, (E, C) = _fit_and_embed(F, P, labels, pa_labels, np.concatenate([fit, added]), mask, test)
        if T is None:   # k = 0 comes first: the split's own validation pairs choose the scorer
            Ev, Cv = (np.asarray(t) for t in base.predict(F, batch_size=1024, verbose=0))
            T, w, _ = choose_scorer(Ev, Cv, i, j, same, kind)
        auc = roc_auc_score(pair_same, profile_score(E, C, a, b, T, w))
        rows.append({"seed": seed, "k": k, "artists": len(pool), "test paintings": len(test),
                     "mean k": np.mean([len(r) for r in pool.values()]) if k == "all" else float(k), "AUC": auc})
        print(rows[-1], flush=True)

import pandas as pd   # noqa: E402
table = pd.DataFrame(rows).groupby("k", sort=False).mean(numeric_only=True).drop(columns="seed")
print(table.to_string(float_format=lambda x: f"{x:.4f}"))
