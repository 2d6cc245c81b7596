#!/usr/bin/env bash
# Behaviour unchanged by a refactor: the test configuration's DAG run at two commits, outputs compared.
#
#   .ci/compare_refactor.sh BASE_REV [HEAD_REV]        (HEAD_REV: default HEAD)
#
# Each commit's tree is exported (git archive, committed files only) to $WORK/<rev>/tree and the
# DAG runs there (snakemake --configfile .test/config.yaml, its own kernels/ and src/ on
# PYTHONPATH) into $WORK/<rev>/out; then .ci/slurm/compare_outputs.py --strict compares the two
# outputs: CSV/TSV tables numerically (rtol 1e-6), Markdown tables as text and NumPy arrays, the
# provenance and timing columns excepted. Exit 0 when they match. About 10 min per run on 2 cores.
#
# Environment: WORK (default: a new directory under /tmp), DATA_DIR (the data bundle; default:
# data_dir of config/config.yaml, relative to this checkout), CORES (2), PYTHON (.venv/bin/python
# if present, else python3), BASE_OUT=DIR (reuse DIR, an earlier run's output of BASE_REV, instead
# of running it again).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
base=${1:?usage: .ci/compare_refactor.sh BASE_REV [HEAD_REV]}
head=${2:-HEAD}
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=$PWD/.venv/bin/python; else PYTHON=python3; fi
fi
WORK=${WORK:-$(mktemp -d /tmp/compare_refactor.XXXXXX)}
DATA_DIR=${DATA_DIR:-$(cd "$REPO" && "$PYTHON" -c 'import yaml; print(yaml.safe_load(open("config/config.yaml"))["data_dir"])')}
DATA_DIR="$(cd "$DATA_DIR" && pwd)" || { echo "DATA_DIR=$DATA_DIR not found: set DATA_DIR to the data bundle" >&2; exit 1; }

run_at() {  # run_at REV OUT_DIR: the test DAG of REV's committed tree into OUT_DIR
    local rev=$1 out=$2 sha tree
    sha=$(git rev-parse --short=12 "$rev")
    tree="$WORK/$sha/tree"
    rm -rf "$tree" "$out" && mkdir -p "$tree"
    git archive "$sha" | tar -x -C "$tree"
    echo "[compare_refactor] $rev ($sha): DAG into $out (log $WORK/$sha/snakemake.log)" >&2
    (cd "$tree" && env -u TRITON_INTERPRET PYTHONPATH="$tree/kernels:$tree/src" SUITE_COMMIT="$sha" \
        "$PYTHON" -m snakemake --cores "${CORES:-2}" --configfile .test/config.yaml \
        --config data_dir="$DATA_DIR" results_dir="$out/results" figures_dir="$out/figures" \
        >"$WORK/$sha/snakemake.log" 2>&1) || { tail -n 30 "$WORK/$sha/snakemake.log" >&2; return 1; }
}

base_out=${BASE_OUT:-$WORK/base/out}
[[ -n "${BASE_OUT:-}" ]] || run_at "$base" "$base_out"
run_at "$head" "$WORK/head/out"
"$PYTHON" .ci/slurm/compare_outputs.py "$base_out" "$WORK/head/out" --strict
echo "[compare_refactor] $base and $head: outputs match" >&2
