#!/usr/bin/env bash
# Nsight Compute over benchmark points, one command of ~2-4 minutes (gpu/README "Next" item 5):
# each point in its own process (workflow/scripts/bench_profile.py: the call made ready outside the
# profiler range, then CALLS calls inside it), `ncu --clock-control none --profile-from-start off`
# recording only those kernels. The default points: hd128 at L = 16K, dense and padded, forward and
# backward: the padded ÷ dense gap that kernels/PERF.md "Session 19" puts at the last wave; then the
# hd128 forward of TritonSigmoid and cuDNN at the same point, beside ours (issue #16's limit: issue
# slots, warp stalls, occupancy of the three kernels), as time allows.
# Usage (repo root, GPU machine with ncu; the tuned table gives each launch its config):
#   SUITE_COMMIT=<sha> OUT=<dir> bash gpu/profile_points.sh [budget_s=300]
# Writes under $OUT: env.txt, ncu_<point>.csv (ncu's details page: one row a metric of each kernel,
# with the point and the profiled process's provenance; ncu's own logs in logs.tgz),
# points.csv (what each process ran: shape, lengths, launch config), summary.txt (the launch and
# occupancy metrics of each kernel, printed last), logs.tgz. Knobs: POINTS, CALLS (1), SECTIONS,
# NCU (the profiler's command), PROFILE_ARGS (extra bench_profile.py arguments), GRAPH=1 (each point
# profiled twice: eager calls, then replays of its CUDA graph, ncu_<point>_graph.csv; gpu/README item 15), PY.
set -uo pipefail
budget=${1:-300}
work=${WORK:-/tmp/profile_points}
source "$(dirname "$0")/call_common.sh"
POINTS=${POINTS:-"ours_dense:128:fwd:16384 ours_padded:128:fwd:16384 ours_dense:128:bwd:16384 ours_padded:128:bwd:16384
  tritonsigmoid_dense:128:fwd:16384 cudnn_sdpa:128:fwd:16384"}
SECTIONS=${SECTIONS:-"LaunchStats Occupancy SpeedOfLight ComputeWorkloadAnalysis WarpStateStats"}
NCU=${NCU:-ncu}
setup_machine
{ cat "$work/logs/env.txt"; echo "commit $SUITE_COMMIT"; date -u +%F; } > "$OUT/env.txt"
sections=(); for s in $SECTIONS; do sections+=(--section "$s"); done
launches=(eager); [ "${GRAPH:-0}" = 1 ] && launches=(eager graph)
for point in $POINTS; do
  for launch in "${launches[@]}"; do
    name=${point//:/_}; extra=()
    if [ "$launch" = graph ]; then name=${name}_graph; extra=(--graph); fi
    t=$(cap 150 10)
    if [ "$t" -lt 20 ]; then stamp "$point $launch: not run (${t}s left)"; continue; fi
    stamp "$point $launch (cap ${t}s)"
    # shellcheck disable=SC2086
    timeout -k 5 "$t" $NCU --clock-control none --profile-from-start off "${sections[@]}" --csv --page details \
      --log-file "$work/logs/ncu_$name.log" $PY workflow/scripts/bench_profile.py --points "$point" \
      --calls "${CALLS:-1}" --log "$work/logs/point_$name.csv" "${extra[@]}" ${PROFILE_ARGS:-} > "$work/logs/$name.log" 2>&1
    stamp "$point $launch rc=$?"
  done
done
mapfile -t logs < <(find "$work/logs" -name 'point_*.csv' | sort)
[ "${#logs[@]}" -gt 0 ] && awk 'FNR == 1 && NR != 1 {next} {print}' "${logs[@]}" > "$OUT/points.csv"
mapfile -t ncu < <(find "$work/logs" -maxdepth 1 -name 'ncu_*.log' | sort)
[ "${#ncu[@]}" -gt 0 ] && [ -f "$OUT/points.csv" ] && $PY workflow/scripts/bench_profile.py --tidy "${ncu[@]}" \
  --points-csv "$OUT/points.csv" --out-dir "$OUT" 2>> "$work/logs/steps.txt"  # ncu's tables with provenance
{ echo "== launch and occupancy metrics (ncu, each kernel of each point)"
  [ "${#ncu[@]}" -gt 0 ] && $PY workflow/scripts/bench_profile.py --summarize "${ncu[@]}" 2>&1
  cat "$work/logs/steps.txt"; } > "$OUT/summary.txt"
tar czf "$OUT/logs.tgz" -C "$work" logs 2>/dev/null
show_summary
