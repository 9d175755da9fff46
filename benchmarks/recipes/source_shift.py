"""Questions without context: each painting moved by its source's offset, how far. Validation only.

With context, a museum collection's mean is taken off the projection, and its verdict holds. A
question without context (two paintings, no collection) has no mean to take off. But the model
learned from museum photographs too, so it knows where they sit: ``mu`` is the mean of the museum
fitting paintings in the projection. ``painter.same_artist.source_shift`` moves each painting by
``a * P(museum | x) * mu``, ``P`` a logistic regression on the projection (fitting paintings of
both sources, balanced); ``hard`` moves by ``a * mu`` where ``P >= 0.5``; ``--spared g`` moves by
``a * P(museum | x) * (1 - q)^g * mu``, ``q`` the largest share a learned museum artist has in the
unshifted painting's profile (a photograph of an artist the model learned keeps its place).

``lda`` fitted on WikiArt's and public_art's fitting paintings, validation collections as
``shared_data.two_source_collections`` sets them up; calibration and threshold chosen on WikiArt's
pairs without context and before any shift (``painter train`` chooses them on its validation pairs
before the shift too). Context (the collection's own mean) is the row to compare with.

    python benchmarks/recipes/source_shift.py [--seeds 0,1,2] [--a 0.25,0.5,0.75,1] [--spared 0.5,1,2]
                                              [--prior 1,2,3]

``--prior d``: the museum artists made less likely in each painting's profile, by a log prior of
``-d (1 - P(museum | x))`` (``both ways``: the WikiArt artists too, by ``-d P(museum | x)``),
without context and with it; and ``best_artworks_fullsize``'s 4 validation painters without
context, with the packaged model (the prior with context: ``recipes/collection_groups.py``).

"""
import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.special import softmax

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data

from shared_data import _embed_shifted, two_source_aucs, two_source_runs
from painter.metrics import balanced_accuracy
from painter.same_artist.calibration import choose_threshold, fit_calibration
from painter.same_artist.context import DESIGN_EFFECT
from painter.same_artist.lda import profile_score
from painter.same_artist.source_shift import fit_source_shift


def _scores(X, K, i, j, T, w, effect=0, prior=None):
    """Profile scores of pairs ``(i, j)`` of projected rows ``X``, the artists' unit means ``K (d, n)``;
    ``effect``: with context (the collection's shrunk mean taken off first); ``prior (len(X), n)``:
    each row's log prior over the artists."""
    E, C = _embed_shifted(None, X, effect, means=K)
    return profile_score(E, C if prior is None else C + T * prior, i, j, T, w)


def _split_scores(X, X_shifted, K, museum, i, j, T, w):
    """As ``_scores`` without context, but each painting compared with the museum artists' means
    unshifted (they were learned from unshifted photographs) and with the others' shifted."""
    E0, E1 = (A / np.linalg.norm(A, axis=1, keepdims=True) for A in (X, X_shifted))
    return profile_score(E1, np.where(museum, E0 @ K, E1 @ K), i, j, T, w)


def _means(X, y, n):
    """``(d, n)`` unit means of the unit rows of ``X`` per artist ``y``."""
    E = X / np.linalg.norm(X, axis=1, keepdims=True)
    K = np.stack([E[y == k].mean(0) for k in range(n)])
    return (K / np.linalg.norm(K, axis=1, keepdims=True)).T


def _row(c, sw, sp, calibrate, threshold):
    acc = {f"wikiart {k} acc": balanced_accuracy(c.same[c.kind == k], calibrate(sw)[c.kind == k], threshold)
           for k in ("seen", "unseen")}
    acc |= {f"public_art {k} acc": balanced_accuracy(c.pa_same[c.pa_kind == k], calibrate(sp)[c.pa_kind == k],
                                                     threshold) for k in ("seen", "unseen")}
    return two_source_aucs(c, sw, sp) | acc


