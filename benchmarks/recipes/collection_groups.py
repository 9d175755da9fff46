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
(EM with the artists' components fixed).

    python benchmarks/recipes/collection_groups.py [--seeds 0,1,2] [--m 16,32,48] [--b=-3,-2.5,-2] [--draws 3]

"""
import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.special import softmax
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data

from shared_data import _embed_shifted, two_source_aucs, two_source_runs, two_source_table
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


def scores(E, C, T, w, m, b):
    """The ``(n, n)`` profile scores with the collection's groups (none for ``m = 0``)."""
    parts = [(np.zeros((0, E.shape[1])), 0.0)] if m == 0 else groups(E, C, T, m, b)
    S = 0
    for Q, prior in parts:
        p = softmax(np.hstack([C / T, E @ Q.T / T + prior]), axis=1)
        S = S + p.shape[1] * p @ p.T + w * E @ E.T
    return S / len(parts)


def grid():
    return [(0, 0.0)] + [(int(m), float(b)) for m in args.m.split(",") for b in args.b.split(",")]


def two_sources(seeds):
    rows = []
    for seed, c, fit, _ in two_source_runs(seeds):
        collections = [(*_embed_shifted(fit.base, X, DESIGN_EFFECT), shrunk_mean(X, DESIGN_EFFECT)[1])
                       for X in (fit.Xw, fit.Xp)]
        for m, b in grid():
            Sw, Sp = (scores(E, C, fit.T, fit.w, m, b + np.log(shrink)) for E, C, shrink in collections)
            rows.append({"seed": seed, "m": m, "b": b, **two_source_aucs(c, Sw[c.iw, c.jw], Sp[c.ip, c.jp])})
            print(rows[-1], flush=True)
    return two_source_table(rows, ["m", "b"])


def best_artworks_validation():
    """``{(m, b): AUC}`` of every pair of the 4 validation painters, the packaged model with context."""
    from shared_data import best_artworks_painters
    from painter.features import extract_features
    from painter.same_artist.context import CollectionContext
    from painter.same_artist.model import predict_rows
    from painter.same_artist.predict import load_pair_model
    best, _, validation = best_artworks_painters()
    paths, labels = zip(*[(str(f), name) for name in validation for f in sorted((best / name).iterdir())])
    labels = np.array(labels)
    model = load_pair_model(None)
    adapted = CollectionContext(list(paths)).adapt(model, groups=False)
    F, failed = extract_features(list(paths), adapted.spec, progress=False)
    assert not failed, failed
    inner = next(layer for layer in adapted.embedder.layers if layer.name == "lda_embedding")
    E, C = (np.asarray(t) for t in predict_rows(inner, F))
    log_shrink = np.log(adapted.info["context"]["shift"][0]["shrink"])
    T, w = model.info["calibration"]["temperature"], model.info["calibration"]["cos_weight"]
    i, j = np.triu_indices(len(E), 1)
    return {(m, b): roc_auc_score(labels[i] == labels[j], scores(E, C, T, w, m, b + log_shrink)[i, j])
            for m, b in grid()}


p = argparse.ArgumentParser()
p.add_argument("--seeds", default="0,1,2")
p.add_argument("--m", default="16,32,48")
p.add_argument("--b", default="-3,-2.5,-2")
p.add_argument("--draws", type=int, default=DRAWS, help="k-means draws whose scores are averaged")
p.add_argument("--sklearn", action="store_true", help="scikit-learn's k-means, three draws averaged")
p.add_argument("--open", action="store_true", help="groups fitted beside the artists' means")
args = p.parse_args()
ba = best_artworks_validation()
print(ba, flush=True)
table = two_sources([int(s) for s in args.seeds.split(",")])
table["best_artworks validation 4"] = [ba[key] for key in table.index]
table["mean of five"] = table.drop(columns="mean").mean(axis=1)
print(table.to_string(float_format=lambda x: f"{x:.4f}"))
