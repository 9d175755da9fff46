"""Which backbone layers give the best style statistics: the validation table.

Embeds the training paintings of cleaned pbn_dev once per backbone, tapping many layers (channel
mean and standard deviation of each), then scores every tap set with the default ``lda`` method:
log of the stds -> standardize -> PCA -> LDA -> best (temperature, cosine weight) of the profile
score on validation pairs. Seen and unseen validation AUC are averaged over four artist splits
(one split's AUCs move by about 0.005). No test painting and no solution is used.

    python benchmarks/experiments/feature_choice.py [--data runs/pbn_clean224] [--splits 4]

Tapped maps are kept in ``runs/feature_choice/`` so a second run only scores.
"""
import argparse
import json

import keras
import numpy as np
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


def tap_sets(backbone):
    """Named lists of layers: the default (ReLU expansions), and what it was measured against."""
    relu = style_layers(backbone)
    depthwise = [t.replace("expand_relu", "dw_relu") for t in relu[:-1]] + ["top_activation"]
    stages = [f"stage{s}_out" for s in range(2, 7)] + ["top_activation"]
    return {"stage outputs (linear bottlenecks, the first features)": stages,
            "ReLU6 expansions (default)": relu,
            "ReLU6 depthwise outputs": depthwise,
            "ReLU6 expansions + stage outputs": relu + stages[:-1],
            "ReLU6 expansions + depthwise outputs": relu + depthwise[:-1]}


def tapped_stats(backbone, paths, out_dir):
    """``{layer: (n, 2C)}`` channel mean and std of every layer in any tap set, cached as .npz."""
    path = out_dir / f"taps_{backbone}.npz"
    if path.is_file():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    layers = list(dict.fromkeys(t for taps in tap_sets(backbone).values() for t in taps))
    size = default_size(backbone)
    maps = get_backbone(backbone, "imagenet", (size, size, 3), outputs=layers)
    image = keras.Input((size, size, 3))
    model = keras.Model(image, [ChannelStats()(m) for m in maps(image)])
    parts = [[] for _ in layers]
    for _chunk, outs, failed in tqdm(predict_images(model, paths, size), total=-(-len(paths) // 32),
                                     desc=f"tap {backbone}"):
        if failed:
            raise SystemExit(f"unreadable training paintings: {failed}")
        for part, o in zip(parts, outs):
            part.append(o)
    stats = {t: np.concatenate(p) for t, p in zip(layers, parts)}
    np.savez(path, **stats)
    return stats


def features(stats, taps):
    """Concatenated ``[mean, std]`` blocks and the boolean mask of the std columns."""
    blocks = [stats[t] for t in taps]
    mask = np.concatenate([np.repeat([False, True], b.shape[1] // 2) for b in blocks])
    return np.concatenate(blocks, axis=1), mask


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=str(RUNS / "pbn_clean224"))
    p.add_argument("--splits", type=int, default=4)
    args = p.parse_args()
    out_dir = RUNS / "feature_choice"
    out_dir.mkdir(parents=True, exist_ok=True)
    paths, labels = load_training_images(clean_pbn_dev(args.data))
    stats = {b: tapped_stats(b, paths, out_dir) for b in BACKBONES}
    print("| backbones | layers | PCA | dims | val seen | val unseen | mean |\n|---|---|---|---|---|---|---|")
    both = "+".join(BACKBONES)
    default, stages = "ReLU6 expansions (default)", "stage outputs (linear bottlenecks, the first features)"
    runs = [(both, name, 384) for name in tap_sets(BACKBONES[0])]
    runs += [(b, name, 384) for name in (default, stages) for b in BACKBONES]
    runs += [(both, default, d) for d in (256, 512)]
    for bb, name, pca_dim in runs:
        parts = [features(stats[b], tap_sets(b)[name]) for b in bb.split("+")]
        F, mask = np.concatenate([f for f, _ in parts], 1), np.concatenate([m for _, m in parts])
        r = validate(F, mask, labels, args.splits, pca_dim=pca_dim)
        print(f"| {bb.replace('efficientnet_', '')} | {name} | {pca_dim} | {F.shape[1]:,} | {r['seen']} | "
              f"{r['unseen']} | {r['mean']} |", flush=True)
        with open(out_dir / "results.jsonl", "a") as f:
            f.write(json.dumps({"backbones": bb, "layers": name, "pca": pca_dim, **r}) + "\n")


if __name__ == "__main__":
    main()
