#!/usr/bin/env bash
# Kernel GPU check (GPU tests, compile step) and the Fig 2/8 benchmark on one H200, in one command.
# Usage (repo root, on the GPU machine): SUITE_COMMIT=<sha> OUT=<dir> bash gpu/h200_kernels.sh [budget_s]
# Each step runs under `timeout` directly (no wrapper process), so a step that overruns is killed
# with its children and cannot steal the GPU from the next one.
set -uo pipefail
budget=${1:-560}
start=$(date +%s)
left() { echo $(( budget - ($(date +%s) - start) )); }
work=/tmp/kwork; rm -rf "$work"; mkdir -p "$work/kcheck" "$work/bench"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD/kernels:$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
finish() { tar czf "$OUT/kcheck.tgz" -C "$work" kcheck; cp "$work"/bench/*.csv "$OUT/" 2>/dev/null; cp "$work"/kcheck/compile_h200.json "$OUT/" 2>/dev/null; }
trap finish EXIT
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv | tee "$work/kcheck/nvidia_smi.txt"
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"

step() {  # step NAME CAP CMD...: run CMD with a time cap, log to kcheck/NAME.log, record rc
  local name=$1 cap=$2; shift 2
  local t; t=$(left); [ "$cap" -lt "$t" ] || cap=$t
  echo "== $name (cap ${cap}s)"; local s=$(date +%s)
  timeout -k 5 "$cap" "$@" > "$work/kcheck/$name.log" 2>&1; local rc=$?
  echo "$name rc=$rc seconds=$(( $(date +%s) - s ))" | tee -a "$work/kcheck/steps.txt"
  tail -4 "$work/kcheck/$name.log"
}
# GPU tests at real sizes (len up to 8192, hd 64/128, bf16, determinism, large values), one
# kernel config each (SIGATTN_AUTOTUNE=0) so that compile time stays inside the lease.
SIGATTN_AUTOTUNE=0 step pytest_gpu 150 python3 -m pytest tests/kernels -q -m gpu -rs -p no:cacheprovider \
  --junitxml="$work/kcheck/pytest_gpu.xml"
step compile 110 python3 workflow/scripts/compile_kernel.py --shapes gpu --out "$work/kcheck/compile_h200.json"
export SIGATTN_CHECK_VALUES=0
t=$(( $(left) - 10 ))
if [ "$t" -gt 30 ]; then
  echo "== bench (cap ${t}s)"
  timeout -k 5 "$t" python3 workflow/scripts/bench_attention.py --out "$work/bench" --head-dim 128 64 --pass fwd bwd \
    > "$work/kcheck/bench.log" 2>&1
  echo "bench rc=$?"; grep -E "^wrote|Traceback" "$work/kcheck/bench.log"
fi
echo "== done in $(( $(date +%s) - start ))s"
