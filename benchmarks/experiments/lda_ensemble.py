"""Does an ensemble of LDA projections carry over to unseen artists better than one?
Validation only.

The default lda score comes from one PCA-whitened LDA of the default features, fitted on every
fitting painting. Bagging regularises a linear model: here ``--members`` projections, each fitted on
a random half of the feature columns ("columns") or on the paintings of a random 80% of the fitting
artists ("artists"), score every validation pair as the default does (its T and w, chosen on the
same pairs) and the scores are averaged. Splits as ``painter train`` makes them (held-out artists
unseen by the backbones first); mean seen / unseen validation AUC over the splits. No test painting
is read.

    python benchmarks/experiments/lda_ensemble.py [--data runs/pbn_clean] [--also ../shared/data/wikiart_extra]
                                      [--seeds 0,1,2] [--members 6]
"""
import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

import sys
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data

from shared_data import RUNS, default_features_and_splits, default_pair_scores, seen_unseen_auc
from painter.same_artist.lda import lda_projection, profile_score

p = argparse.ArgumentParser()
p.add_argument("--data", default=str(RUNS / "pbn_clean"))
p.add_argument("--also", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "wikiart_extra"))
p.add_argument("--seeds", default="0,1,2")
p.add_argument("--members", type=int, default=6)
args = p.parse_args()
paths, labels, F, mask, splits = default_features_and_splits([args.data, args.also],
                                                             [int(s) for s in args.seeds.split(",")])


def member_score(fit, cols, i, j, T, w):
    """One projection's pair scores: LDA on the columns ``cols`` of the fitting rows ``fit``."""
    names, y = np.unique(labels[fit], return_inverse=True)
    model = lda_projection(F[np.ix_(fit, cols)], y, len(names), log_columns=mask[cols])
    E, C = model.predict(F[:, cols], batch_size=4096, verbose=0)
    return profile_score(E, C, i, j, T, w)


rows = []
every = np.arange(F.shape[1])
for seed, split in zip(args.seeds.split(","), splits):
    fit, i, j, same, kind = split
    names = np.unique(labels[fit])
    single, T, w = default_pair_scores(F, mask, labels, split)
    rows.append({"seed": seed, "ensemble": "single (default)", **seen_unseen_auc(single, same, kind)})
    rng = np.random.default_rng(int(seed))
    for how in ("columns", "artists"):
        scores = []
        for _ in tqdm(range(args.members), desc=f"split {seed}, {how}"):
            if how == "columns":
                scores.append(member_score(fit, np.sort(rng.choice(every, len(every) // 2, replace=False)), i, j, T, w))
            else:
                kept = rng.choice(names, int(0.8 * len(names)), replace=False)
                scores.append(member_score(fit[np.isin(labels[fit], kept)], every, i, j, T, w))
        rows.append({"seed": seed, "ensemble": f"{args.members} x {how}",
                     **seen_unseen_auc(np.mean(scores, axis=0), same, kind)})
        rows.append({"seed": seed, "ensemble": f"{args.members} x {how} + single",
                     **seen_unseen_auc(np.mean(scores, axis=0) + single, same, kind)})
    print(pd.DataFrame(rows[-5:]).round(4).to_string(index=False), flush=True)
table = pd.DataFrame(rows).groupby("ensemble", sort=False)[["seen", "unseen"]].mean()
table["mean"] = table.mean(axis=1)
print(table.round(4).to_string())
