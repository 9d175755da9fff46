"""Write painter/backbones/artists_weights/ from two fine-tuning runs.

    python tools/package_artists_weights.py runs/finetune_long/175+also/siamese:contrastive \
        runs/finetune_lite1/175+also/siamese:contrastive [--out DIR]

Each run folder (``painter train --method siamese``, or ``benchmarks/recipes/finetune.py``) holds the
fine-tuned ``backbone.weights.h5``, its ``config.json`` (its artists; in runs of earlier versions
the held-out ones included) and ``validation_pairs.npz`` (which artists were held out). Each ``.npz`` written holds
the layers that differ from ImageNet's, in float16; ``artists.txt`` the artists the fits learned
from (both runs must have learned from the same ones). Prints the SHA-256 values for
``painter/backbones/catalog.py``.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

from painter.backbones.catalog import ARTISTS_DIR
from painter.backbones.efficientnet_lite import _sha256, write_artists_weights


def learned_artists(run: Path) -> list:
    """The run's training artists minus its validation's held-out ones."""
    info = json.loads((run / "config.json").read_text())["info"]
    with np.load(run / "validation_pairs.npz", allow_pickle=False) as v:
        held_out = set(v["unseen_artists"]) if "unseen_artists" in v.files else _held_out_again(info, args.sources)
    return sorted(set(info["artists"]) - held_out)


def _held_out_again(info, sources=None) -> set:
    """Runs written before ``unseen_artists`` was saved: the split drawn again from their sources
    (``painter train``'s: seed 0, 20% of the artists; an artist with a single painting can be in
    no validation pair, so the pairs do not tell)."""
    from painter.data.pairs import validation_split
    from painter.same_artist.training import load_training_images
    sources = sources or info["sources"]
    print(f"{sources}: held-out artists not recorded, drawn again as painter train draws them")
    _, labels = load_training_images(sources)
    return set(labels[validation_split(labels, val_artists=0.2, seed=0)[2]])


p = argparse.ArgumentParser()
p.add_argument("lite0_run", type=Path)
p.add_argument("lite1_run", type=Path)
p.add_argument("--sources", nargs="+", help="the runs' training folders, if their recorded paths moved")
p.add_argument("--out", type=Path, default=ARTISTS_DIR, help="where to write (default: the package's folder)")
args = p.parse_args()
runs = {"efficientnet_lite0": args.lite0_run, "efficientnet_lite1": args.lite1_run}
for run in runs.values():
    missing = [f for f in ("config.json", "validation_pairs.npz", "backbone.weights.h5") if not (run / f).is_file()]
    if missing:
        sys.exit(f"{run}: not a fine-tuning run folder (no {', '.join(missing)})")
for variant, run in runs.items():
    backbone = json.loads((run / "config.json").read_text())["info"]["backbone"]
    if backbone != variant:
        sys.exit(f"{run}: a fine-tuned {backbone}, expected {variant}")
trained = [learned_artists(run) for run in runs.values()]
if trained[0] != trained[1]:
    sys.exit(f"{args.lite0_run} and {args.lite1_run} learned from different artists "
             f"({len(set(trained[0]) ^ set(trained[1]))} differ): fit both on the same split")
for variant, run in runs.items():
    out = write_artists_weights(variant, run / "backbone.weights.h5", args.out / f"{variant}.npz")
    print(f'"{variant}": "{_sha256(out)}",  # {out.stat().st_size / 1e6:.1f} MB')
(args.out / "artists.txt").write_text("\n".join(trained[0]) + "\n", encoding="utf-8")
print(f"{len(trained[0])} artists learned from")
