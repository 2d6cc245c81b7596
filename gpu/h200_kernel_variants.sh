#!/usr/bin/env bash
# Issue #16 kernel-variant call on one H200 (cold Triton cache), one command of <= 9 minutes: our
# kernel's default vs SIGATTN_SIGMOID=fma vs the TMA variant (SIGATTN_TMA=1) vs both, beside
# TritonSigmoid and cuDNN SDPA, hd64 and hd128, forward and backward, L = 1K / 4K / 16K, dense and
# (hd64) 25% padded, 16,384 tokens a batch, do_bench 100/250 ms (PERF.md "v2 candidates").
#   1. beside each other: the compile warm-up of every timed kernel (bench_warm.py, 14 processes,
#      in the order the timed processes need them: our variants at each timed L (the batch changes
#      the compiled kernel), then TritonSigmoid per bucket), the GPU tests of the variants (one
#      config each) and compute-sanitizer over the variants of MEMCHECK (zero-length sequences included);
#   2. one process per variant, in priority order, each capped (bench_variants.py run): every
#      autotune entry of the variant checked against the fp32 reference at the L = 1K shape (a
#      failing entry is pruned before timing; checks/<variant>.csv), then the points timed with
#      the benchmark harness (its own gate first): default (+ cuDNN), tma, fma, TritonSigmoid,
#      tma_fma. A process cut short keeps its rows (.partial.csv);
#   3. parts merged into attention_h200_variants.csv (the benchmark CSV's columns and `repeat`), the
#      checks into variant_checks.csv, logs.tgz, summary.txt (TFLOPS and ratios, then the verdicts
#      of the pre-registered rules and issue #16's targets, bench_variants.py decide; printed last).
# Usage (repo root, GPU machine; .whl/ carried for TritonSigmoid):
#   SUITE_COMMIT=<sha> OUT=<dir> bash gpu/h200_kernel_variants.sh [budget_s=540]
# Knobs (tests, re-runs): RUNS (the process list, "name:variant:impl,impl[:pass,pass] ..."; no
# passes: fwd and bwd), HEAD_DIMS,
# SEQ_LENS, RUN_ARGS / WARM_ARGS (extra arguments), WARM=0, CHECKS=0 (no GPU tests/memcheck),
# CHECK_TESTS / CHECK_K (the GPU tests' files and -k expression), MEMCHECK (variants for
# compute-sanitizer), REPEATS (the process list run that many times, order alternated, a `repeat`
# column in the CSV; each process keeps its cap), REPEAT_FROM (the first repeat's number: a second
# call's parts merge with a first's), PY.
set -uo pipefail
budget=${1:-540}
work=${WORK:-/tmp/variants_call}
source "$(dirname "$0")/call_common.sh"
mkdir -p "$work/parts" "$work/checks"
HEAD_DIMS=${HEAD_DIMS:-64 128}
SEQ_LENS=${SEQ_LENS:-1024 4096 16384}
MEMCHECK=${MEMCHECK-tma tma_fused fused}  # the variants compute-sanitizer runs over (MEMCHECK="": none)
RUNS=${RUNS:-"default:default:ours_dense,ours_padded,cudnn_sdpa tma:tma:ours_dense,ours_padded fma:fma:ours_dense,ours_padded ts:default:tritonsigmoid_dense,tritonsigmoid_padded tma_fma:tma_fma:ours_dense,ours_padded"}
# caps in seconds (upper bounds: a process that finishes early leaves its time to the next); the
# last gets what is left. Expected (CPU estimate, not measured): default ~60, tma ~45, fma ~50,
# ts ~110 (TritonSigmoid re-autotunes ~48 configs per key on a quiet GPU), tma_fma ~45; measured
# (sessions 11-12, three lengths): 29-50 s for each of ours, ts 113 s and more.
declare -A WANT=([default]=75 [tma]=65 [fma]=60 [ts]=120 [tuned]=60 [halley]=60 [mixed]=60 [tma_mixed]=60
              [bf16x2]=60 [tma_bf16x2]=60 [tanh]=60 [fused]=75 [tma_fused]=75 [ws]=75 [wsp]=75
              [qreg]=60 [tma_qreg]=60 [qregf]=60 [kvreg]=60 [wsb]=75 [wsbt]=75 [wsbp]=75)
