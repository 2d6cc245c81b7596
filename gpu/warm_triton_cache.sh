#!/usr/bin/env bash
# Fill Triton's on-disk cache for the benchmark in parallel, so the timed run only autotunes.
# Autotuning compiles its configs one after another in one process (~1-3 s each, hundreds of them
# over the benchmark grid); here one process per (head dim, pass, implementation group) compiles its
# share at the same time, with 1-ms timings whose numbers are thrown away.
# Usage (repo root, GPU machine): bash gpu/warm_triton_cache.sh [cap_s]
set -uo pipefail
cap=${1:-240}
scratch=$(mktemp -d)
pids=()
for hd in 128 64; do
  for pass in fwd bwd; do
    for impls in "ours_dense ours_padded" "ours_varlen ours_dense_trainbias ours_dense_causal" \
                 "tritonsigmoid_dense" "tritonsigmoid_padded"; do
      # shellcheck disable=SC2086
      mkdir -p "$scratch/$hd$pass${impls%% *}"
      timeout -k 5 "$cap" python3 workflow/scripts/bench_attention.py --out "$scratch/$hd$pass${impls%% *}" \
        --head-dim "$hd" --pass "$pass" --impl $impls --warmup-ms 1 --rep-ms 1 \
        > "$scratch/$hd$pass${impls%% *}.log" 2>&1 &
      pids+=($!)
    done
  done
done
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
echo "warm: ${#pids[@]} processes, $fails failed or capped"
grep -h "Traceback\|Error" "$scratch"/*.log | sort | uniq -c | head -5
rm -rf "$scratch"
