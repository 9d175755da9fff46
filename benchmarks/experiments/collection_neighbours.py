"""Do a painting's neighbours in the collection tell more than the pair's own score? Validation only.

Transductive re-ranking as in person re-identification: two paintings by one artist should have the
same neighbours in the collection. Each pair's score (standardised over the collection's pairs) gets
``b`` times a standardised neighbourhood similarity:

* ``second order``: the correlation of the two paintings' scores against every other painting;
* ``k-NN k``: the share of their ``k`` nearest paintings that they have in common.

``lda`` fitted on WikiArt's and public_art's fitting paintings, validation collections as
``shared_data.two_source_collections`` sets them up, each with context (the default design effect)
and its own neighbourhoods.

    python benchmarks/experiments/collection_neighbours.py [--seeds 0,1,2]

"""
import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.special import softmax

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data

from shared_data import _embed_shifted, two_source_aucs, two_source_runs, two_source_table
from painter.same_artist.context import DESIGN_EFFECT


def all_pairs(E, C, T, w):
    """The ``(n, n)`` profile scores of a collection."""
    p = softmax(C / T, axis=1)
    return C.shape[1] * p @ p.T + w * E @ E.T


def standardised(S):
    v = S[np.triu_indices(len(S), 1)]
    return (S - v.mean()) / v.std()


def second_order(S):
    Z = S.copy()
    np.fill_diagonal(Z, np.nan)
    Z = np.nan_to_num((Z - np.nanmean(Z, 1, keepdims=True)) / np.nanstd(Z, 1, keepdims=True))
    return Z @ Z.T / (len(S) - 2)


def shared_neighbours(S, k):
    Z = S.copy()
    np.fill_diagonal(Z, -np.inf)
    M = np.zeros(S.shape, np.float32)
    M[np.arange(len(S))[:, None], np.argsort(-Z, 1)[:, :k]] = 1
    return M @ M.T / k


p = argparse.ArgumentParser()
p.add_argument("--seeds", default="0,1,2")
args = p.parse_args()
terms = {"second order": second_order, **{f"k-NN {k}": (lambda S, k=k: shared_neighbours(S, k)) for k in (5, 10, 20)}}

rows = []
for seed, c, m, _ in two_source_runs([int(s) for s in args.seeds.split(",")]):
    Sw, Sp = (all_pairs(*_embed_shifted(m.base, X, DESIGN_EFFECT), m.T, m.w) for X in (m.Xw, m.Xp))
    for name, term in terms.items():
        Nw, Np = standardised(term(Sw)), standardised(term(Sp))
        for b in (0, 0.1, 0.2, 0.4, 0.8):
            if b == 0 and name != "second order":
                continue   # the same plain score
            rw, rp = standardised(Sw) + b * Nw, standardised(Sp) + b * Np
            rows.append({"seed": seed, "term": "none" if b == 0 else name, "b": b,
                         **two_source_aucs(c, rw[c.iw, c.jw], rp[c.ip, c.jp])})

            print(rows[-1], flush=True)
print(two_source_table(rows, ["term", "b"]).to_string(float_format=lambda x: f"{x:.4f}"))