export TRITON_CACHE_DIR=${TRITON_CACHE_DIR:-$work/triton_cache}  # shared: the warm-up fills it
variants=$(for r in $RUNS; do v=${r#*:}; echo "${v%%:*}"; done | awk '!seen[$0]++' | tr '\n' ' ')  # in RUNS order

finish() {
  stamp "finish"
  if find "$work/parts" -name 'attention_*.csv' | grep -q .; then  # every repeat's parts, a repeat column
    $PY workflow/scripts/bench_variants.py collect "$work/parts" --out "$OUT/attention_h200_variants.csv" > "$work/logs/merge.log" 2>&1
  fi
  mapfile -t checks < <(find "$work/checks" -name '*.csv' | sort)
  [ "${#checks[@]}" -gt 0 ] && awk 'FNR == 1 && NR != 1 {next} {print}' "${checks[@]}" > "$OUT/variant_checks.csv"
  { $PY workflow/scripts/bench_variants.py summary "$work/parts"
    $PY workflow/scripts/bench_variants.py decide "$work/parts" --checks "$OUT/variant_checks.csv"
    cat "$work/logs/merge.log" 2>/dev/null
    cat "$work/logs/steps.txt"; } > "$OUT/summary.txt" 2>&1
  tar czf "$OUT/logs.tgz" -C "$work" logs 2>/dev/null
  show_summary
}
trap finish EXIT

setup_machine

# 1: warm-up beside the variants' GPU tests and memcheck
stamp "warm-up, GPU tests and memcheck of the variants (variants: $variants)"
pids=()
if [ "${WARM:-1}" != 0 ]; then
  hd_parts=(); for hd in $HEAD_DIMS; do hd_parts+=("$hd:bwd:ours_dense"); done
  # shellcheck disable=SC2086
  SIGATTN_AUTOTUNE=full timeout -k 10 "$(cap 150 300)" $PY workflow/scripts/bench_warm.py \
    --parts "${hd_parts[@]}" 64:bwd:tritonsigmoid_dense,tritonsigmoid_padded 128:bwd:tritonsigmoid_dense \
    --seq-lens $SEQ_LENS --variants $variants --jobs 14 --deadline-s "$(cap 140 310)" \
    --log "$work/logs/warm_jobs.csv" --log-dir "$work/logs/warm" -- ${WARM_ARGS:-} > "$work/logs/warm.log" 2>&1 &
  pids+=($!)
fi
if [ "${CHECKS:-1}" != 0 ]; then
  # the GPU-size TMA tests, layouts (packed, zero lengths, NaN padding), the TMA module, bf16 accuracy
  # of both variants' sigmoids; one small config each (the timed configs are checked in step 2)
  # (the newest kernel's file first: a cap cuts the rest, and the step log says so by pytest's rc)
  ( SIGATTN_AUTOTUNE=0 timeout -k 5 "$(cap 150 300)" $PY -m pytest -q -rs -p no:cacheprovider -o addopts= \
    ${CHECK_TESTS:-tests/kernels/test_sigattn_ws.py tests/kernels/test_sigattn_fused.py
    tests/kernels/test_sigattn_gpu.py tests/kernels/test_sigattn_tma.py tests/kernels/test_sigattn_layouts.py
    tests/kernels/test_sigattn_accuracy.py} \
    -k "${CHECK_K:-ws or tma or fused or ((fma or halley or mixed) and bfloat16) or bf16x2 or error_bounds}" \
    > "$work/logs/pytest_variants.log" 2>&1
    echo "pytest rc=$? (124: cut at its cap)" >> "$work/logs/pytest_variants.log" ) &
  pids+=($!)
  # compute-sanitizer over each variant of MEMCHECK (the fused backward's atomics: rows past a
  # sequence's end must receive nothing)
  if [ -n "$MEMCHECK" ]; then
    timeout -k 5 "$(cap 150 300)" $PY workflow/scripts/gpu_kernel_check.py "$work/logs/memcheck" memcheck 140 \
      --variants "$(echo $MEMCHECK | tr ' ' ',')" > "$work/logs/memcheck.out" 2>&1 &
    pids+=($!)
  fi
fi
for p in "${pids[@]}"; do wait "$p"; done
stamp "warm-up done: $(grep -h "^warm:" "$work/logs/warm.log" 2>/dev/null)"
stamp "GPU tests: $(tail -2 "$work/logs/pytest_variants.log" 2>/dev/null | tr '\n' ' '); memcheck: $($PY -c "import json, sys; m = json.load(open(sys.argv[1]))['memcheck']; print(m['rc'], {v: r['rc'] for v, r in m.get('variants', {}).items()})" "$work/logs/memcheck/summary.json" 2>/dev/null)"

# 2: one process per variant, most wanted first; REPEATS > 1 runs the list again in alternating
# order (A B C, C B A, A B C, ...), each repeat's parts under parts/rep<k>/ (bench_variants.py reads
# the repeat from there)
repeats=${REPEATS:-1}
first=${REPEAT_FROM:-1}  # a second call continuing a first's repeats numbers them on (collect: rep<k>)
runs=($RUNS)
for (( k = first; k < first + repeats; k++ )); do
  mapfile -t order < <(alternated "$k" "${runs[@]}")
  for run in "${order[@]}"; do
    IFS=: read -r name variant impls passes <<< "$run"
    t=$(cap "${WANT[$name]:-600}" 12)
    if [ "$t" -lt 25 ]; then stamp "$name (repeat $k): not run (${t}s left)"; continue; fi
    stamp "$name repeat $k/$repeats (variant $variant: ${impls//,/ }; cap ${t}s)"
    mkdir -p "$work/checks/rep$k"
    # shellcheck disable=SC2086
    SIGATTN_AUTOTUNE=full timeout -k 5 "$t" $PY workflow/scripts/bench_variants.py run --variant "$variant" \
      --out "$work/parts/rep$k/$name" --checks "$work/checks/rep$k/$name.csv" --impl ${impls//,/ } --head-dim $HEAD_DIMS \
      --seq-lens $SEQ_LENS ${passes:+--pass ${passes//,/ }} --warmup-ms 100 --rep-ms 250 ${RUN_ARGS:-} \
      > "$work/logs/run_${name}_rep$k.log" 2>&1
    stamp "$name repeat $k rc=$? ($(grep -c '^\[time\]' "$work/logs/run_${name}_rep$k.log") points timed; $(grep -h '^\[variant check\]' "$work/logs/run_${name}_rep$k.log" | tr '\n' ' '))"
  done
done
