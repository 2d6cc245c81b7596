#!/usr/bin/env bash
# Fill Triton's on-disk cache for benchmark parts in parallel, so the timed runs only load what
# they compile (workflow/scripts/bench_warm.py: one process per share, 14 at a time; its last line
# says how long the warm-up took and how much compile time it spread).
# Usage (repo root, GPU machine): bash gpu/warm_triton_cache.sh [cap_s] [HEAD_DIM:fwd|bwd ...]
set -uo pipefail
cap=${1:-240}
shift $(( $# > 0 ? 1 : 0 ))
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(64:bwd 128:bwd)
log=$(mktemp -d)
SIGATTN_AUTOTUNE=full timeout -k 10 "$(( cap + 10 ))" python3 workflow/scripts/bench_warm.py \
  --parts "${parts[@]}" --jobs 14 --deadline-s "$cap" --log "$log/warm_jobs.csv"
rm -rf "$log"
