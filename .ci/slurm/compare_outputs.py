"""Compare the outputs of two runs of the same configuration (e.g. local vs Slurm).

    python .ci/slurm/compare_outputs.py LOCAL_DIR SLURM_DIR

Both trees must hold the same files. CSV/TSV tables must match numerically (rtol 1e-6) in every
column except provenance and timing columns (names matching IGNORED_COLUMNS: they record when,
where and how fast, not what); other files (figures, checkpoints, logs) only have to exist in both.
Exit status 1 with one line per difference.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

TABLE_SUFFIXES = {".csv", ".tsv"}
# provenance (device, torch, triton, commit, date) and anything measuring time or speed
IGNORED_COLUMNS = re.compile(
    r"^(device|torch|triton|commit|date|host|hostname)$"
    r"|time|seconds|(^|_)s$|(^|_)ms$|_sec$|tflops|throughput|per_s|per_sec|speed|elapsed|duration",
    re.IGNORECASE,
)
IGNORED_DIRS = {"logs", "benchmarks"}


def relative_files(root: Path) -> set[Path]:
    return {
        p.relative_to(root)
        for p in root.rglob("*")
        if p.is_file() and not (IGNORED_DIRS & set(p.relative_to(root).parts))
    }


def _run_relative(table: pd.DataFrame, run_dir: Path) -> pd.DataFrame:
    """Paths into a run's own output tree (e.g. a scorecard's 'source' column) written relative to
    it, so two runs into different directories compare equal."""
    prefix = f"{run_dir.as_posix().rstrip('/')}/"
    text = table.select_dtypes(include="object").columns
    return table.assign(**{c: table[c].astype(str).str.replace(prefix, "<run>/", regex=False)
                           for c in text})


def compare_tables(left: Path, right: Path, rtol: float = 1e-6, atol: float = 1e-9,
                   run_dirs: tuple[Path, Path] | None = None) -> list[str]:
    sep = "\t" if left.suffix == ".tsv" else ","
    a, b = pd.read_csv(left, sep=sep), pd.read_csv(right, sep=sep)
    if run_dirs is not None:
        a, b = _run_relative(a, run_dirs[0]), _run_relative(b, run_dirs[1])
    if list(a.columns) != list(b.columns):
        return [f"columns differ: {list(a.columns)} vs {list(b.columns)}"]
    if len(a) != len(b):
        return [f"{len(a)} rows vs {len(b)} rows"]
    problems = []
    for column in a.columns:
        if IGNORED_COLUMNS.search(str(column)):
            continue
        x, y = a[column], b[column]
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            xv, yv = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
            if not np.allclose(xv, yv, rtol=rtol, atol=atol, equal_nan=True):
                worst = np.nanmax(np.abs(xv - yv))
                problems.append(f"column {column!r}: max abs difference {worst:.3g}")
        elif not x.astype(str).equals(y.astype(str)):
            row = int(np.argmax(x.astype(str).to_numpy() != y.astype(str).to_numpy()))
            problems.append(f"column {column!r} row {row}: {x.iloc[row]!r} vs {y.iloc[row]!r}")
    return problems


def compare_trees(left: Path, right: Path) -> tuple[list[str], int]:
    """Differences between two output trees, and the number of tables compared."""
    files_left, files_right = relative_files(left), relative_files(right)
    problems = [f"only in {left}: {p}" for p in sorted(files_left - files_right)]
    problems += [f"only in {right}: {p}" for p in sorted(files_right - files_left)]
    tables = sorted(p for p in files_left & files_right if p.suffix in TABLE_SUFFIXES)
    for rel in tables:
        # a run's results/ and figures/ share one parent: paths into either are run-relative
        run_dirs = (left.parent, right.parent)
        problems += [f"{rel}: {msg}" for msg in compare_tables(left / rel, right / rel, run_dirs=run_dirs)]
    return problems, len(tables)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("left", type=Path)
    parser.add_argument("right", type=Path)
    args = parser.parse_args(argv)
    for root in (args.left, args.right):
        if not root.is_dir():
            parser.error(f"{root} is not a directory (expected a run's output directory).")
    problems, n_tables = compare_trees(args.left, args.right)
    if n_tables == 0:
        problems.append("no CSV/TSV table to compare: the runs produced no tables.")
    n_files = len(relative_files(args.left))
    print(f"{n_files} files in each run, {n_tables} tables compared")
    for problem in problems:
        print("DIFF:", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
