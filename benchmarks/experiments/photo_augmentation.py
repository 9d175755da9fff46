"""Do photographs of the fitting paintings taken another way, as extra samples for the LDA, carry
the model across sources? Validation only.

Museum photographs differ from WikiArt's scans of the same kind of painting in exposure, white
balance, JPEG quality, sharpness and perspective. Here each fitting painting also adds the
default features of ``--copies`` re-photographed copies of itself (a random exposure gain and
gamma, per-channel white-balance gains, a slight keystone, blur and a JPEG quality), as more
samples of its artist: the within-artist scatter the LDA divides by then holds how a painting's
statistics move between photographs, and the LDA turns away from those directions. Hue and
saturation are left alone: they carry an artist's palette. Only the fit changes.

Set up as ``benchmarks/recipes/context_choice.py``: ``lda`` on the fitting paintings of pbn_dev +
``wikiart_extra`` and of ``public_art``'s training part (20% of its artists held out); validation
collections WikiArt's held-out paintings (seen / unseen pairs) and public_art's held-out artists,
each without context and with it (its own paintings, the default design effect). No test
painting is read.

    python benchmarks/experiments/photo_augmentation.py [--seeds 0,1,2] [--copies 1]

The copies are written once to ``runs/photo_augmentation/`` and embedded through the feature
store, so a second run only scores.
"""
import argparse
import hashlib
import io

import numpy as np
import pandas as pd
from PIL import Image, ImageFilter
from tqdm import tqdm

import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data

from shared_data import RUNS, two_source_features, two_source_validation
from painter.features import DEFAULT_FEATURES, extract_features
from painter.same_artist.context import DESIGN_EFFECT

p = argparse.ArgumentParser()
p.add_argument("--seeds", default="0,1,2")
p.add_argument("--copies", type=int, default=1)
args = p.parse_args()


def rephotograph(path, rng):
    """JPEG bytes of ``path`` as another camera and light would show it."""
    im = Image.open(path).convert("RGB")
    w, h = im.size
    d = 0.04 * rng.uniform(-1, 1, 8) * np.array([w, h] * 4)   # keystone: each corner moves up to 4%
    quad = np.array([0, 0, 0, h, w, h, w, 0], float) + d
    im = im.transform((w, h), Image.QUAD, tuple(quad), Image.BICUBIC)
    x = np.asarray(im, np.float32) / 255
    x = x ** rng.uniform(0.8, 1.25) * rng.uniform(0.75, 1.3)   # exposure: gamma and gain
    x = x * rng.uniform(0.93, 1.07, 3)                           # white balance
    im = Image.fromarray(np.clip(x * 255, 0, 255).astype(np.uint8))
    im = im.filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.0) * max(w, h) / 448))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=int(rng.integers(35, 91)))
    return out.getvalue()


def copies(paths, k):
    """Paths of copy ``k`` of every painting, written where missing."""
    out = RUNS / "photo_augmentation" / str(k)
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for path in tqdm(paths, desc=f"copies {k}", unit="img"):
        target = out / (hashlib.sha1(str(Path(path).resolve()).encode()).hexdigest()[:16] + ".jpg")
        if not target.is_file():
            seed = int.from_bytes(hashlib.sha1(f"{target.name}{k}".encode()).digest()[:4], "little")
            target.write_bytes(rephotograph(path, np.random.default_rng(seed)))
        made.append(str(target))
    return made


paths, labels, F, mask, splits, pa_paths, pa_labels, P = two_source_features(
    [int(s) for s in args.seeds.split(",")])
augmented = []
for k in range(args.copies):
    A, failed = extract_features(copies(list(paths), k), DEFAULT_FEATURES)
    B, failed_pa = extract_features(copies(list(pa_paths), k), DEFAULT_FEATURES)
    if failed or failed_pa:
        sys.exit(f"unreadable copies: {list({**failed, **failed_pa})[:3]}")
    augmented.append((A, B))

rows = []
for seed, split in zip(args.seeds.split(","), splits):
    for fit_with, extra in (("paintings (default)", []), (f"+ {args.copies} copies each", augmented)):
        for row in two_source_validation(F, mask, labels, split, P, pa_labels, int(seed), (0, DESIGN_EFFECT), extra):
            rows.append({"seed": seed, "fit": fit_with, **row})
            print(rows[-1], flush=True)
table = pd.DataFrame(rows).drop(columns="coral").groupby(["fit", "design_effect"], sort=False).mean(numeric_only=True)
table["mean AUC"] = table[["wikiart seen", "wikiart unseen", "public_art"]].mean(axis=1)
table["mean acc"] = table[["wikiart seen acc", "wikiart unseen acc", "public_art acc"]].mean(axis=1)
print(table.to_string(float_format=lambda x: f"{x:.4f}"))
