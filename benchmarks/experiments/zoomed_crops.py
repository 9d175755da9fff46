"""Do zoomed-in views add to the style statistics? Validation only.

Every pbn_dev painting is a 224 px JPEG, so the default features already see it at full
resolution; but a network's filters see texture at one scale. Here each painting is cut into n x n
views (``--grid``; 2: four quadrants of 112 px) enlarged to the network's input (224 px, bilinear),
so brushwork appears n times as large, and the packaged Lite0's style statistics of the views are
averaged: "zoom" features.
Compared on pbn_dev's training paintings (175 artists; splits as ``painter train`` makes them,
held-out artists unseen by the backbones first; lda scored as the default, T and w chosen on the
same validation pairs): Lite0 alone, Lite0 + its zoom, the default (Lite0 + Lite1), the default +
Lite0's zoom. The zoom features cost one more forward pass per view (n x n for the grid). No test
painting read.

    python benchmarks/experiments/zoomed_crops.py [--data runs/pbn_clean] [--also ../shared/data/wikiart_extra]
                                      [--grid 2] [--seeds 0,1,2] [--views grid|center|diagonal]

``--also``: more training paintings (the packaged model's 560 artists); ``--grid 3``: nine views
of a third of the painting each, enlarged three times. ``--views``: which of the enlarged views
(each costs one more forward pass): every one of the grid (default), the one centre view of the
same size, or the grid's diagonal (``n`` views).

Zoom features are kept in ``runs/zoomed_crops/`` so a second run only scores. The product's form
of the same views is ``FeatureSpec(zoom=n)`` (``painter.layers.ZoomAverage``); this script cuts
them itself, with Keras, as it did when the figures in RESULTS were measured.
"""
import argparse

import numpy as np
import pandas as pd
import tensorflow as tf
from tqdm import tqdm

import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data

from shared_data import RUNS, default_features_and_splits, default_pair_scores, seen_unseen_auc
from painter.features import DEFAULT_FEATURES, extract_features, std_columns
from painter.features import build_feature_model, image_batches, predict_padded

p = argparse.ArgumentParser()
p.add_argument("--data", default=str(RUNS / "pbn_clean"))
p.add_argument("--also", action="append", default=[])
p.add_argument("--grid", type=int, default=2, help="n: n x n views, each enlarged n times")
p.add_argument("--seeds", default="0,1,2")
p.add_argument("--views", default="grid", choices=("grid", "center", "diagonal"))
args = p.parse_args()
paths, labels, F_default, mask_default, splits = default_features_and_splits([args.data, *args.also],
                                                                             [int(s) for s in args.seeds.split(",")])
lite0 = DEFAULT_FEATURES.components()[0]
F0, failed = extract_features(paths, lite0)
mask0 = std_columns(lite0)

out = RUNS / "zoomed_crops"
out.mkdir(parents=True, exist_ok=True)
tag = "" if args.views == "grid" else f"{args.views}_"   # the grid's files keep their first name
cache = out / f"zoom{args.grid}_{tag}{lite0.key}_{len(paths)}.npy"
if cache.is_file():
    Z = np.load(cache)
else:
    model, size = build_feature_model(lite0), lite0.image_size
    parts = []
    for images, reasons in tqdm(image_batches(paths, size, 32), total=-(-len(paths) // 32), desc="zoomed views"):
        h = size // args.grid
        corners = {"grid": [(r, c) for r in range(0, h * args.grid, h) for c in range(0, h * args.grid, h)],
                   "center": [((size - h) // 2, (size - h) // 2)],
                   "diagonal": [(r, r) for r in range(0, h * args.grid, h)]}[args.views]
        views = [images[:, r:r + h, c:c + h] for r, c in corners]
        big = [tf.image.resize(v.astype("float32"), (size, size)).numpy() for v in views]
        parts.append(np.mean([predict_padded(model, v) for v in big], axis=0))
    Z = np.concatenate(parts).astype("float32")
    np.save(cache, Z)

variants = {"Lite0": (F0, mask0), "Lite0 + its zoom": (np.hstack([F0, Z]), np.r_[mask0, mask0]),
            "default (Lite0 + Lite1)": (F_default, mask_default),
            "default + Lite0's zoom": (np.hstack([F_default, Z]), np.r_[mask_default, mask0])}
rows = []
for seed, split in zip(args.seeds.split(","), splits):
    for name, (F, mask) in variants.items():
        score, _, _ = default_pair_scores(F, mask, labels, split)
        rows.append({"seed": seed, "features": name, "dims": F.shape[1], **seen_unseen_auc(score, *split[3:])})
    print(pd.DataFrame(rows[-len(variants):]).round(4).to_string(index=False), flush=True)
table = pd.DataFrame(rows).groupby("features", sort=False)[["dims", "seen", "unseen"]].mean()
table["mean"] = table[["seen", "unseen"]].mean(axis=1)
print(table.round(4).to_string())
