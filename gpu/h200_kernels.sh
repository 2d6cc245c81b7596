#!/usr/bin/env bash
# Kernel GPU check (GPU tests, memcheck, compile step) and the Fig 2/8 benchmark on one H200.
# Usage (repo root, on the GPU machine): SUITE_COMMIT=<sha> OUT=<dir> bash gpu/h200_kernels.sh [budget_s]
# Each check is capped (gpu_kernel_check.py kills a step that overruns) so the bench still runs.
# BENCH=0 stops after the checks (and the parallel cache warm-up, WARM=0 skips it); CHECKS=0 skips
# the checks (benchmark top-ups); BENCH_HD and BENCH_PASS pick the benchmark parts. Set TRITON_CACHE_DIR to keep the compiled kernels.
# For the issue #15/#16 benchmark call (paper timing settings, first-call latency, the short-L
# anomaly) use gpu/h200_bench.sh.
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

step() {  # step NAME CAP: one check of workflow/scripts/gpu_kernel_check.py, capped in seconds
  local name=$1 cap=$2
  local t; t=$(left); [ "$cap" -lt "$t" ] || cap=$t
  echo "== $name (cap ${cap}s)"
  python3 workflow/scripts/gpu_kernel_check.py "$work/kcheck" "$name" "$cap"
  echo "$name rc=$?" | tee -a "$work/kcheck/steps.txt"
}
if [ "${CHECKS:-1}" != 0 ]; then
  step pytest 150   # `gpu` tests at real sizes, one kernel config each
  step memcheck 60  # compute-sanitizer over forward + backward
fi
reserve=170; [ "${CHECKS:-1}" = 0 ] && reserve=240  # left after the warm-up: compile step, or bench
warm_cap=$(( $(left) - reserve ))
if [ "${WARM:-1}" != 0 ] && [ "$warm_cap" -gt 30 ]; then
  warm_parts=()
  for hd in ${BENCH_HD:-128 64}; do for p in ${BENCH_PASS:-fwd bwd}; do warm_parts+=("$hd:$p"); done; done
  echo "== warm Triton cache (cap ${warm_cap}s)"; bash gpu/warm_triton_cache.sh "$warm_cap" "${warm_parts[@]}"
fi
[ "${CHECKS:-1}" != 0 ] && step compile 300  # full autotuning of the GPU shapes -> compile_h200.json
[ "${BENCH:-1}" = 0 ] && exit 0
export SIGATTN_CHECK_VALUES=0 SIGATTN_AUTOTUNE=full  # the config column: the autotuner's choices
t=$(( $(left) - 10 ))
if [ "$t" -gt 30 ]; then
  echo "== bench (cap ${t}s)"
  # shellcheck disable=SC2086
  timeout -k 5 "$t" python3 workflow/scripts/bench_attention.py --out "$work/bench" --head-dim ${BENCH_HD:-128 64} --pass ${BENCH_PASS:-fwd bwd} \
    > "$work/kcheck/bench.log" 2>&1
  echo "bench rc=$?"; grep -E "^wrote|Traceback" "$work/kcheck/bench.log"
fi
echo "== done in $(( $(date +%s) - start ))s"
