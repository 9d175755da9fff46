"""The collection's own groups as more classes of the artist profile: how many, how likely. Validation only.

``painter.same_artist.collection_groups``: the context collection is clustered by k-means into
``n / m`` groups (``m`` paintings per group) in the adapted model's embedding, and the groups' unit
means join the artists' as classes of the profile at log prior ``b + log(shrink)``; the scores of
``--draws`` k-means draws are averaged (default: the product's ``DRAWS``). Measured with
context (the default design effect) on collections no learned part saw:

* WikiArt's and public_art's validation collections as ``shared_data.two_source_collections`` sets
  them up (``lda`` fitted on the rest of both sources; three splits), seen and unseen pairs apart;
* ``best_artworks_fullsize``'s validation group of 4 painters (``shared_data.best_artworks_painters``), read
  as painter reads it with context (views), with the packaged model.

``m = 0`` is context without groups. ``--sklearn`` and ``--open`` measure two other ways of finding
the groups: scikit-learn's k-means (three draws); and the groups fitted beside the artists' means
(EM with the artists' components fixed). ``--prior`` measures the source prior at these strengths
``d`` (``source_shift``: the museum artists' log prior ``-d (1 - P(museum | x))``, P read before the
collection's mean is taken off; 0 is none).

    python benchmarks/recipes/collection_groups.py [--seeds 0,1,2] [--m 16,32,48] [--b=-3,-2.5,-2] [--draws 3]
                                                   [--prior 0]

"""
import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.special import softmax
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data

from shared_data import _embed_shifted, museum_shares, two_source_aucs, two_source_runs, two_source_table
from painter.same_artist.collection_groups import DRAWS, group_means
from painter.same_artist.context import DESIGN_EFFECT, shrunk_mean


def _open(E, C, T, Q, b, iters=10):
    """Group means ``Q`` refitted by EM beside the artists' fixed components."""
    for _ in range(iters):
        R = softmax(np.hstack([C / T, E @ Q.T / T + b]), axis=1)[:, C.shape[1]:]
        Q = R.T @ E + 1e-9
        Q /= np.linalg.norm(Q, axis=1, keepdims=True)
    return Q


def groups(E, C, T, m, b):
    """``[(Q, log prior)]`` of ``--draws`` k-means draws (``--sklearn``: three of scikit-learn's)."""
    if not args.sklearn:
        means = [group_means(E, m, seed=r) for r in range(args.draws)]
        return [(_open(E, C, T, Q, b) if args.open else Q, b) for Q in means]
    from sklearn.cluster import KMeans
    out = []
    for r in range(3):
        Q = KMeans(max(2, round(len(E) / m)), n_init=1, random_state=r).fit(E).cluster_centers_
        out.append((Q / np.linalg.norm(Q, axis=1, keepdims=True), b))
    return out


def scores(E, C, T, w, m, b, prior=0.0):
    """The ``(n, n)`` profile scores with the collection's groups (none for ``m = 0``); ``prior``:
    ``(n, n_artists)`` log priors of the artists in each painting's profile."""
    C = C + T * prior
    parts = [(np.zeros((0, E.shape[1])), 0.0)] if m == 0 else groups(E, C, T, m, b)
    S = 0
    for Q, prior in parts:
        p = softmax(np.hstack([C / T, E @ Q.T / T + prior]), axis=1)
        S = S + p.shape[1] * p @ p.T + w * E @ E.T
    return S / len(parts)


def grid():
    priors = [float(d) for d in args.prior.split(",")]
    return [(0, 0.0, d) for d in priors] + [(int(m), float(b), d) for m in args.m.split(",")
                                           for b in args.b.split(",") for d in priors]


def two_sources(seeds):
    rows = []
    for seed, c, fit, data in two_source_runs(seeds):
        shares = museum_shares(fit, c, data) if args.prior != "0" else [np.zeros(len(fit.Xw)), np.zeros(len(fit.Xp))]
        collections = [(*_embed_shifted(fit.base, X, DESIGN_EFFECT), shrunk_mean(X, DESIGN_EFFECT)[1], P)
                       for X, P in zip((fit.Xw, fit.Xp), shares)]
        for m, b, d in grid():
            Sw, Sp = (scores(E, C, fit.T, fit.w, m, b + np.log(shrink), -d * (1 - P)[:, None] * fit.museum)
                      for E, C, shrink, P in collections)
            rows.append({"seed": seed, "m": m, "b": b, "prior": d,
                         **two_source_aucs(c, Sw[c.iw, c.jw], Sp[c.ip, c.jp])})
            print(rows[-1], flush=True)
    return two_source_table(rows, ["m", "b", "prior"])


def best_artworks_validation():
    """``{(m, b, d): AUC}`` of every pair of the 4 validation painters, the packaged model with context."""
    import keras
    from shared_data import best_artworks_validation_paintings
    from painter.features import extract_features
    from painter.same_artist.context import CollectionContext
    from painter.same_artist.model import predict_rows
    from painter.same_artist.predict import load_pair_model
    paths, labels = best_artworks_validation_paintings()
    model = load_pair_model(None)
    adapted = CollectionContext(paths).adapt(model, groups=False)
    F, failed = extract_features(paths, adapted.spec, progress=False)
    assert not failed, failed
    inner = next(layer for layer in adapted.embedder.layers if layer.name == "lda_embedding")
    prior = inner.get_layer("source_prior")
    A, strength, _ = prior.get_weights()
    prior.set_weights([A, strength, np.float32(0.0)])   # the prior at each d below, not the model's
    E, C = (np.asarray(t) for t in predict_rows(inner, F))
    P = np.asarray(predict_rows(keras.Model(inner.input, inner.get_layer("source_probability").output), F))
    log_shrink = np.log(adapted.info["context"]["shift"][0]["shrink"])
    T, w = model.info["calibration"]["temperature"], model.info["calibration"]["cos_weight"]
    i, j = np.triu_indices(len(E), 1)
    same = labels[i] == labels[j]
    return {(m, b, d): roc_auc_score(same, scores(E, C, T, w, m, b + log_shrink, -d * (1 - P @ A))[i, j])
            for m, b, d in grid()}


p = argparse.ArgumentParser()
p.add_argument("--seeds", default="0,1,2")
p.add_argument("--m", default="16,32,48")
p.add_argument("--b", default="-3,-2.5,-2")
p.add_argument("--draws", type=int, default=DRAWS, help="k-means draws whose scores are averaged")
p.add_argument("--sklearn", action="store_true", help="scikit-learn's k-means, three draws averaged")
p.add_argument("--open", action="store_true", help="groups fitted beside the artists' means")
p.add_argument("--prior", default="0", help="source prior strengths d, e.g. 0,1,2,3 (0: none)")
args = p.parse_args()
ba = best_artworks_validation()
print(ba, flush=True)
table = two_sources([int(s) for s in args.seeds.split(",")])
table["best_artworks validation 4"] = [ba[key] for key in table.index]
table["mean of five"] = table.drop(columns="mean").mean(axis=1)
print(table.to_string(float_format=lambda x: f"{x:.4f}"))
