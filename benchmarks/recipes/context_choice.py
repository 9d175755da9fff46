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

import keras
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data

from shared_data import default_features_and_splits, clean_pbn_dev, known_artists, split_source, RUNS, SOURCES
from painter.features import DEFAULT_FEATURES, extract_features
from painter.same_artist.context import PROJECTION, shrunk_mean
from painter.metrics import balanced_accuracy
from painter.same_artist.calibration import choose_threshold, fit_calibration
from painter.same_artist.lda import choose_scorer, lda_projection, profile_score
from painter.same_artist.training import load_training_images

p = argparse.ArgumentParser()
p.add_argument("--seeds", default="0,1,2")
p.add_argument("--effects", default="0,1,3,10,30")
args = p.parse_args()
effects = [float(e) for e in args.effects.split(",")]
_, labels, F, mask, splits = default_features_and_splits(
    [clean_pbn_dev(RUNS / "pbn_clean"), SOURCES / "wikiart_extra"], [int(s) for s in args.seeds.split(",")])
pa_paths, pa_labels = load_training_images(split_source("public_art", exclude=known_artists())[0])
P, _ = extract_features(pa_paths, DEFAULT_FEATURES, progress=False)


def embed(base, X_pre, effect):
    """``(E, C)`` of projected rows ``X_pre``, the collection's shrunk mean taken off first."""
    if effect:
        mean, shrink = shrunk_mean(X_pre, effect)
        X_pre = X_pre - shrink * mean
    E = X_pre / np.linalg.norm(X_pre, axis=1, keepdims=True)
    return E, E @ base.get_layer("class_cosine").get_weights()[0]


rows = []
for seed, (fit, i, j, same, kind) in zip(args.seeds.split(","), splits):
    artists = np.unique(pa_labels)
    held = set(np.random.default_rng(int(seed)).choice(artists, len(artists) // 5, replace=False))
    pa_val = np.isin(pa_labels, list(held))
    names, y = np.unique(np.concatenate([labels[fit], pa_labels[~pa_val]]), return_inverse=True)
    base = lda_projection(np.vstack([F[fit], P[~pa_val]]), y, len(names), log_columns=mask)
    project = keras.Model(base.input, base.get_layer(PROJECTION).output)
    # WikiArt's validation collection: the paintings its pairs use, renumbered
    rows_w = np.unique(np.concatenate([i, j]))
    at = {r: k for k, r in enumerate(rows_w)}
    iw, jw = np.array([at[r] for r in i]), np.array([at[r] for r in j])
    Xw = project.predict(F[rows_w], batch_size=1024, verbose=0)
    Xp = project.predict(P[pa_val], batch_size=1024, verbose=0)
    T, w, _ = choose_scorer(*embed(base, Xw, 0), iw, jw, same, kind)
    s0 = profile_score(*embed(base, Xw, 0), iw, jw, T, w)
    scale, _, bias = fit_calibration(s0, np.zeros_like(s0), same)
    threshold = choose_threshold(same, 1 / (1 + np.exp(-(scale * s0 + bias))), kind)
    lp = pa_labels[pa_val]
    ip, jp = np.triu_indices(len(lp), 1)
    for effect in effects:
        s = profile_score(*embed(base, Xw, effect), iw, jw, T, w)
        sp = profile_score(*embed(base, Xp, effect), ip, jp, T, w)
        pw, pp = (1 / (1 + np.exp(-(scale * x + bias))) for x in (s, sp))
        row = {"seed": seed, "design_effect": effect,
               **{f"wikiart {k}": roc_auc_score(same[kind == k], s[kind == k]) for k in ("seen", "unseen")},
               **{f"wikiart {k} acc": balanced_accuracy(same[kind == k], pw[kind == k], threshold)
                  for k in ("seen", "unseen")},
               "public_art": roc_auc_score(lp[ip] == lp[jp], sp),
               "public_art acc": balanced_accuracy(lp[ip] == lp[jp], pp, threshold),
               "shrink wikiart": shrunk_mean(Xw, effect)[1] if effect else 0.0,
               "shrink public_art": shrunk_mean(Xp, effect)[1] if effect else 0.0}
        rows.append(row)
        print(row, flush=True)
table = pd.DataFrame(rows)
means = table.groupby("design_effect")[["wikiart seen", "wikiart unseen", "public_art", "wikiart seen acc",
                                        "wikiart unseen acc", "public_art acc", "shrink wikiart",
                                        "shrink public_art"]].mean()
means["mean AUC"] = means[["wikiart seen", "wikiart unseen", "public_art"]].mean(axis=1)
means["mean acc"] = means[["wikiart seen acc", "wikiart unseen acc", "public_art acc"]].mean(axis=1)
print(means.to_string(float_format=lambda x: f"{x:.4f}"))
