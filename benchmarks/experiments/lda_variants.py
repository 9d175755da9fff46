"""Two more tries at the frozen features' ceiling, on validation pairs only.

1. PLDA-like weighting: scale each LDA direction by a function of its between/within variance
   ratio ``lam`` before the unit length (the default weighs every direction alike; probabilistic
   LDA's pair score weighs them by about ``lam / (1 + lam)``).
2. Second-order style statistics: besides each tapped map's channel means and stds, the
   correlations between ``--k`` fixed random projections of its channels (Gatys's Gram matrix,
   made scale-free and small).

Each row: mean over four artist splits of the training paintings of the best (temperature, cosine
weight) profile score's seen and unseen validation AUC, as in ``feature_choice.py``
(``shared_data.validate``). No test painting and no solution is used.

    python benchmarks/experiments/lda_variants.py [--data runs/pbn_clean] [--k 24] [--splits 4]

Tapped statistics are kept in ``runs/lda_variants/`` so a second run only scores.
"""
import argparse
import warnings
from functools import partial

import keras
import numpy as np
from keras import ops
from tqdm import tqdm

import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data

from shared_data import RUNS, clean_pbn_dev, validate
from painter.backbones import default_size, get_backbone
from painter.backbones.catalog import style_layers
from painter.features import predict_images
from painter.layers import ChannelStats
from painter.same_artist.training import load_training_images

BACKBONES = ("efficientnet_lite0", "efficientnet_lite1")
WEIGHTS = {"equal (default)": lambda lam: np.ones_like(lam), "lam^0.25": lambda lam: lam ** 0.25,
           "sqrt(lam)": np.sqrt, "lam": lambda lam: lam, "lam / (1 + lam)": lambda lam: lam / (1 + lam),
           "sqrt(lam / (1 + lam))": lambda lam: np.sqrt(lam / (1 + lam))}


class ChannelCorrelations(keras.layers.Layer):
    """``(batch, h, w, C)`` -> ``(batch, k(k-1)/2)``: spatial correlations of ``k`` fixed projections of
    the channels."""

    def __init__(self, projection, **kwargs):
        super().__init__(**kwargs)
        self.projection = projection

    def call(self, x):
        _, h, w, c = x.shape
        k = self.projection.shape[1]
        x = ops.reshape(x, (-1, h * w, c)) @ ops.convert_to_tensor(self.projection)
        x = x - ops.mean(x, axis=1, keepdims=True)
        cov = ops.einsum("bnk,bnl->bkl", x, x) / (h * w)
        d = ops.sqrt(ops.diagonal(cov, axis1=1, axis2=2) + 1e-6)
        upper = np.flatnonzero(np.triu(np.ones((k, k)), 1))
        return ops.take(ops.reshape(cov / (d[:, :, None] * d[:, None, :]), (-1, k * k)), upper, axis=1)


def tapped(backbone, paths, k, out_dir):
    """``(stats (n, 2C total), std mask, correlations (n, m))`` of the default style layers, cached."""
    path = out_dir / f"{backbone}_k{k}.npz"
    if not path.is_file():
        size = default_size(backbone)
        image = keras.Input((size, size, 3))
        rng = np.random.default_rng(0)
        outs = []
        for m in get_backbone(backbone, "imagenet", (size, size, 3), outputs=style_layers(backbone))(image):
            q = np.linalg.qr(rng.standard_normal((m.shape[-1], k)))[0].astype("float32")
            outs += [ChannelStats()(m), ChannelCorrelations(q)(m)]
        parts = [[] for _ in outs]
        for _chunk, o, failed in tqdm(predict_images(keras.Model(image, outs), paths, size),
                                      total=-(-len(paths) // 32), desc=f"tap {backbone}"):
            if failed:
                raise SystemExit(f"unreadable training paintings: {failed}")
            for part, x in zip(parts, o):
                part.append(x)
        arrays = [np.concatenate(p) for p in parts]
        stats = np.concatenate(arrays[0::2], 1)
        mask = np.concatenate([np.repeat([False, True], a.shape[1] // 2) for a in arrays[0::2]])
        np.savez(path, stats=stats, mask=mask, corr=np.concatenate(arrays[1::2], 1))
    with np.load(path) as z:
        return z["stats"], z["mask"], z["corr"]


def weighted(E, C, fit, y, n, weigh):
    """Embedding and class cosines after scaling each LDA direction by ``weigh(lam)``.

    The unit embedding keeps each direction's between/within variance ratio, so ``lam`` is measured on it."""
    Ef = E[fit]
    means = np.stack([Ef[y == c].mean(0) for c in range(n)])
    lam = means.var(0) / ((Ef - means[y]) ** 2).mean(0)
    E = E * weigh(lam)
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    means = np.stack([E[fit][y == c].mean(0) for c in range(n)])
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    return E, E @ means.T


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=str(RUNS / "pbn_clean"))
    p.add_argument("--k", type=int, default=24)
    p.add_argument("--splits", type=int, default=4)
    args = p.parse_args()
    out_dir = RUNS / "lda_variants"
    out_dir.mkdir(parents=True, exist_ok=True)
    paths, labels = load_training_images(clean_pbn_dev(args.data))
    taps = [tapped(b, paths, args.k, out_dir) for b in BACKBONES]
    stats, mask = np.concatenate([t[0] for t in taps], 1), np.concatenate([t[1] for t in taps])
    corr = np.concatenate([t[2] for t in taps], 1)
    print("| variant (Lite0 + Lite1, PCA 384) | dims | val seen | val unseen | mean |\n|---|---|---|---|---|")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for name, weigh in WEIGHTS.items():
            reweigh = None if name.startswith("equal") else partial(weighted, weigh=weigh)
            r = validate(stats, mask, labels, args.splits, reweigh)
            print(f"| LDA directions weighted by {name} | {stats.shape[1]:,} | {r['seen']} | {r['unseen']} "
                  f"| {r['mean']} |", flush=True)
        no_log = np.zeros(corr.shape[1], bool)
        for name, F, m in (("channel correlations alone", corr, no_log),
                           ("means and stds + channel correlations", np.concatenate([stats, corr], 1),
                            np.concatenate([mask, no_log]))):
            r = validate(F.astype(np.float32), m, labels, args.splits)
            print(f"| {name} (k = {args.k}) | {F.shape[1]:,} | {r['seen']} | {r['unseen']} | {r['mean']} |", flush=True)


if __name__ == "__main__":
    main()
