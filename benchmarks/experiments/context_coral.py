"""Should context also match the collection's spread, not only its mean? Validation only.

Context takes a collection's shrunk mean off the model's projection (``same_artist.context``).
A collection from another source also spreads differently: photographs vary along directions
the training paintings hardly vary in. CORAL (correlation alignment) maps the collection's
covariance in the projection onto the fitting paintings', after shrinking it towards theirs by
``1 - strength`` (a few hundred paintings cannot estimate 384 x 384 values alone); the mean
shift follows as the default does it.

Set up as ``benchmarks/recipes/context_choice.py`` (``shared_data.two_source_validation``):
validation collections WikiArt's held-out paintings (seen / unseen pairs) and public_art's
held-out artists, each its own context. No test painting is read.

    python benchmarks/experiments/context_coral.py [--seeds 0,1,2] [--strengths 0,0.1,0.3,0.5]
"""
import argparse

import pandas as pd

import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data

from shared_data import two_source_features, two_source_validation
from painter.same_artist.context import DESIGN_EFFECT

p = argparse.ArgumentParser()
p.add_argument("--seeds", default="0,1,2")
p.add_argument("--strengths", default="0,0.1,0.3,0.5")
args = p.parse_args()
_, labels, F, mask, splits, _, pa_labels, P = two_source_features([int(s) for s in args.seeds.split(",")])
strengths = [float(s) or None for s in args.strengths.split(",")]

rows = []
for seed, split in zip(args.seeds.split(","), splits):
    for row in two_source_validation(F, mask, labels, split, P, pa_labels, int(seed), (0, DESIGN_EFFECT),
                                     corals=strengths):
        rows.append({"seed": seed, **row})
        print(rows[-1], flush=True)
table = pd.DataFrame(rows).groupby(["design_effect", "coral"]).mean(numeric_only=True)
table["mean AUC"] = table[["wikiart seen", "wikiart unseen", "public_art"]].mean(axis=1)
table["mean acc"] = table[["wikiart seen acc", "wikiart unseen acc", "public_art acc"]].mean(axis=1)
print(table.to_string(float_format=lambda x: f"{x:.4f}"))
