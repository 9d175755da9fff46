"""The same-artist accuracy of every method on pbn_dev, seen and unseen apart (RESULTS.md: Methods).

For each method: clean (cached) -> train on training images only, without a base model -> submit
all 384,183 test pairs -> score against solution_painter.csv (used only here, for the report).

    python benchmarks/accuracy.py [--methods lda,lda-lite0,cosface,bce,contrastive,triplet] [--data runs/pbn_clean]
                                  [--write]

A method may carry options after dashes (see OPTIONS): lda-lite0 = lda on Lite0 features alone.
"""
import argparse
import json
import resource
import time

import results_tables
from shared_data import RUNS, clean_pbn_dev, submit_and_score, write_results
from painter.features import DEFAULT_FEATURES, FeatureSpec
from painter.same_artist.training import train

# "method-option-option": a train() method with options away from its defaults
# (ImageNet weights: only Lite0 and Lite1 have artist-tuned ones, the default)
OPTIONS = {"lite0": {"spec": FeatureSpec("efficientnet_lite0")},
           "lite02": {"spec": FeatureSpec("efficientnet_lite0+efficientnet_lite2")},
           "nolog": {"log_std": False},
           "pca256": {"pca_dim": 256}}
p = argparse.ArgumentParser()
p.add_argument("--methods", default="lda,lda-lite0,lda-lite02,lda-nolog,cosface,bce,contrastive,triplet")
p.add_argument("--data", default=str(RUNS / "pbn_clean"))
p.add_argument("--out", default=str(RUNS / "accuracy"))
p.add_argument("--write", action="store_true", help="write the table into RESULTS.md (its 'accuracy' section)")
args = p.parse_args()
start = t = time.time()
data = clean_pbn_dev(args.data)
print(f"clean: {time.time() - t:.1f} s")
rows = []
for method in args.methods.split(","):
    name, *options = method.split("-")
    kwargs = {k: v for o in options for k, v in OPTIONS[o].items()}
    out = f"{args.out}/{method}"
    t = time.time()
    model = train(data, out, method=name, base="none", progress=False, **kwargs)   # the methods alone
    t_train = time.time() - t
    t = time.time()
    m, _ = submit_and_score(out, data, model.threshold)
    t_submit = time.time() - t
    row = {"method": method, "threshold": model.threshold, "seen AUC": m["seen"]["auc"],
           "unseen AUC": m["unseen"]["auc"], "all AUC": m["all"]["auc"],
           "seen acc": m["seen"]["accuracy"], "unseen acc": m["unseen"]["accuracy"],
           "val seen AUC": model.info["validation"]["seen"]["auc"],
           "val unseen AUC": model.info["validation"]["unseen"]["auc"],
           "train s": round(t_train, 1), "submit s": round(t_submit, 1)}
    rows.append(row)
    print(json.dumps(row), flush=True)
text = results_tables.accuracy(rows, DEFAULT_FEATURES.weights, time.time() - start,
                               resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(text)
if args.write:
    write_results("accuracy", text)
