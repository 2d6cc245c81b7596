#!/usr/bin/env bash
# Issue #16, gpu/README item 14 (either GPU, one command): the Gluon forward against the Triton
# forward at hd128, L >= 4K, timed three ways in each process (bench_diag.py, the current host path):
# do_bench (the protocol), CUDA-graph replays of the same call (GPU time, no launch path) and host
# time a call, with a cProfile of each point's host-time calls (where a launch's host time goes).
#   1. the compile warm-up: one process an arm runs its points at 1-ms timings, discarded (shared
#      TRITON_CACHE_DIR), so that no timed process compiles or autotunes;
#   2. REPEATS (5) rounds, the arms' order alternated (round 1: ARMS as written, round 2 reversed,
#      ...), one process an arm and round (`round` column = the round); with BASELINE_POINTS (cuDNN
#      at hd128 L = 4K / 8K / 16K by default) a process "baselines" (the default variant timing
#      those points) is one more arm, last in round 1;
#   3. diag.csv (every process's rows), profiles.tgz, logs.tgz and summary.txt: the rows, then the
#      rules of bench_variants.DIAG_RULES judged on both timings (bench_variants.py decide-diag).
# Usage (repo root, GPU machine): SUITE_COMMIT=<sha> OUT=<dir> bash gpu/launch_diag.sh [budget_s=240]
# Knobs: ARMS (our kernel's variants, sigattn variant_env names; VARIANT@fixed: that variant with
# bench_diag's --scratch fixed, gpu/README item 15), REPEATS, POINTS (bench_diag
# impl:head_dim:pass:seq_len), BASELINE_POINTS ("": no baselines process), DIAG_ARGS (more
# bench_diag arguments), PROFILE=0 (no cProfile), PY.
set -uo pipefail
budget=${1:-240}
work=${WORK:-/tmp/launch_diag}
source "$(dirname "$0")/call_common.sh"
ARMS=${ARMS:-"ws_bf16x2 bf16x2"}
REPEATS=${REPEATS:-5}
POINTS=${POINTS:-"ours_dense:128:fwd:4096 ours_padded:128:fwd:4096 ours_dense:128:fwd:8192 ours_padded:128:fwd:8192 ours_dense:128:fwd:16384 ours_padded:128:fwd:16384"}
BASELINE_POINTS=${BASELINE_POINTS-"cudnn_sdpa:128:fwd:4096 cudnn_sdpa:128:fwd:8192 cudnn_sdpa:128:fwd:16384"}
[ -n "$BASELINE_POINTS" ] && ARMS="$ARMS baselines"
variant_of() { if [ "$1" = baselines ]; then echo default; else echo "${1%@*}"; fi; }
scratch_of() { case $1 in *@*) echo "--scratch ${1#*@}" ;; esac; }  # an arm VARIANT@SCRATCH
points_of() { if [ "$1" = baselines ]; then echo "$BASELINE_POINTS"; else echo "$POINTS"; fi; }
export TRITON_CACHE_DIR=${TRITON_CACHE_DIR:-$work/triton_cache}
mkdir -p "$work/diag" "$work/profiles"

finish() {
  stamp "finish"
  mapfile -t parts < <(find "$work/diag" -name '*.csv' | sort)
  [ "${#parts[@]}" -gt 0 ] && awk 'FNR == 1 && NR != 1 {next} {print}' "${parts[@]}" > "$OUT/diag.csv"
  { if [ -s "$OUT/diag.csv" ]; then
      $PY -c "import pandas as pd; d = pd.read_csv('$OUT/diag.csv'); print(d[['variant', 'round', 'impl', 'seq_len', \
'ms_median', 'ms_graph', 'ms_graph_p20', 'ms_graph_p80', 'host_ms', 'config', 'status']].to_string(index=False))"
      $PY workflow/scripts/bench_variants.py decide-diag "$OUT/diag.csv"
      $PY workflow/scripts/bench_variants.py graph-gap "$OUT/diag.csv"
      $PY workflow/scripts/bench_variants.py power "$OUT/diag.csv"
    else
      echo "no bench_diag rows came back"
    fi
    cat "$work/logs/steps.txt"; } > "$OUT/summary.txt" 2>&1
  tar czf "$OUT/profiles.tgz" -C "$work" profiles 2>/dev/null
  tar czf "$OUT/logs.tgz" -C "$work" logs 2>/dev/null
  show_summary
}
trap finish EXIT

setup_machine
profile=(); [ "${PROFILE:-1}" = 1 ] && profile=(--profile-dir)
# shellcheck disable=SC2086
for arm in $ARMS; do  # warm-up: compile (and, where the table has no entry, autotune) each arm
  timeout -k 5 "$(cap 120 30)" $PY workflow/scripts/bench_diag.py --modes after --rounds 1 --variant "$(variant_of "$arm")" \
    --points $(points_of "$arm") --warmup-ms 1 --rep-ms 1 --out "$work/warm_${arm/@/_}.csv" $(scratch_of "$arm") ${DIAG_ARGS:-} \
    > "$work/logs/warm_${arm/@/_}.log" 2>&1
  stamp "warm $arm rc=$?"
done
for r in $(seq 1 "$REPEATS"); do
  # shellcheck disable=SC2086
  for arm in $(alternated "$r" $ARMS); do
    if [ "$(left)" -lt 15 ]; then stamp "out of budget before $arm round $r"; break 2; fi
    # shellcheck disable=SC2086
    timeout -k 5 "$(cap 120 10)" $PY workflow/scripts/bench_diag.py --modes after --rounds 1 --first-round "$r" \
      --variant "$(variant_of "$arm")" --points $(points_of "$arm") --out "$work/diag/${arm/@/_}_r$r.csv" \
      ${profile[@]:+"${profile[@]}" "$work/profiles/r$r"} $(scratch_of "$arm") ${DIAG_ARGS:-} > "$work/logs/${arm/@/_}_r$r.log" 2>&1
    stamp "$arm round $r rc=$?"
  done
done
