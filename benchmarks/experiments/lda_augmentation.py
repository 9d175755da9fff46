"""Do crops of the fitting paintings, as extra samples for the LDA, help on unseen artists?
Validation only.

The default lda learns which directions separate artists from one feature vector per painting.
Here each fitting painting also adds the default features of its four corner crops (``--side``
of its side, enlarged back to the network's input) as more samples of its artist, so that the
within-artist scatter the LDA divides by also holds how a painting's statistics vary over its
parts. Only the fit changes: validation (and test) paintings are embedded whole, as always, so
the cost falls on training alone (one more embedding per crop of each training painting).
Scored as the default lda score on splits of the training paintings (held-out artists unseen by
the backbones first, as ``painter train`` chooses them; T and w chosen on the same validation
pairs); mean seen / unseen AUC over the splits. No test painting is read.

    python benchmarks/experiments/lda_augmentation.py [--data runs/pbn_clean] [--also ../shared/data/wikiart_extra]
                                          [--seeds 0,1,2] [--side 0.8]

The crops' features are kept in ``runs/lda_augmentation/`` so a second run only scores.
"""
import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf
from tqdm import tqdm

import sys
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data

from shared_data import RUNS, default_features_and_splits, default_pair_scores, seen_unseen_auc
from painter.features import DEFAULT_FEATURES, feature_model
from painter.features.inference import image_batches, predict_padded
from painter.same_artist.lda import choose_scorer, lda_projection, profile_score

p = argparse.ArgumentParser()
p.add_argument("--data", default=str(RUNS / "pbn_clean"))
p.add_argument("--also", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "wikiart_extra"))
p.add_argument("--seeds", default="0,1,2")
p.add_argument("--side", type=float, default=0.8, help="each corner crop's side, as a share of the painting's")
args = p.parse_args()
paths, labels, F, mask, splits = default_features_and_splits([args.data, args.also],
                                                             [int(s) for s in args.seeds.split(",")])
out = RUNS / "lda_augmentation"
out.mkdir(parents=True, exist_ok=True)
cache = out / f"corners{args.side}_{DEFAULT_FEATURES.key}_{len(paths)}.npy"


def corner_features(part):
    """``(4, N, D_part)``: ``part``'s features of the four corner crops of every painting."""
    model, size = feature_model(part), part.image_size
    c = round(args.side * size)
    corners = [(0, 0), (0, size - c), (size - c, 0), (size - c, size - c)]
    rows = []
    for images, _ in tqdm(image_batches(paths, size, 32), total=-(-len(paths) // 32), desc=f"crops {part.backbone}"):
        crops = [tf.image.resize(images[:, r:r + c, q:q + c].astype("float32"), (size, size)).numpy()
                 for r, q in corners]
        rows.append(np.stack([predict_padded(model, x) for x in crops]))
    return np.concatenate(rows, axis=1).astype(np.float16)


if cache.is_file():
    A = np.load(cache)
else:
    A = np.concatenate([corner_features(part) for part in DEFAULT_FEATURES.components()], axis=2)
    np.save(cache, A)

rows = []
for seed, split in zip(args.seeds.split(","), splits):
    fit, i, j, same, kind = split
    score, _, _ = default_pair_scores(F, mask, labels, split)
    rows.append({"seed": seed, "fit": "whole paintings (default)", **seen_unseen_auc(score, same, kind)})
    names, y = np.unique(labels[fit], return_inverse=True)
    X = np.concatenate([F[fit]] + [a[fit].astype(np.float32) for a in A])
    E, C = lda_projection(X, np.tile(y, 1 + len(A)), len(names), log_columns=mask,
                          overwrite=True).predict(F, batch_size=4096, verbose=0)
    T, w, _ = choose_scorer(E, C, i, j, same, kind)
    rows.append({"seed": seed, "fit": "+ four corner crops each", **seen_unseen_auc(profile_score(E, C, i, j, T, w),
                                                                                   same, kind)})
    print(pd.DataFrame(rows[-2:]).round(4).to_string(index=False), flush=True)
table = pd.DataFrame(rows).groupby("fit", sort=False)[["seen", "unseen"]].mean()
table["mean"] = table[["seen", "unseen"]].mean(axis=1)
print(table.round(4).to_string())
