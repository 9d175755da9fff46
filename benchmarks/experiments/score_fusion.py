"""Does the end-to-end Siamese network add to ``lda``? Score fusion of finished runs.

    python benchmarks/experiments/score_fusion.py LDA_RUN SIAMESE_RUN [SIAMESE_RUN ...]

Each run folder is one of ``benchmarks/recipes/finetune.py``'s (same split: the same validation pairs,
checked), with ``validation_pairs.npz`` (validation P(same)) and ``submission.csv`` (pbn_dev test
P(same)). The fused log-odds ``logit p_lda + w · logit p_siamese``; ``w`` is read off the
validation rows only (the mean of seen and unseen AUC); the test columns are reported, not used.
"""
import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import logit
from sklearn.metrics import roc_auc_score

import sys
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data

from shared_data import solution

WEIGHTS = (0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)


def log_odds(p):
    return logit(np.clip(p, 1e-7, 1 - 1e-7))


p = argparse.ArgumentParser()
p.add_argument("lda", type=Path)
p.add_argument("siamese", type=Path, nargs="+")
args = p.parse_args()
runs = [args.lda, *args.siamese]
val = [np.load(run / "validation_pairs.npz") for run in runs]
for run, v in zip(runs[1:], val[1:]):
    if not all(np.array_equal(v[k], val[0][k]) for k in ("i", "j", "paths")):
        raise SystemExit(f"{run}: other validation pairs than {args.lda}'s (another split)")
test = [log_odds(pd.read_csv(run / "submission.csv").sameArtist.to_numpy()) for run in runs]
sol = solution()
same, kind = sol.sameArtist.to_numpy(), sol.pairKind.to_numpy()
v_same, v_kind = val[0]["same"], val[0]["kind"]


def aucs(s_val, s_test):
    return ([roc_auc_score(v_same[v_kind == k], s_val[v_kind == k]) for k in ("seen", "unseen")]
            + [roc_auc_score(same[kind == k], s_test[kind == k]) for k in ("seen", "unseen")])


rows = []
for run, v, t in zip(runs[1:], val[1:], test[1:]):
    for w in WEIGHTS:
        r = aucs(log_odds(val[0]["p"]) + w * log_odds(v["p"]), test[0] + w * t)
        rows.append({"siamese run": str(run), "w": w, "val seen": r[0], "val unseen": r[1],
                     "val mean": (r[0] + r[1]) / 2, "test seen": r[2], "test unseen": r[3]})
table = pd.DataFrame(rows)
print(table.to_string(index=False, float_format="%.4f"))
best = table.loc[table["val mean"].idxmax()]
print(f"chosen on validation: {best['siamese run']} w={best.w}: val mean {best['val mean']:.4f} "
      f"(lda alone {table['val mean'][table.w == 0].iloc[0]:.4f}); "
      f"test {best['test seen']:.4f} / {best['test unseen']:.4f}")