def best_artworks_without_context(ds):
    """The packaged model on every pair of ``best_artworks_fullsize``'s 4 validation painters without
    context, its source prior at each ``d`` in ``ds`` (0: none), and the same with each profile's
    ``n`` replaced by its number of artists the prior leaves (``sum exp(log prior)``, *normalised*):
    AUC and the verdict at the model's threshold."""
    import keras
    from scipy.special import expit
    from sklearn.metrics import roc_auc_score
    from shared_data import best_artworks_validation_paintings
    from painter.features import extract_features
    from painter.same_artist.calibration import layer_named
    from painter.same_artist.model import PairModel, predict_rows
    from painter.same_artist.predict import PACKAGED_MODEL
    from painter.same_artist.source_shift import _projection
    paths, labels = best_artworks_validation_paintings()
    model = PairModel.load(PACKAGED_MODEL, exported=False)
    inner = layer_named(model.embedder, "lda_embedding")
    F, _ = extract_features(paths, model.spec, progress=False)
    x_in = keras.Input(inner.input_shape[1:])
    X = predict_rows(keras.Model(x_in, _projection(inner, x_in)), F)
    W, b = inner.get_layer("source_probability").get_weights()
    (M,) = inner.get_layer("source_shift").get_weights()
    A = inner.get_layer("source_prior").get_weights()[0]
    P = softmax(X @ W + b, axis=1)
    E = (X - P @ M) / np.linalg.norm(X - P @ M, axis=1, keepdims=True)
    cal = model.info["calibration"]
    C = E @ inner.get_layer("class_cosine").get_weights()[0]
    i, j = np.triu_indices(len(E), 1)
    same = labels[i] == labels[j]
    rows = []
    for d_ in ds:
        log_prior = -d_ * (1 - P @ A)
        profile = softmax(C / cal["temperature"] + log_prior, axis=1)
        for normalised in (False, True) if d_ else (False,):
            n = np.exp(log_prior).sum(1) if normalised else np.full(len(E), C.shape[1])
            s = (np.sqrt(n[i] * n[j]) * np.einsum("ij,ij->i", profile[i], profile[j])
                 + cal["cos_weight"] * np.einsum("ij,ij->i", E[i], E[j]))
            called = expit(cal["scale"] * s + cal["bias"]) >= model.threshold
            rows.append({"prior d": d_, "normalised": normalised, "AUC": roc_auc_score(same, s),
                         "same→same": called[same].mean(), "diff→diff": (~called[~same]).mean()})
            rows[-1]["bal. acc"] = (rows[-1]["same→same"] + rows[-1]["diff→diff"]) / 2
    return rows


p = argparse.ArgumentParser()
p.add_argument("--seeds", default="0,1,2")
p.add_argument("--a", default="0.25,0.5,0.75,1")
p.add_argument("--prior", default="", help="also the museum artists made less likely by d * (1 - P(museum | x)) "
               "in each painting's profile, for these d, e.g. 1,2,3")
p.add_argument("--spared", default="", help="also the shift spared by (1 - how surely a learned museum artist "
               "explains the painting) to these powers g, e.g. 0.5,1,2")
args = p.parse_args()

