"""Compare the outputs of two runs of the same configuration: local vs Slurm (run_slurm_test.sh),
or the code before vs after a change (.ci/compare_refactor.sh).

    python .ci/slurm/compare_outputs.py LOCAL_DIR SLURM_DIR [--strict]

A directory is one output tree (a run's results/ or figures/), or a run's root holding both.
Both trees must hold the same files. CSV/TSV tables must match numerically (rtol 1e-6; a CPU
training run's own tables, under train/runs/, rtol TRAINING_RTOL: see there) in every
column except provenance and timing columns (names matching IGNORED_COLUMNS: they record when,
where and how fast, not what) and 2-D layouts (LAYOUTS: UMAP coordinates), which must keep each
point's nearest neighbours instead (see compare_layout); other files (figures, checkpoints, logs)
only have to exist in both.
``--strict`` also compares the Markdown tables (text, cell by cell but for IGNORED_COLUMNS) and
NumPy arrays (.npy, .npz: rtol 1e-6), which the same code on the same machine reproduces.
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
STRICT_SUFFIXES = {".md", ".npy", ".npz"}  # compared with --strict
RUN_PARTS = ("results", "figures")  # a run's root holds both
# provenance (device, torch, triton, commit, date) and anything measuring time or speed
IGNORED_COLUMNS = re.compile(
    r"^(device|torch|triton|commit|date|host|hostname)$"
    r"|time|seconds|(^|_)s$|(^|_)ms$|_sec$|tflops|throughput|per_s|per_sec|speed|elapsed|duration",
    re.IGNORECASE,
)
IGNORED_DIRS = {"logs", "benchmarks"}
# A UMAP layout is chaotic in its input: its embedding changed by 1e-7 relative (fp32 rounding)
# moves points by up to 12 units, yet 52-58 % of each cell's 10 nearest neighbours stay; another
# seed's embedding keeps 6 %, random points 3 % (measured on the test DAG's baron UMAP).
LAYOUTS = (("umap1", "umap2"),)
# A CPU training run's tables (train/runs/<run>/: log, validation curve and losses) are bit-for-bit
# the same when the run is repeated (60+ repeats here, alone, 6 at once, under load), yet in CI two
# of 24 Slurm-run trainings (one of 12 in each of two runs, softmax both times) differed from the
# local run in the last bits: max-logit columns by up to 1.5e-6 (1e-5 relative), the loss by 2e-7
# relative after 30 steps; cause not found (neither 1 nor 2 MKL threads reproduce the Slurm values).
# A different seed, setting or data changes these columns by 1e-2 or more.
TRAINING_RTOL = 1e-4
LAYOUT_NEIGHBOURS, LAYOUT_MIN_OVERLAP = 10, 0.3


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
    problems, layout_columns = [], set()
    for layout in LAYOUTS:
        if set(layout) <= set(a.columns):
            layout_columns |= set(layout)
            problems += compare_layout(a, b, list(layout))
    for column in a.columns:
        if IGNORED_COLUMNS.search(str(column)) or column in layout_columns:
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


def _neighbours(xy: np.ndarray, k: int, chunk: int = 2048) -> np.ndarray:
    """Indices of each point's ``k`` nearest other points (Euclidean), in chunks of rows."""
    out = np.empty((len(xy), k), dtype=np.int64)
    for start in range(0, len(xy), chunk):
        d = ((xy[start:start + chunk, None, :] - xy[None, :, :]) ** 2).sum(-1)
        d[np.arange(d.shape[0]), np.arange(start, start + d.shape[0])] = np.inf
        out[start:start + chunk] = np.argpartition(d, k, axis=1)[:, :k]
    return out


def compare_layout(a: pd.DataFrame, b: pd.DataFrame, columns: list[str],
                   k: int = LAYOUT_NEIGHBOURS, min_overlap: float = LAYOUT_MIN_OVERLAP) -> list[str]:
    """Two tables' 2-D layouts (rows in the same order) agree when, in each group of rows (one
    per value of an 'embedding' column, else all), each point keeps on average ``min_overlap`` of
    its ``k`` nearest neighbours."""
    groups = a.groupby("embedding", sort=False).indices if "embedding" in a else {"all": np.arange(len(a))}
    problems = []
    for name, rows in groups.items():
        x, y = (t[columns].to_numpy(dtype=float)[rows] for t in (a, b))
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            if not np.array_equal(np.isfinite(x), np.isfinite(y)):
                problems.append(f"layout {'/'.join(columns)} ({name}): non-finite values differ")
            continue
        kk = min(k, len(rows) - 1)
        if kk < 1:
            continue
        shared = (_neighbours(x, kk)[:, :, None] == _neighbours(y, kk)[:, None, :]).any(-1).mean()
        if shared < min_overlap:
            problems.append(f"layout {'/'.join(columns)} ({name}): {shared:.2f} of each point's {kk} "
                            f"nearest neighbours kept, below {min_overlap}")
    return problems


