"""Writing results: an output is either absent or complete, never half written (atomic_path),
a result table whose values did not change keeps its provenance (write_csv), and every
Markdown table is rendered the same way (markdown_table, pandas' to_markdown).

Provenance without churn: every measured CSV carries PROVENANCE_COLUMNS (device, versions,
commit, date). A run that reproduces a table's values (numbers to float32 arithmetic's
noise, see :data:`SAME_RTOL`) writes back the table's previous
bytes, so the provenance stays that of the run that produced the values and a re-run of
unchanged results leaves the git tree clean. The previous version is the file on disk or, when
Snakemake has removed it before the job ran (it removes every output first), the version
committed in git (HEAD). Any other change (a value, a row, a column) writes the new table.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from scsigmoid.provenance import PROVENANCE_COLUMNS


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=suffix if suffix is not None else path.suffix, dir=path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp creates 0600; give the usual file mode
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_csv(df: pd.DataFrame, path: str | os.PathLike, volatile: tuple[str, ...] = (),
              **kwargs) -> None:
    """Write a DataFrame as CSV atomically (no index unless asked). When every value outside the
    provenance columns (and the ``volatile`` ones, e.g. a host timing beside the results) equals
    the previous version's (module docstring), the previous bytes are written back instead."""
    kwargs.setdefault("index", False)
    text = df.to_csv(**kwargs)
    previous = previous_version(path)
    keep = previous is not None and same_values(previous, text, sep=kwargs.get("sep", ","),
                                                ignore=(*PROVENANCE_COLUMNS, *volatile))
    with atomic_path(path) as tmp:
        tmp.write_bytes(previous if keep else text.encode())


def previous_version(path: str | os.PathLike) -> bytes | None:
    """The bytes of ``path`` on disk, else of its version committed in git (HEAD), else None."""
    path = Path(path)
    if path.exists():
        return path.read_bytes()
    if not path.parent.is_dir():
        return None
    try:
        proc = subprocess.run(["git", "-C", str(path.parent), "show", f"HEAD:./{path.name}"],
                              capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


#: Two numbers written as different text are the same value when they agree to this relative
#: tolerance (the run-to-run noise of float32 arithmetic): scib-metrics' Benchmarker, for one,
#: gives the same embedding scores that differ by up to 3.4e-6 relative (8e-7 absolute, its PCR
#: comparison) from one run to the next on the same machine, which rewrote its tables' provenance
#: on every fresh clone.
SAME_RTOL = 1e-5


def _same_cell(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return math.isclose(x, y, rel_tol=SAME_RTOL)


def same_values(previous: bytes, text: str, sep: str = ",",
                ignore: tuple[str, ...] = PROVENANCE_COLUMNS) -> bool:
    """True when two CSV texts have the same header and rows, cell for cell (numbers to
    :data:`SAME_RTOL`, anything else as written), in every column except ``ignore`` (the
    provenance columns)."""
    try:
        old = list(csv.reader(io.StringIO(previous.decode("utf-8")), delimiter=sep))
    except (UnicodeDecodeError, csv.Error):
        return False
    new = list(csv.reader(io.StringIO(text), delimiter=sep))
    if not old or not new or old[0] != new[0] or len(old) != len(new):
        return False
    width = len(new[0])
    keep = [i for i, name in enumerate(new[0]) if name not in ignore]
    return all(len(a) == len(b) == width and all(_same_cell(a[i], b[i]) for i in keep)
               for a, b in zip(old[1:], new[1:], strict=True))


def write_json(obj, path: str | os.PathLike) -> None:
    """Write JSON atomically, pretty-printed and sorted for stable diffs."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def write_text(text: str, path: str | os.PathLike) -> None:
    """Write text atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def markdown_table(df: pd.DataFrame, bold: pd.DataFrame | None = None,
                   floatfmt: str = "{:.4f}") -> str:
    """A GitHub Markdown table of ``df`` (pandas' ``DataFrame.to_markdown``, through tabulate).
    Floats are shown as ``floatfmt``, missing values as empty cells, other values as ``str``
    (format them first for another style); ``|`` is escaped. Where ``bold`` (same rows, by
    position; any subset of the columns) is True, a non-empty cell is shown in **bold**."""

    def cell(value) -> str:
        if value is None or value is pd.NA:
            return ""
        if isinstance(value, float | np.floating):
            return "" if np.isnan(value) else floatfmt.format(value)
        return str(value).replace("|", "\\|")

    shown = pd.DataFrame({i: [cell(v) for v in df.iloc[:, i]] for i in range(df.shape[1])})
    if bold is not None:
        for i, col in enumerate(df.columns):
            if col in bold.columns:
                mark = bold[col].astype(bool).to_numpy() & (shown[i] != "").to_numpy()
                shown[i] = np.where(mark, "**" + shown[i] + "**", shown[i])
    shown.columns = [str(c).replace("|", "\\|") for c in df.columns]
    return shown.to_markdown(index=False, tablefmt="github", disable_numparse=True) + "\n"


def write_markdown(text: str, path: str | os.PathLike, title: str | None = None,
                   note: str | None = None) -> None:
    """Write a Markdown document atomically: ``# title``, the note, then ``text``."""
    write_text((f"# {title}\n\n" if title else "") + (f"{note}\n\n" if note else "") + text, path)
