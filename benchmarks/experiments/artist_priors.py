"""Should some training artists weigh less in a painting's artist profile? Validation only.

The profile is a softmax over the cosines to every training artist's mean. The packaged model
learned 560 artists from WikiArt and 371 from museum photographs (2-4 each). A prior per artist, ``p
∝ π_k exp(c_k / T)``, changes how much each can attract a painting:

* ``museum -d``: the artists learned from museum photographs only get the log prior ``-d``
  (``-inf``: left out of the profile, the projection still fitted on both sources);
* ``size^g``: every artist ``g log n_k``, ``n_k`` the paintings it was learned from;
* ``collection EM a/t``: the priors the collection itself implies (``t`` EM steps on the mean
  profile, Saerens et al. 2002), applied at the power ``a``;
* ``collection source EM a/t``: the same, one prior per training source (WikiArt, museum), every
  artist of a source sharing it: how much the collection resembles each source.

``lda`` fitted on WikiArt's and public_art's fitting paintings, validation collections as
``shared_data.two_source_collections`` sets them up, without and with context (the default design
effect).

    python benchmarks/experiments/artist_priors.py [--seeds 0,1,2]

"""
import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.special import softmax

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data

from shared_data import _embed_shifted, two_source_aucs, two_source_runs, two_source_table
from painter.same_artist.context import DESIGN_EFFECT


def score(E, C, i, j, T, w, log_prior, em=(0, 0), groups=None):
    """``n p_a·p_b + w cos``, ``p = softmax(C / T + log_prior + a log π_EM)``; ``groups`` (one int
    per artist): EM on one prior per group, relative to the group's share of the artists."""
    power, steps = em
    log_pi = np.zeros(C.shape[1])
    for _ in range(steps):
        mass = softmax(C / T + log_prior + log_pi, axis=1).mean(0)
        if groups is not None:
            mass = (np.bincount(groups, mass) / np.bincount(groups))[groups] * C.shape[1]
        log_pi = np.log(mass + 1e-12)
    p = softmax(C / T + log_prior + power * log_pi, axis=1)
    return C.shape[1] * np.einsum("ij,ij->i", p[i], p[j]) + w * np.einsum("ij,ij->i", E[i], E[j])


p = argparse.ArgumentParser()
p.add_argument("--seeds", default="0,1,2")
args = p.parse_args()

rows = []
for seed, c, m, _ in two_source_runs([int(s) for s in args.seeds.split(",")]):
    base, museum, size, Xw, Xp, T, w = m.base, m.museum, m.size, m.Xw, m.Xp, m.T, m.w
    priors = {"none": (0.0, (0, 0), None), **{f"museum -{d}": (np.where(museum, -d, 0.0), (0, 0), None)
                                         for d in (1, 2, 3, np.inf)},
              **{f"size^{g}": (g * np.log(size), (0, 0), None) for g in (0.25, 0.5, 1)},
              **{f"collection EM {a}/{t}": (0.0, (a, t), None) for a, t in ((0.5, 1), (1, 1), (1, 5))},
              **{f"collection source EM {a}/{t}": (0.0, (a, t), museum.astype(int))
                 for a, t in ((0.5, 1), (1, 1), (1, 5))}}
    for effect in (0, DESIGN_EFFECT):
        Ew, Cw = _embed_shifted(base, Xw, effect)
        Ep, Cp = _embed_shifted(base, Xp, effect)
        for name, (log_prior, em, groups) in priors.items():
            rows.append({"seed": seed, "context": bool(effect), "prior": name,
                         **two_source_aucs(c, score(Ew, Cw, c.iw, c.jw, T, w, log_prior, em, groups),
                                score(Ep, Cp, c.ip, c.jp, T, w, log_prior, em, groups))})

            print(rows[-1], flush=True)
print(two_source_table(rows, ["context", "prior"]).to_string(float_format=lambda x: f"{x:.4f}"))
