#!/usr/bin/env bash
# Kernel GPU check (tests, compile step, compute-sanitizer) and the Fig 2/8 benchmark on one H200.
# Usage (repo root, on the GPU machine): SUITE_COMMIT=<sha> OUT=<dir> bash gpu/h200_kernels.sh [budget_s]
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
finish() { tar czf "$OUT/kcheck.tgz" -C "$work" kcheck; cp "$work"/bench/*.csv "$OUT/" 2>/dev/null; }
trap finish EXIT
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv | tee "$work/kcheck/nvidia_smi.txt"
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"
for step in pytest compile memcheck; do
  t=$(left); [ "$t" -gt 60 ] || break
  case $step in pytest) cap=240 ;; *) cap=120 ;; esac; [ "$cap" -lt "$t" ] || cap=$t
  echo "== $step (cap ${cap}s)"; timeout "$cap" python3 workflow/scripts/gpu_kernel_check.py "$work/kcheck" "$step"
  echo "rc=$?"
done
export SIGATTN_CHECK_VALUES=0
t=$(( $(left) - 15 ))
if [ "$t" -gt 30 ]; then
  echo "== bench (cap ${t}s)"
  timeout "$t" python3 workflow/scripts/bench_attention.py --out "$work/bench" --head-dim 128 64 --pass fwd bwd \
    2>&1 | tee "$work/kcheck/bench.log" | grep -E "^\[check\]|wrote|Error|error" | tail -60
fi
echo "== done in $(( $(date +%s) - start ))s"
