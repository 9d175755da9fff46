#!/bin/bash
# Whole run from an empty cache on pbn_dev: clean -> train -> submit -> score, each step timed
# (wall seconds and peak RSS in KB). Usage: bash benchmarks/cold_run.sh [WORK_DIR [TRAIN OPTIONS...]]
# e.g. bash benchmarks/cold_run.sh /tmp/cold --zoom 2,1 --base runs/base_model_zoom/base
set -e
cd "$(dirname "$0")/.."
KAGGLE=../shared/data/pbn_dev
WORK=${1:-/tmp/painter_cold}
case $WORK in -*) echo "usage: bash benchmarks/cold_run.sh [WORK_DIR [TRAIN OPTIONS...]]" >&2; exit 2;; esac
shift || true                          # the rest: options of painter train
export PAINTER_CACHE=$WORK/cache       # empty: ImageNet weights are converted too
rm -rf "$WORK" && mkdir -p "$WORK"
T="/usr/bin/time -f %e_s_%M_KB"
start=$(date +%s)
$T .venv/bin/painter clean $KAGGLE --out "$WORK/data"
$T .venv/bin/painter train "$WORK/data" --out "$WORK/model" "$@"
$T .venv/bin/painter submit "$WORK/model" "$WORK/data" "$WORK/data/submission_info.csv" --out "$WORK/submission.csv"
$T .venv/bin/painter score "$WORK/submission.csv" $KAGGLE/solution_painter.csv
echo "TOTAL $(( $(date +%s) - start )) s"
