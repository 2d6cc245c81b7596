# Sourced by the device call scripts (h200_bench.sh, h200_kernel_variants.sh, kernel_tests.sh,
# profile_points.sh) once they have set
# `budget` and `work`: the clock (left), OUT and SUITE_COMMIT, a fresh work folder with logs/, the
# environment of the package code, the step log (stamp), capped step times (cap), show_summary,
# and setup_machine: the carried wheels (.whl/, e.g. TritonSigmoid) and the machine's versions.
start=$(date +%s)
left() { echo $(( budget - ($(date +%s) - start) )); }
: "${OUT:?set OUT to the output folder}"
: "${SUITE_COMMIT:?set SUITE_COMMIT (the copied tree has no .git)}"
export SUITE_COMMIT
PY=${PY:-python3}
rm -rf "$work"; mkdir -p "$work/logs" "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD/kernels:$PWD/src${PYTHONPATH:+:$PYTHONPATH}" SIGATTN_CHECK_VALUES=0
stamp() { echo "[$(( $(date +%s) - start ))s] $*" | tee -a "$work/logs/steps.txt"; }
# cap WANT RESERVE: a step's seconds, at most WANT, leaving RESERVE for the steps after it; the
# reserve is at most half of what is left (a call given less than its reserves still warms up: a
# budget of 290 once gave `timeout` a negative cap, session 20) and the cap at least 1 (`timeout 0`
# would mean no limit at all)
cap() {
  local want=$1 reserve=$2 l t; l=$(left)
  [ "$reserve" -gt $(( l / 2 )) ] && reserve=$(( l / 2 ))
  t=$(( l - reserve )); [ "$want" -lt "$t" ] && t=$want; [ "$t" -lt 1 ] && t=1
  echo "$t"
}
# alternated ROUND ITEM...: the items one a line, in their order in an odd round and reversed in an
# even one (A B C, C B A, A B C, ...): a call's arms alternated over its repeats
alternated() {
  local round=$1 i; shift
  if (( round % 2 == 0 )); then for (( i = $#; i >= 1; i-- )); do echo "${!i}"; done; else printf '%s\n' "$@"; fi
}
show_summary() { echo "== summary ($(( $(date +%s) - start )) s)"; cat "$OUT/summary.txt"; }  # the call's last output

setup_machine() {
  local wheels; wheels=$(ls .whl/*.whl .carry/*.whl 2>/dev/null)  # carried in either folder
  if [ -n "$wheels" ]; then
    # shellcheck disable=SC2086
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site $wheels \
      && export PYTHONPATH="$PYTHONPATH:/tmp/site"
  fi
  { nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv 2>&1
    $PY -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)" 2>&1
    nproc; } | tee "$work/logs/env.txt"
}
