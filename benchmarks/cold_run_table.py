"""The table of a whole cold run (``benchmarks/cold_run.sh`` runs this at its end): each step's
wall seconds and peak RSS from ``WORK_DIR/times.txt``, the test AUC from ``WORK_DIR/score.txt``
(``painter score``'s output) and the counts of the test pairs and paintings from the cleaned data.

    python benchmarks/cold_run_table.py WORK_DIR COMMAND [--write]
"""
import argparse
from pathlib import Path

import pandas as pd

import results_tables
from shared_data import write_results

p = argparse.ArgumentParser()
p.add_argument("work", type=Path)
p.add_argument("command", help="the cold_run.sh command line, written with the table")
p.add_argument("--write", action="store_true", help="write the table into RESULTS.md (its 'cold-run' section)")
args = p.parse_args()
steps, total = [], None
for line in (args.work / "times.txt").read_text().splitlines():
    step, *figures = line.split()
    if step == "total":
        total = float(figures[0])
    else:   # wall seconds, peak RSS in KB (GNU time's %e %M)
        steps.append((step, float(figures[0]), float(figures[1]) / 1e6))
auc = {}
for line in (args.work / "score.txt").read_text().splitlines():   # "ROC AUC seen     0.9595"
    if line.startswith("ROC AUC"):
        kind, value = line.split()[2:4]
        auc[kind] = float(value)
pairs = pd.read_csv(args.work / "data" / "submission_info.csv")
text = results_tables.cold_run(steps, total, len(set(pairs.image1) | set(pairs.image2)), len(pairs), auc)
print(text)
if args.write:
    write_results("cold-run", text, args.command)
