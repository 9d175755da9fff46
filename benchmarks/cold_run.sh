#!/bin/bash
# Whole run from an empty cache on pbn_dev: clean -> train -> submit -> score, each step timed
# (wall seconds and peak RSS, in WORK_DIR/times.txt); cold_run_table.py prints the table and, with
# --write, puts it in RESULTS.md. Usage: bash benchmarks/cold_run.sh [--write] [WORK_DIR [TRAIN OPTIONS...]]
# e.g. bash benchmarks/cold_run.sh /tmp/cold --zoom 2,1 --base runs/base_model_zoom/base
set -eo pipefail
cd "$(dirname "$0")/.."
ARGS="$*"
WRITE=
if [ "$1" = --write ]; then WRITE=--write; shift; fi
KAGGLE=../shared/data/pbn_dev
WORK=${1:-/tmp/painter_cold}
case $WORK in -*) echo "usage: bash benchmarks/cold_run.sh [--write] [WORK_DIR [TRAIN OPTIONS...]]" >&2; exit 2;; esac
shift || true                          # the rest: options of painter train
export PAINTER_CACHE=$WORK/cache       # empty: ImageNet weights are converted too
rm -rf "$WORK" && mkdir -p "$WORK"
T() { step=$1; shift; /usr/bin/time -a -o "$WORK/times.txt" -f "$step %e %M" "$@"; }
start=$(date +%s)
T clean .venv/bin/painter clean $KAGGLE --out "$WORK/data"
T train .venv/bin/painter train "$WORK/data" --out "$WORK/model" "$@"
T submit .venv/bin/painter submit "$WORK/model" "$WORK/data" "$WORK/data/submission_info.csv" --out "$WORK/submission.csv"
T score .venv/bin/painter score "$WORK/submission.csv" $KAGGLE/solution_painter.csv | tee "$WORK/score.txt"
echo "total $(( $(date +%s) - start ))" >> "$WORK/times.txt"
.venv/bin/python benchmarks/cold_run_table.py "$WORK" "bash benchmarks/cold_run.sh $ARGS" $WRITE
