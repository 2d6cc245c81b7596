#!/usr/bin/env bash
# Issue #15/#16 benchmark call on one H200, cold Triton cache, in one command of <= 9.5 minutes:
#   1. first-call latency of our kernel, full autotuning vs the tuned table (fresh processes, each
#      with its own empty Triton cache), beside
#   2. the parallel cache warm-up for the parts below (bench_warm.py; its log says what it cost);
#   3. the short-sequence anomaly, old vs new host path, in one process (bench_diag.py);
#   4. benchmark parts at the configured do_bench settings (config/config.yaml bench.warmup_ms /
#      rep_ms: the paper's 100/250 ms), one process each, in priority order:
#      hd64 fwd, hd64 bwd, hd128 bwd, hd128 fwd (as time allows). Rows are appended as measured
#      (.partial.csv); a part that fails or runs out of time keeps its rows and the next one runs.
# Every script takes its shapes and do_bench settings from config/config.yaml (bench:) unless
# told otherwise. Our kernel runs with SIGATTN_AUTOTUNE=full in 3-4: its `config` column is the
# autotuner's choice per shape (sigattn.tuned takes its table from such rows).
# Usage (repo root, GPU machine): SUITE_COMMIT=<sha> OUT=<dir> bash gpu/h200_bench.sh [budget_s]
# Writes under $OUT: bench_parts.tgz (parts/), logs.tgz (logs/), diag.csv, first_call_full.csv,
# first_call_table.csv, summary.txt; prints summary.txt last.
# Knobs (tests, re-runs): PARTS="64:fwd 64:bwd 128:bwd 128:fwd", each HD:PASS[:IMPL,IMPL...][@L,L...]
# (that part's own implementations and lengths, e.g. 64:fwd:ours_dense,ours_padded@512,1024);
# BENCH_IMPLS (one list for every part without its own), SKIP_DONE (CSVs or folders of earlier
# parts, e.g. a previous call's /tmp/bench_call/parts on a machine still warm: the points they
# measured at the same do_bench settings are not measured again; a missing path measures all),
# WARM_PARTS, BENCH_ARGS / DIAG_ARGS / FIRST_CALL_ARGS / WARM_ARGS (extra arguments),
# CAPS="HD:PASS=SECONDS ..." (each such part's time cap; defaults 64:fwd 100, 64:bwd 150, 128:* 600),
# FIRST_CALL=0, DIAG=0, WARM=0 (skip a step), PY (python), WORK (the work folder, /tmp/bench_call).
set -uo pipefail
budget=${1:-540}
work=${WORK:-/tmp/bench_call}
source "$(dirname "$0")/call_common.sh"
mkdir -p "$work/parts"

finish() {
  stamp "finish"
  tar czf "$OUT/bench_parts.tgz" -C "$work" parts 2>/dev/null
  cp "$work"/diag.csv "$work"/first_call_*.csv "$OUT/" 2>/dev/null
  tar czf "$OUT/logs.tgz" -C "$work" logs 2>/dev/null
  $PY workflow/scripts/bench_summary.py "$work" > "$OUT/summary.txt" 2>&1
  show_summary
}
trap finish EXIT

setup_machine

# 1 + 2: first-call latency (2 processes) beside the cache warm-up (14 processes)
stamp "warm-up and first-call latency"
pids=()
if [ "${WARM:-1}" != 0 ]; then
  # shellcheck disable=SC2086
  SIGATTN_AUTOTUNE=full timeout -k 10 "$(cap 130 300)" $PY workflow/scripts/bench_warm.py \
    --parts ${WARM_PARTS:-128:fwd:ours 64:bwd 128:bwd} --jobs 14 --deadline-s "$(cap 120 310)" \
    --log "$work/logs/warm_jobs.csv" --log-dir "$work/logs/warm" -- ${WARM_ARGS:-} \
    > "$work/logs/warm.log" 2>&1 &
  pids+=($!)