rows = []
for seed, c, m, d in two_source_runs([int(s) for s in args.seeds.split(",")]):
    Xf = [m.project.predict(X, batch_size=1024, verbose=0) for X in (d.F[c.fit], d.P[c.pa_fit])]
    X_fit = np.vstack(Xf)
    y_fit = np.searchsorted(m.names, np.concatenate([d.labels[c.fit], d.pa_labels[c.pa_fit]]))
    W, b, M = fit_source_shift(X_fit, np.r_[np.zeros(len(Xf[0]), int), np.ones(len(Xf[1]), int)], 1.0)
    mu = M[1]
    pw, pp, pf = (1 / (1 + np.exp(-(X @ W[:, 1] + b[1]))) for X in (m.Xw, m.Xp, X_fit))   # W[:, 0], b[0]: 0
    K = m.base.get_layer("class_cosine").get_weights()[0]
    print(f"seed {seed}: P(museum) on WikiArt validation {pw.mean():.3f} (>= 0.5: {np.mean(pw >= .5):.3f}), "
          f"on museum validation {pp.mean():.3f} (>= 0.5: {np.mean(pp >= .5):.3f})", flush=True)
    s0 = _scores(m.Xw, K, c.iw, c.jw, m.T, m.w)
    scale, _, bias = fit_calibration(s0, np.zeros_like(s0), c.same)

    def calibrate(s):
        return 1 / (1 + np.exp(-(scale * s + bias)))
    threshold = choose_threshold(c.same, calibrate(s0), c.kind)
    T, w = m.T, m.w

    def museum_artist(X):
        """How surely one learned museum artist explains each unshifted row (its profile's largest
        museum share)."""
        E = X / np.linalg.norm(X, axis=1, keepdims=True)
        return (softmax(E @ K / T, axis=1) * m.museum).max(1)

    # each variant: (rows X, their P(museum), pairs i, j) -> pair scores
    variants = {"none": lambda X, P, i, j: _scores(X, K, i, j, T, w),
                "context": lambda X, P, i, j: _scores(X, K, i, j, T, w, DESIGN_EFFECT)}
    for a in (float(x) for x in args.a.split(",")):
        moved = _means(X_fit - a * pf[:, None] * mu, y_fit, len(m.names))
        variants |= {
            f"soft a={a}": lambda X, P, i, j, a=a: _scores(X - a * P[:, None] * mu, K, i, j, T, w),
            f"hard a={a}": lambda X, P, i, j, a=a: _scores(X - a * (P >= .5)[:, None] * mu, K, i, j, T, w),
            f"soft a={a}, means moved":
                lambda X, P, i, j, a=a, moved=moved: _scores(X - a * P[:, None] * mu, moved, i, j, T, w),
            f"context, means moved a={a}": lambda X, P, i, j, moved=moved: _scores(X, moved, i, j, T, w, DESIGN_EFFECT),
            f"soft a={a}, museum artists unshifted":
                lambda X, P, i, j, a=a: _split_scores(X, X - a * P[:, None] * mu, K, m.museum, i, j, T, w)}
        for g in (float(x) for x in args.spared.split(",") if x):
            variants[f"soft a={a}, spared g={g}"] = lambda X, P, i, j, a=a, g=g: _scores(
                X - a * (P * (1 - museum_artist(X)) ** g)[:, None] * mu, K, i, j, T, w)
    for d_ in (float(x) for x in args.prior.split(",") if x):
        def prior(P, d_=d_):
            return -d_ * (1 - P)[:, None] * m.museum[None, :]
        def both_ways(P, d_=d_):
            return -d_ * np.where(m.museum[None, :], (1 - P)[:, None], P[:, None])
        variants |= {
            f"soft a=0.75, source prior d={d_}, both ways":
                lambda X, P, i, j, prior=both_ways: _scores(X - 0.75 * P[:, None] * mu, K, i, j, T, w, prior=prior(P)),
            f"soft a=0.75, source prior d={d_}":
                lambda X, P, i, j, prior=prior: _scores(X - 0.75 * P[:, None] * mu, K, i, j, T, w, prior=prior(P)),
            f"context, source prior d={d_}":
                lambda X, P, i, j, prior=prior: _scores(X, K, i, j, T, w, DESIGN_EFFECT, prior=prior(P))}
    for name, score in variants.items():
        sw, sp = score(m.Xw, pw, c.iw, c.jw), score(m.Xp, pp, c.ip, c.jp)
        rows.append({"seed": seed, "shift": name, **_row(c, sw, sp, calibrate, threshold)})
        print(rows[-1], flush=True)

import pandas as pd   # noqa: E402
table = pd.DataFrame(rows).groupby("shift", sort=False).mean(numeric_only=True).drop(columns="seed")
aucs = [k for k in table.columns if not k.endswith("acc")]
table["mean AUC"] = table[aucs].mean(axis=1)
table["mean acc"] = table[[k for k in table.columns if k.endswith("acc")]].mean(axis=1)
print(table.to_string(float_format=lambda x: f"{x:.4f}"))
if args.prior:
    print("\nbest_artworks_fullsize's 4 validation painters, the packaged model without context:")
    print(pd.DataFrame(best_artworks_without_context([0.0] + [float(x) for x in args.prior.split(",")]))
          .to_string(index=False, float_format=lambda x: f"{x:.4f}"))