def _markdown_lines(path: Path, run_dir: Path | None) -> list[str]:
    """The file's lines, table rows without the cells of IGNORED_COLUMNS and without padding (a
    changed width is no difference), paths into the run written relative to it."""
    text = path.read_text()
    if run_dir is not None:
        text = text.replace(f"{run_dir.as_posix().rstrip('/')}/", "<run>/")
    lines, header = [], None
    for line in text.splitlines():
        if not line.startswith("|"):
            lines.append(line)
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
        elif all(set(c) <= set("-: ") for c in cells):
            continue  # the rule under the header
        kept = [c for h, c in zip(header, cells, strict=False) if not IGNORED_COLUMNS.search(h)]
        lines.append(" | ".join(kept))
    return lines


def compare_markdown(left: Path, right: Path, run_dirs: tuple[Path, Path] | None = None) -> list[str]:
    a = _markdown_lines(left, run_dirs and run_dirs[0])
    b = _markdown_lines(right, run_dirs and run_dirs[1])
    if len(a) != len(b):
        return [f"{len(a)} lines vs {len(b)} lines"]
    differ = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    return [f"line {i + 1}: {a[i]!r} vs {b[i]!r}" for i in differ[:3]] + (
        [f"... and {len(differ) - 3} more lines"] if len(differ) > 3 else [])


def _arrays(path: Path) -> dict[str, np.ndarray]:
    if path.suffix == ".npz":
        with np.load(path) as archive:
            return {name: archive[name] for name in archive.files}
    return {"array": np.load(path)}


def compare_arrays(left: Path, right: Path, rtol: float = 1e-6, atol: float = 1e-9) -> list[str]:
    """.npy: one array; .npz: the same names, each array close."""
    a, b = _arrays(left), _arrays(right)
    if sorted(a) != sorted(b):
        return [f"arrays differ: {sorted(a)} vs {sorted(b)}"]
    problems = []
    for name in sorted(a):
        x, y = a[name], b[name]
        if x.shape != y.shape:
            problems.append(f"{name}: shape {x.shape} vs {y.shape}")
        elif x.dtype.kind in "fc" or y.dtype.kind in "fc":
            if not np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True):
                problems.append(f"{name}: max abs difference {np.nanmax(np.abs(x - y)):.3g}")
        elif not np.array_equal(x, y):
            problems.append(f"{name}: {int((x != y).sum())} of {x.size} values differ")
    return problems


def compare_trees(left: Path, right: Path, strict: bool = False,
                  run_dirs: tuple[Path, Path] | None = None, subset: bool = False) -> tuple[list[str], int]:
    """Differences between two output trees, and the number of files compared by value.
    ``run_dirs``: the runs' roots, which paths in the files are made relative to (default: the
    trees' parents, as a run's results/ and figures/ share one). ``subset``: ``right`` ran only
    some targets of ``left``'s run: files only in ``left`` are not differences."""
    files_left, files_right = relative_files(left), relative_files(right)
    problems = [] if subset else [f"only in {left}: {p}" for p in sorted(files_left - files_right)]
    problems += [f"only in {right}: {p}" for p in sorted(files_right - files_left)]
    run_dirs = run_dirs or (left.parent, right.parent)
    compared = 0
    for rel in sorted(files_left & files_right):
        if rel.suffix in TABLE_SUFFIXES:
            training = any(rel.parts[i:i + 2] == ("train", "runs") for i in range(len(rel.parts)))
            found = compare_tables(left / rel, right / rel, rtol=TRAINING_RTOL if training else 1e-6,
                                   run_dirs=run_dirs)
        elif strict and rel.suffix == ".md":
            found = compare_markdown(left / rel, right / rel, run_dirs=run_dirs)
        elif strict and rel.suffix in (".npy", ".npz"):
            found = compare_arrays(left / rel, right / rel)
        else:
            continue
        compared += 1
        problems += [f"{rel}: {msg}" for msg in found]
    return problems, compared


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("left", type=Path)
    parser.add_argument("right", type=Path)
    parser.add_argument("--strict", action="store_true",
                        help="also Markdown tables and NumPy arrays (same code, same machine)")
    parser.add_argument("--subset", action="store_true",
                        help="the second run made only some of the first run's targets: every file it "
                        "wrote must match, files it did not write are not differences")
    args = parser.parse_args(argv)
    for root in (args.left, args.right):
        if not root.is_dir():
            parser.error(f"{root} is not a directory (expected a run's output directory).")
    roots = all((root / part).is_dir() for root in (args.left, args.right) for part in RUN_PARTS)
    pairs = [(args.left / part, args.right / part) for part in RUN_PARTS] if roots else [(args.left, args.right)]
    problems, n_compared, n_files = [], 0, 0
    for left, right in pairs:
        found, compared = compare_trees(left, right, strict=args.strict,
                                        run_dirs=(args.left, args.right) if roots else None, subset=args.subset)
        problems += found
        n_compared += compared
        n_files += len(relative_files(left))
    if n_compared == 0:
        problems.append("no CSV/TSV table to compare: the runs produced no tables.")
    kinds = "tables, Markdown and arrays" if args.strict else "tables"
    print(f"{n_files} files in the first run, {n_compared} {kinds} compared by value")
    for problem in problems:
        print("DIFF:", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