fi
if [ "${FIRST_CALL:-1}" != 0 ]; then
  for mode in full table; do
    # shellcheck disable=SC2086
    TRITON_CACHE_DIR=$(mktemp -d) SIGATTN_AUTOTUNE=$mode timeout -k 5 "$(cap 150 300)" \
      $PY workflow/scripts/bench_first_call.py --out "$work/first_call_$mode.csv" \
      --note "cold private Triton cache; beside the parallel cache warm-up" ${FIRST_CALL_ARGS:-} \
      > "$work/logs/first_call_$mode.log" 2>&1 &
    pids+=($!)
  done
fi
for p in "${pids[@]}"; do wait "$p"; done
stamp "warm-up and first-call done: $(grep -h "^warm:" "$work/logs/warm.log" 2>/dev/null)"
cat "$work"/logs/first_call_*.log 2>/dev/null | grep -E "^mode=|Error" | head -4

# 3: the anomaly, before/after, one process
if [ "${DIAG:-1}" != 0 ] && [ "$(left)" -gt 200 ]; then
  stamp "diag (cap $(cap 60 200)s)"
  # shellcheck disable=SC2086
  timeout -k 5 "$(cap 60 200)" $PY workflow/scripts/bench_diag.py --out "$work/diag.csv" ${DIAG_ARGS:-} \
    > "$work/logs/diag.log" 2>&1
  stamp "diag rc=$?"
fi

# 4: benchmark parts, most wanted first; each capped so the next still gets its turn
IMPLS_FWD="ours_dense ours_padded ours_varlen tritonsigmoid_dense tritonsigmoid_padded cudnn_sdpa fa2_dense fa2_varlen eager_sigmoid ours_dense_trainbias ours_dense_causal flash_attn_dense flash_attn_varlen flashsigmoid"
IMPLS_BWD="ours_dense ours_padded ours_varlen eager_sigmoid tritonsigmoid_dense tritonsigmoid_padded cudnn_sdpa fa2_dense fa2_varlen ours_dense_trainbias ours_dense_causal flash_attn_dense flash_attn_varlen flashsigmoid"
declare -A WANT=([64:fwd]=100 [64:bwd]=150 [128:bwd]=600 [128:fwd]=600)
for kv in ${CAPS:-}; do WANT[${kv%%=*}]=${kv#*=}; done  # e.g. CAPS="128:bwd=200 64:fwd=150"
n=0
for spec in ${PARTS:-64:fwd 64:bwd 128:bwd 128:fwd}; do
  lens=""; [[ $spec == *@* ]] && lens=${spec#*@} && spec=${spec%@*}
  IFS=: read -r hd pass own <<< "$spec"
  impls=${own:+${own//,/ }}
  impls=${impls:-${BENCH_IMPLS:-$([ "$pass" = bwd ] && echo "$IMPLS_BWD" || echo "$IMPLS_FWD")}}
  n=$((n + 1)); name=hd${hd}_${pass}_$n; sub="$work/parts/$n"  # a part per folder: one (hd, pass) may come twice
  t=$(cap "${WANT[$hd:$pass]:-600}" 15)
  if [ "$t" -lt 30 ]; then stamp "part $name: not run (${t}s left)"; continue; fi
  stamp "part $name${own:+ ($own)}${lens:+ at L=$lens} (cap ${t}s)"
  # shellcheck disable=SC2086
  SIGATTN_AUTOTUNE=full timeout -k 5 "$t" $PY workflow/scripts/bench_attention.py --out "$sub" \
    --head-dim "$hd" --pass "$pass" --impl $impls ${lens:+--seq-lens ${lens//,/ }} \
    ${SKIP_DONE:+--skip-done $SKIP_DONE} ${BENCH_ARGS:-} > "$work/logs/bench_$name.log" 2>&1
  stamp "part $name rc=$? ($(grep -c '^\[time\]' "$work/logs/bench_$name.log") points timed)"
done
