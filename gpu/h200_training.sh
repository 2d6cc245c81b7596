#!/usr/bin/env bash
# The training experiments on one H200, one per call (each fits a 10-minute command). Every setting
# comes from config/config.yaml (read by scsigmoid.config, the same file the DAG reads).
# Usage (repo root, GPU machine, tokenised corpora carried in results/data/corpus, wheels in .whl):
#   SUITE_COMMIT=<sha> OUT=<dir> bash gpu/h200_training.sh throughput [SIZE...]   -> $OUT/throughput_<sizes>{,_steps}.csv + _gpu_clocks.log (nvidia-smi)
#   SUITE_COMMIT=<sha> OUT=<dir> bash gpu/h200_training.sh main                   -> $OUT/main.tgz.part-*
#   SUITE_COMMIT=<sha> OUT=<dir> bash gpu/h200_training.sh stress|lr_sweep        -> $OUT/<experiment>.tgz
#   SUITE_COMMIT=<sha> OUT=<dir> bash gpu/h200_training.sh profile SIZE:WORKLOAD:CONTEXT...  -> $OUT/profile.csv
#   SUITE_COMMIT=<sha> OUT=<dir> bash gpu/h200_training.sh bundle RUN...           -> $OUT/bundle/ (a later call on the
#     same warm machine: the main runs' checkpoints in CKPT_ROOT as bf16 xz parts + manifest, scsigmoid.train.bundle)
# BUDGET (s, default 570) caps the experiment; what finished is written before the cap.
# CONFIGFILE: an overlay (as snakemake --configfile), e.g. for a smoke test on a CPU.
# SKIP: throughput parts of earlier calls (carried); their completed points are not measured again.
# CORPUS_DIR, RES, CKPT_ROOT: where the corpora, the results and the checkpoints are (defaults:
# results/data/corpus, /tmp/res, /tmp/ckpt), e.g. for the CPU smoke test.
# Main runs use one kernel config per launch (SIGATTN_AUTOTUNE=0): twelve small models train at
# once and compiling must not eat their time box; the throughput protocol autotunes in its warm-up.
set -uo pipefail
experiment=${1:?throughput, main, stress or lr_sweep}; shift
: "${OUT:?set OUT}" "${SUITE_COMMIT:?set SUITE_COMMIT (the tree has no .git)}"
budget=${BUDGET:-570}
export PYTHONUNBUFFERED=1 TRITON_CACHE_DIR=${TRITON_CACHE_DIR:-/tmp/triton_cache}
export PYTHONPATH="$PWD/src:$PWD/kernels${PYTHONPATH:+:$PYTHONPATH}"
wheels=$(ls .whl/*.whl .carry/*.whl 2>/dev/null)  # jsonschema (config validation), triton-sigmoid
if [ -n "$wheels" ]; then
  # shellcheck disable=SC2086
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site $wheels \
    && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
# the corpora travel packed (the 64 MiB transfer limit): .carry/corpus.{txz,tgz} holds results/data/corpus
# (all of it for main; corpus/pretrain alone is enough for throughput and profile)
# (CORPUS_DIR: tokenised corpora elsewhere, e.g. a smoke test's)
corpus=${CORPUS_DIR:-results/data/corpus}
if [ ! -d "$corpus/pretrain" ]; then
  mkdir -p results/data
  if [ -f .carry/corpus.txz ]; then tar xJf .carry/corpus.txz -C results/data; else tar xzf .carry/corpus.tgz -C results/data; fi
fi
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv | tee "$OUT/nvidia_smi.txt"
cfg=(--config config/config.yaml ${CONFIGFILE:+--configfile "$CONFIGFILE"})
res=${RES:-/tmp/res}; mkdir -p "$res"
case "$experiment" in
  throughput)
    tag=$(echo "${*:-all}" | tr ' .' '_p')
    # the GPU's clocks, power and throttle reasons beside the timed steps (their start times are in the steps CSV)
    smi=""
    if command -v nvidia-smi > /dev/null; then
      nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_event_reasons.active \
        --format=csv -lms 500 > "$OUT/throughput_${tag}_gpu_clocks.log" 2>&1 & smi=$!
    fi
    timeout -k 10 "$budget" python3 -m scsigmoid.train.throughput measure "${cfg[@]}" \
      --corpus "$corpus/pretrain" --out "$OUT/throughput_$tag.csv" ${1:+--sizes "$@"} \
      --steps-out "$OUT/throughput_${tag}_steps.csv" ${SKIP:+--skip $SKIP} 2>&1 | tee "$OUT/throughput_$tag.log"
    # nvidia-smi writes its log through a block buffer, flushed when it exits: wait for that before
    # reading it (session 10's call read it while it was still running and found no sample in any round)
    [ -n "$smi" ] && kill "$smi" 2>/dev/null && wait "$smi" 2>/dev/null
    if [ ! -f "$OUT/throughput_$tag.csv" ]; then
      echo "throughput: no point measured (every point in SKIP, or none finished within BUDGET=$budget s)"
      exit 0
    fi
    if [ -n "$smi" ]; then
      python3 -m scsigmoid.train.throughput clocks "$OUT/throughput_$tag.csv" --steps "$OUT/throughput_${tag}_steps.csv" \
        --clocks "$OUT/throughput_${tag}_gpu_clocks.log" --out "$OUT/throughput_$tag.csv"
    fi
    python3 - "$OUT/throughput_$tag.csv" <<'EOF'
import sys, pandas as pd
from scsigmoid.train.throughput import gain_table
df = pd.read_csv(sys.argv[1]); ok = df[df.status == "ok"]
print(ok.groupby(["size", "workload", "context", "arm"])[["tokens_per_s", "mfu", "host_syncs_per_step", "host_issue_ms_median",
      "step_ms_mean", "kernel_ms_per_step", "audit_wall_ms_per_step", "device_allocs", "alloc_retries"]].median().round(3).to_string())
print(gain_table(df)[["size", "workload", "context", "arm", "gain_median", "gain_q25", "gain_q75", "kernel_gain"]].round(4).to_string())
EOF
    ;;
  main)
    # PARALLEL runs share the GPU: a small run peaks at 25-32 GiB on its longest batches (12 at once
    # ran out of memory on 2026-12-03; steps that do are retried, train.oom_retries). CONTEXTS: only
    # the runs at these contexts (the grid split over calls, the evaluation context first).
    export SIGATTN_AUTOTUNE=0 OMP_NUM_THREADS=1 PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
    # shellcheck disable=SC2086
    timeout -k 10 "$budget" python3 -m scsigmoid.train.experiments main "${cfg[@]}" \
      --out "$res" --corpus-dir "$corpus" --checkpoint-root "${CKPT_ROOT:-/tmp/ckpt}" --parallel "${PARALLEL:-6}" \
      ${CONTEXTS:+--contexts $CONTEXTS} 2>&1 | tee "$OUT/main.log"
    tail -n 3 "$res"/logs/*.log > "$OUT/main_runs_tail.log" 2>/dev/null
    tar czf - -C "$res" train embed logs | split -b 15M - "$OUT/main.tgz.part-"
    python3 - "$res" <<'EOF'
import json, sys, pathlib
for p in sorted(pathlib.Path(sys.argv[1], "train", "runs").glob("*/summary.json")):
    s = json.loads(p.read_text())
    print(f"{s['run']:28s} steps {s['steps_done']:6d} {s['stop_reason']:9s} best {s['best_step']} "
          f"val {s['best_val_loss'] and round(s['best_val_loss'], 4)} train_s {s['train_seconds_this_call']:.0f}")
EOF
    ;;
  profile)  # where a throughput step's GPU time goes (attention / matmul / optimizer / other)
    timeout -k 10 "$budget" python3 -m scsigmoid.train.throughput profile "${cfg[@]}" \
      --corpus "$corpus/pretrain" --out "$OUT/profile.csv" --points "$@" 2>&1 | tee "$OUT/profile.log" ;;
  bundle)  # weights only, bf16, xz: a small pair ~50 MB in parts of 15 MiB (8 files, 64 MiB come back)
    timeout -k 10 "$budget" python3 -m scsigmoid.train.bundle pack "$@" --checkpoint-root "${CKPT_ROOT:-/tmp/ckpt}" \
      --out "$OUT/bundle" 2>&1 | tee "$OUT/bundle.log" ;;
  stress)
    timeout -k 10 "$budget" python3 -m scsigmoid.train.experiments stress "${cfg[@]}" \
      --corpus-dir "$corpus" --out-csv "$res/train/stress_h200.csv" 2>&1 | tee "$OUT/stress.log"
    tar czf "$OUT/stress.tgz" -C "$res" train ;;
  lr_sweep)
    timeout -k 10 "$budget" python3 -m scsigmoid.train.experiments lr_sweep "${cfg[@]}" \
      --corpus-dir "$corpus" --out "$res" --out-csv "$res/train/lr_sweep_h200.csv" 2>&1 | tee "$OUT/lr_sweep.log"
    tar czf "$OUT/lr_sweep.tgz" -C "$res" train ;;
  *) echo "unknown experiment $experiment" >&2; exit 2 ;;
esac
