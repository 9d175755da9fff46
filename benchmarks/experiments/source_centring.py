"""Should each training source be centred on its own mean before the fit? Validation only.

Context takes a collection's mean off the projection. The packaged model's museum artists were
learned from photographs that sat, uncentred, at their source's offset from WikiArt's paintings.
Centring each source on its own mean before the fit (as AdaBN normalises each domain by its own
statistics) puts their means where a context-adapted collection's paintings land; questions without
context are centred on WikiArt's mean. ``half`` takes off half of each source's mean.

``lda`` fitted on WikiArt's and public_art's fitting paintings, validation collections as
``shared_data.two_source_collections`` sets them up, without and with context (the default design
effect).

    python benchmarks/experiments/source_centring.py [--seeds 0,1,2]

"""
import argparse
import sys
from pathlib import Path

import keras
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data

from shared_data import _embed_shifted, two_source_aucs, two_source_collections, two_source_features, two_source_table
from painter.same_artist.context import DESIGN_EFFECT, PROJECTION
from painter.same_artist.lda import choose_scorer, lda_projection, profile_score

p = argparse.ArgumentParser()
p.add_argument("--seeds", default="0,1,2")
args = p.parse_args()
seeds = [int(s) for s in args.seeds.split(",")]
_, labels, F, mask, splits, _, pa_labels, P = two_source_features(seeds)
for X in (F, P):   # the log of the stds first, so that the centring is that of the columns LDA reads
    X[:, mask] = np.log(np.maximum(X[:, mask], 1e-6))

rows = []
for seed, split in zip(seeds, splits):
    c = two_source_collections(labels, split, pa_labels, seed)
    names, y = np.unique(np.concatenate([labels[c.fit], pa_labels[c.pa_fit]]), return_inverse=True)
    # float64 sums: a float32 mean is off by more than the spread of the near-constant columns
    mean_w = F[c.fit].mean(0, dtype=np.float64).astype(np.float32)
    mean_p = P[c.pa_fit].mean(0, dtype=np.float64).astype(np.float32)
    for centring, share in (("pooled (default)", 0.0), ("half", 0.5), ("per source", 1.0)):
        X = np.vstack([F[c.fit] - share * mean_w, P[c.pa_fit] - share * mean_p])
        base = lda_projection(X, y, len(names), overwrite=True)
        project = keras.Model(base.input, base.get_layer(PROJECTION).output)
        Xw = project.predict(F[c.rows_w] - share * mean_w, batch_size=1024, verbose=0)
        Xp = project.predict(P[c.pa_val] - share * mean_w, batch_size=1024, verbose=0)
        T, w, _ = choose_scorer(*_embed_shifted(base, Xw, 0), c.iw, c.jw, c.same, c.kind)
        for effect in (0, DESIGN_EFFECT):
            rows.append({"seed": seed, "centring": centring, "context": bool(effect),
                         **two_source_aucs(c, profile_score(*_embed_shifted(base, Xw, effect), c.iw, c.jw, T, w),
                                profile_score(*_embed_shifted(base, Xp, effect), c.ip, c.jp, T, w))})

            print(rows[-1], flush=True)
print(two_source_table(rows, ["centring", "context"]).to_string(float_format=lambda x: f"{x:.4f}"))
