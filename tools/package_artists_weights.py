"""Write painter/backbones/artists_weights/ from two fine-tuned backbones (issue 15).

    python tools/package_artists_weights.py LITE0.weights.h5 LITE1.weights.h5 --data runs/pbn_clean \
        --also ../shared/data/wikiart_extra

Each ``.npz`` holds the layers that differ from ImageNet's, in float16; ``artists.txt`` the
artists the fits trained on (the training sources minus the split's held-out artists, seed 0, as
``painter train`` draws them). Prints the SHA-256 values for ``painter/backbones/catalog.py``.
"""
import argparse

import numpy as np

from painter.backbones.catalog import ARTISTS_DIR
from painter.backbones.efficientnet_lite import _sha256, write_artists_weights
from painter.data.pairs import validation_split
from painter.same_artist.training import load_training_images

p = argparse.ArgumentParser()
p.add_argument("lite0")
p.add_argument("lite1")
p.add_argument("--data", required=True, help="the cleaned folder the fits trained on")
p.add_argument("--also", action="append", default=[], help="their other sources")
args = p.parse_args()
for variant, tuned in (("efficientnet_lite0", args.lite0), ("efficientnet_lite1", args.lite1)):
    out = write_artists_weights(variant, tuned, ARTISTS_DIR / f"{variant}.npz")
    print(f'"{variant}": "{_sha256(out)}",  # {out.stat().st_size / 1e6:.1f} MB')
_, labels = load_training_images([args.data, *args.also])
_, _, unseen = validation_split(labels, val_artists=0.2, seed=0)
trained = sorted(set(labels) - set(labels[unseen]))
(ARTISTS_DIR / "artists.txt").write_text("\n".join(trained) + "\n", encoding="utf-8")
print(f"{len(trained)} training artists of {len(np.unique(labels))}")
