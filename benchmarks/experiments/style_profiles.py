"""Do profiles of styles, genres or periods add to the artist profile on unseen artists?
Validation only.

Styles are shared across painters (Baroque, Impressionism, ...), so a nearest-class-mean classifier
over the paintings' style labels (``all_data_info.csv``'s and ``wikiart_extra/labels.csv``'s
``style`` column; genres and quarter-century periods from ``all_data_info.csv`` alone) might carry
over to new artists where the artist profile does not. For each split of the training paintings
(the held-out artists chosen as ``painter train`` chooses them: first those the packaged backbones
never saw), every profile is fitted on the fitting paintings only:

    score = n p_a·p_b + w cos(e_a, e_b)          (the default lda score, T and w chosen as it does)
          + Σ_k v_k · m_k q_a·q_b                (q = softmax of label k's LDA class cosines / 0.2)

and the mean validation AUC (seen / unseen pairs) over the splits is printed for a grid of the
three weights ``v_k``. No test painting is read.

    python benchmarks/experiments/style_profiles.py [--data runs/pbn_clean] [--also ../shared/data/wikiart_extra]
                                                    [--seeds 0,1,2]
"""
import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import softmax

import sys
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data

from shared_data import RUNS, default_features_and_splits, default_pair_scores, seen_unseen_auc
from painter.same_artist.lda import lda_projection

p = argparse.ArgumentParser()
p.add_argument("--data", default=str(RUNS / "pbn_clean"))
p.add_argument("--also", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "wikiart_extra"))
p.add_argument("--seeds", default="0,1,2")
args = p.parse_args()

paths, labels, F, mask, splits = default_features_and_splits([args.data, args.also],
                                                             [int(s) for s in args.seeds.split(",")])
info = pd.read_csv(Path(args.data) / "all_data_info.csv", dtype=str, keep_default_na=False)
extra = pd.read_csv(Path(args.also) / "labels.csv", dtype=str, keep_default_na=False)
info["file"] = [str(Path(args.data) / "train" / f) for f in info.new_filename]
extra["file"] = [str(Path(args.also) / f) for f in extra.file]
year = pd.to_numeric(info["date"].str.extract(r"(\d{4})")[0], errors="coerce")
info["period"] = np.where(year.notna(), (year // 25 * 25).astype("Int64").astype(str), "")   # quarter-centuries
meta = pd.concat([info[["file", "style", "genre", "period"]], extra[["file", "style"]]])
meta = meta.fillna("").drop_duplicates("file").set_index("file")
kinds = {k: meta[k].reindex(paths).fillna("").to_numpy() for k in ("style", "genre", "period")}
print(f"{len(paths)} paintings, {len(set(labels))} artists; " + ", ".join(
    f"{k} known for {(v != '').mean():.3f} ({len(set(v) - {''})} values)" for k, v in kinds.items()))


def label_profile(F, fit, values, temperature):
    """``(n, m)`` softmax profiles of a nearest-class-mean classifier over ``values`` (fitting rows
    with a value; values with fewer than 5 fitting paintings dropped)."""
    rows = fit[values[fit] != ""]
    _, y = np.unique(values[rows], return_inverse=True)
    keep = np.isin(y, np.flatnonzero(np.bincount(y) >= 5))
    _, y = np.unique(y[keep], return_inverse=True)
    _, C = lda_projection(F[rows[keep]], y, y.max() + 1, log_columns=mask).predict(F, batch_size=4096, verbose=0)
    return softmax(C / temperature, axis=1)


GRID = (0.0, 0.05, 0.1, 0.2)
rows = []
for seed, split in zip(args.seeds.split(","), splits):
    fit, i, j, same, kind = split
    base, _, _ = default_pair_scores(F, mask, labels, split)
    pair_terms = {}
    for k, values in kinds.items():
        Q = label_profile(F, fit, values, 0.2)
        pair_terms[k] = Q.shape[1] * np.einsum("ij,ij->i", Q[i], Q[j])
        alone = seen_unseen_auc(pair_terms[k], same, kind)["unseen"]
        print(f"split {seed}: {k} profile alone ({Q.shape[1]} values): unseen AUC {alone:.4f}", flush=True)
    for vs in GRID:
        for vg in GRID:
            for vp in GRID:
                s = base + vs * pair_terms["style"] + vg * pair_terms["genre"] + vp * pair_terms["period"]
                rows.append({"seed": seed, "v_style": vs, "v_genre": vg, "v_period": vp,
                             **seen_unseen_auc(s, same, kind)})
table = pd.DataFrame(rows).groupby(["v_style", "v_genre", "v_period"])[["seen", "unseen"]].mean()
table["mean"] = table.mean(axis=1)
print(table.sort_values("mean", ascending=False).head(12).round(4).to_string())
print(table.loc[[(0.0, 0.0, 0.0), (0.1, 0.0, 0.0), (0.0, 0.1, 0.0), (0.0, 0.0, 0.1)]].round(4).to_string())
