"""Is the verdict's threshold right for a collection given as context? Validation only.

The threshold is chosen on WikiArt's validation pairs without context (``painter train``); with
context the scores are those of the adapted model (the collection's shrunk mean taken off, its
k-means groups and the source prior in the profile). Here, on validation collections no learned
part saw (WikiArt's and public_art's, as ``shared_data.two_source_collections`` sets them up,
three splits), each with itself as context as painter does it: the balanced accuracy and the
same→same / diff→diff rates at the model's threshold moved by a logit offset, for every offset in
``--offsets``.

    python benchmarks/experiments/context_threshold.py [--seeds 0,1,2] [--offsets=-1,-0.5,0,0.5]
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit, logit, softmax

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data

from shared_data import _embed_shifted, museum_shares, two_source_runs
from painter.same_artist.calibration import choose_threshold, fit_calibration
from painter.same_artist.collection_groups import DRAWS, GROUP_LOG_PRIOR, PAINTINGS_PER_GROUP, group_means
from painter.same_artist.context import DESIGN_EFFECT, shrunk_mean
from painter.same_artist.lda import profile_score
from painter.same_artist.source_shift import SOURCE_PRIOR


def grouped_scores(E, C, T, w, log_prior, i, j):
    """Pair scores ``(len(i),)`` with the collection's groups in the profile, as painter scores
    them (``collection_groups``: ``DRAWS`` k-means draws averaged, ``n + k`` classes); ``C`` with
    the source prior already in it."""
    S = 0
    for r in range(DRAWS):
        Q = group_means(E, PAINTINGS_PER_GROUP, seed=r)
        P = softmax(np.hstack([C, E @ Q.T + log_prior * T]) / T, axis=1)
        S = S + P.shape[1] * np.einsum("ij,ij->i", P[i], P[j]) + w * np.einsum("ij,ij->i", E[i], E[j])
    return S / DRAWS


def rates(same, p, threshold):
    called, same = p >= threshold, np.asarray(same, bool)
    return {"same→same": called[same].mean(), "diff→diff": (~called[~same]).mean()}


def one_split(seed, c, fit, data, offsets):
    s0 = profile_score(*_embed_shifted(fit.base, fit.Xw, 0), c.iw, c.jw, fit.T, fit.w)
    scale, _, bias = fit_calibration(s0, np.zeros_like(s0), c.same)
    threshold = choose_threshold(c.same, expit(scale * s0 + bias), c.kind)
    rows = []
    shares = museum_shares(fit, c, data)
    for name, X, P, i, j, same, kind in (("wikiart", fit.Xw, shares[0], c.iw, c.jw, c.same, c.kind),
                                         ("public_art", fit.Xp, shares[1], c.ip, c.jp, c.pa_same, c.pa_kind)):
        E, C = _embed_shifted(fit.base, X, DESIGN_EFFECT)
        C = C - fit.T * SOURCE_PRIOR * (1 - P)[:, None] * fit.museum
        log_prior = GROUP_LOG_PRIOR + np.log(shrunk_mean(X, DESIGN_EFFECT)[1])
        p = expit(scale * grouped_scores(E, C, fit.T, fit.w, log_prior, i, j) + bias)
        for k in ("seen", "unseen"):
            g = kind == k
            for offset in offsets:
                r = rates(same[g], p[g], expit(logit(threshold) + offset))
                rows.append({"seed": seed, "collection": f"{name} {k}", "offset": offset,
                             "bal. acc": (r["same→same"] + r["diff→diff"]) / 2, **r})
    return rows


p = argparse.ArgumentParser()
p.add_argument("--seeds", default="0,1,2")
p.add_argument("--offsets", default="-0.3,-0.2,-0.15,-0.1,-0.05,0,0.05,0.1,0.2,0.3,0.5,1")
args = p.parse_args()
offsets = [float(x) for x in args.offsets.split(",")]
rows = []
for seed, c, fit, data in two_source_runs([int(s) for s in args.seeds.split(",")]):
    rows += one_split(seed, c, fit, data, offsets)
table = pd.DataFrame(rows).groupby(["offset", "collection"]).mean(numeric_only=True).drop(columns="seed")
print(table.unstack("collection").to_string(float_format=lambda x: f"{x:.4f}"))
print(table["bal. acc"].groupby("offset").mean().to_string(float_format=lambda x: f"{x:.4f}"))
