"""How much a collection's context moves the model: the design effect of the James-Stein shrinkage,
chosen on validation collections of both sources.

For each split: ``lda`` on the fitting paintings of pbn_dev + ``wikiart_extra`` (held-out artists
unseen by the tuned backbones first, as ``painter train`` holds them out) and of ``public_art``'s
training part (20% of its artists held out); two validation collections, each its own context:
WikiArt's held-out paintings (their pairs laid out as the competition's, seen and unseen) and
public_art's held-out artists (every pair). ``design_effect`` 0 is no context; larger values
shift a collection less (``painter.same_artist.context.shrunk_mean``). The temperature, cosine
weight, calibration and threshold are chosen on the WikiArt pairs without context, as ``painter
train`` does; ``public_art acc`` is the verdict's balanced accuracy on public_art's pairs.

    python benchmarks/recipes/context_choice.py [--seeds 0,1,2] [--effects 0,1,3,10,30]

Chosen: the design effect with the best mean of the three AUCs and of the three accuracies.
"""
import argparse

import pandas as pd

import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data

from shared_data import two_source_features, two_source_validation

p = argparse.ArgumentParser()
p.add_argument("--seeds", default="0,1,2")
p.add_argument("--effects", default="0,1,3,10,30")
args = p.parse_args()
effects = [float(e) for e in args.effects.split(",")]
_, labels, F, mask, splits, _, pa_labels, P = two_source_features(
    [int(s) for s in args.seeds.split(",")])

rows = []
for seed, split in zip(args.seeds.split(","), splits):
    for row in two_source_validation(F, mask, labels, split, P, pa_labels, int(seed), effects):
        rows.append({"seed": seed, **row})
        print(rows[-1], flush=True)
table = pd.DataFrame(rows)
means = table.groupby("design_effect")[["wikiart seen", "wikiart unseen", "public_art", "wikiart seen acc",
                                        "wikiart unseen acc", "public_art acc", "shrink wikiart",
                                        "shrink public_art"]].mean()
means["mean AUC"] = means[["wikiart seen", "wikiart unseen", "public_art"]].mean(axis=1)
means["mean acc"] = means[["wikiart seen acc", "wikiart unseen acc", "public_art acc"]].mean(axis=1)
print(means.to_string(float_format=lambda x: f"{x:.4f}"))
