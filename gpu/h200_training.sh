#!/usr/bin/env bash
# The training experiments on one H200, one per call (each fits a 10-minute command).
# Usage (repo root, GPU machine, tokenised corpora carried in results/data/corpus):
#   SUITE_COMMIT=<sha> OUT=<dir> bash gpu/h200_training.sh main|throughput|stress|lr_sweep
# Writes $OUT/<experiment>.tgz holding train/ (and embed/ for main) as laid out under results/.
# Settings are the default config's (config/config.yaml, train:); training runs one kernel config
# per launch (SIGATTN_AUTOTUNE=0) so compiling does not eat the time box, and skips the kernels'
# host-side value checks (SIGATTN_CHECK_VALUES=0).
set -euo pipefail
experiment=${1:?main, throughput, stress or lr_sweep}
export PYTHONUNBUFFERED=1 SIGATTN_AUTOTUNE=0 SIGATTN_CHECK_VALUES=0
export PYTHONPATH="$PWD/src:$PWD/kernels${PYTHONPATH:+:$PYTHONPATH}"
res=/tmp/res
run() { python3 -m scsigmoid.train.experiments "$experiment" --out "$res" --corpus-dir results/data/corpus "$@"; }
case "$experiment" in
  main)
    datasets=$(ls results/data/corpus | grep -v '^pretrain$')
    # shellcheck disable=SC2086
    run --checkpoint-root /tmp/ckpt --size small --contexts 2048 4096 --steps 600 --batch-size 16 \
        --lr 3e-4 --eval-context 4096 --masking-seeds 0 1 2 --val-max-cells 1000 --datasets $datasets ;;
  throughput) run ;;
  stress) run --stress-seconds 250 ;;
  lr_sweep) run ;;
  *) echo "unknown experiment $experiment" >&2; exit 2 ;;
esac
dirs=train; [ -d "$res/embed" ] && dirs="train embed"
# shellcheck disable=SC2086
tar czf "$OUT/$experiment.tgz" -C "$res" $dirs
