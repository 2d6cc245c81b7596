#!/usr/bin/env bash
# The kernel tests on one GPU (H100 or H200), one command of ~5 minutes: all of tests/kernels
# compiled (what the CPU suite runs under Triton's interpreter, plus the gpu-marked tests at real
# sizes), split over JOBS pytest processes side by side with compute-sanitizer memcheck of each
# kernel variant of VARIANTS (workflow/scripts/gpu_kernel_check.py), one config per test
# (SIGATTN_AUTOTUNE=0).
# Usage (repo root, GPU machine; .carry/ or .whl/ wheels for TritonSigmoid):
#   SUITE_COMMIT=<sha> OUT=<dir> bash gpu/kernel_tests.sh [budget_s=330]
# Writes under $OUT: env.txt (GPU, versions, commit), pytest_gpu_<i>.{log,xml}, memcheck_<v>.log,
# summary.json (rc and test counts per step), steps.log. Knobs: JOBS (6), VARIANTS
# (default,fused,tma_fused), ALL_TESTS=0 (the gpu-marked tests only), PY.
set -uo pipefail
budget=${1:-330}
work=${WORK:-/tmp/kernel_tests}
source "$(dirname "$0")/call_common.sh"
setup_machine
{ cat "$work/logs/env.txt"; echo "commit $SUITE_COMMIT"; date -u +%F; } > "$OUT/env.txt"
all=(--all-tests); [ "${ALL_TESTS:-1}" = 0 ] && all=()
$PY workflow/scripts/gpu_kernel_check.py "$OUT" pytest,memcheck "$(( budget - 15 ))" --jobs "${JOBS:-6}" \
  "${all[@]}" --variants "${VARIANTS:-default,fused,tma_fused}" > "$OUT/steps.log" 2>&1
rc=$?
echo "gpu_kernel_check rc=$rc" >> "$OUT/steps.log"
tail -n 2 "$OUT"/pytest_gpu_*.log; tail -c 2500 "$OUT/steps.log"
exit $rc
