"""Would more than the best artist's score tell unknown painters apart better?

    python benchmarks/experiments/attribution_none_features.py runs/attribution_packaged3/validation

Reads the validation split models that ``benchmarks/recipes/attribution.py`` left in ``--out/validation``
(``runs/pbn_clean``'s training paintings, as ``choose_calibration`` splits them), scores every
questioned painting against its split's reference ("top3" artist scores) and fits a logistic "none"
model on two splits, scored on the third, for several inputs: the best artist's score (what
``AttributionCalibration`` uses), its margin over the second, the best single painting's logit, the best
score's distance to the mean. Validation only; no test painting is read.
"""
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from recipes.calibration_splits import validation_queries
from painter.attribution import group_scores, load_reference
from painter.features import DEFAULT_FEATURES
from painter.same_artist.predict import load_pair_model
from painter.same_artist.training import load_training_images, unseen_first

data, work = Path("runs/pbn_clean"), Path(sys.argv[1])
paths, labels = load_training_images(data)
prefer = unseen_first(labels, DEFAULT_FEATURES)
X, Y = [], []
for seed in (0, 1, 2):
    ref_ids, known, unknown = validation_queries(labels, seed, prefer=prefer)
    split = next(work.glob(f"split{seed}-*"))
    model = load_pair_model(split / "model")
    ref = load_reference(split / "reference", model, progress=False)
    q = np.concatenate([known, unknown])
    Zq, _ = model.embed_files(np.array(paths)[q], progress=False)
    S = Zq @ ref.Z.T + ref.bias
    G = np.sort(group_scores(S, ref.starts, "top3"), axis=1)
    X.append(np.stack([G[:, -1], G[:, -1] - G[:, -2], S.max(1), G[:, -1] - G.mean(1)], 1))
    Y.append(np.r_[np.zeros(len(known)), np.ones(len(unknown))])
for cols, name in (([0], "best"), ([0, 1], "best+margin"), ([0, 2], "best+max painting"), ([0, 1, 2, 3], "all four")):
    aucs = []
    for k in range(3):
        tr = [i for i in range(3) if i != k]
        lr = LogisticRegression(C=10, max_iter=1000).fit(np.concatenate([X[i][:, cols] for i in tr]),
                                                         np.concatenate([Y[i] for i in tr]))
        aucs.append(roc_auc_score(Y[k], lr.decision_function(X[k][:, cols])))
    print(f"{name:20s} none AUC on the held-out split: " + " / ".join(f"{a:.4f}" for a in aucs)
          + f"  mean {np.mean(aucs):.4f}")
