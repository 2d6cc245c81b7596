"""Provenance columns that every measured result carries: device, versions, commit, date."""

from __future__ import annotations

import datetime as _dt
import os
import re
import subprocess
from pathlib import Path

PROVENANCE_COLUMNS = ("device", "torch", "triton", "commit", "date")


def device_name() -> str:
    """Human-readable name of the device results are measured on (the GPU, else 'cpu')."""
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except Exception:  # pragma: no cover - torch missing or broken driver
        pass
    return "cpu"


#: Words of a device name that give its memory, not its chip or form factor ('80GB', 'HBM3'): the
#: file-name tag leaves them out, so 'NVIDIA H100 80GB HBM3' files as 'h100' (the PCIe card stays
#: 'h100_pcie', a different clock and power limit).
_MEMORY_WORD = re.compile(r"^(\d+gb|hbm\d*e?)$")


def device_slug(name: str | None = None) -> str:
    """Short file-name tag for a device: 'NVIDIA H200' -> 'h200', 'NVIDIA H100 80GB HBM3' ->
    'h100', 'cpu' -> 'cpu'."""
    name = device_name() if name is None else name
    slug = re.sub(r"^nvidia\s+", "", name.strip().lower())
    words = [w for w in re.split(r"[^a-z0-9]+", slug) if w and not _MEMORY_WORD.match(w)]
    return "_".join(words) or "unknown"


#: Output folders of the DAG: Snakemake deletes and rewrites committed outputs there while it
#: runs, so changes under them do not make the code that produced a result 'dirty'.
OUTPUT_DIRS = ("results", "figures")


def git_commit(repo: str | os.PathLike | None = None) -> str:
    """Commit of the working tree ('+dirty' when tracked files outside OUTPUT_DIRS have
    uncommitted changes); env override ``SUITE_COMMIT`` for machines that receive a copy of the
    tree without its .git."""
    if os.environ.get("SUITE_COMMIT"):
        return os.environ["SUITE_COMMIT"]
    repo = Path(repo) if repo else Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no", "--", ".",
             *(f":(exclude){d}" for d in OUTPUT_DIRS)],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except Exception:
        return "unknown"


def versions() -> dict[str, str]:
    """torch and triton versions ('none' when not importable)."""
    out = {}
    for mod in ("torch", "triton"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:
            out[mod] = "none"
    return out


def provenance() -> dict[str, str]:
    """The provenance columns as a dict, ready to add to every row of a result table."""
    return {
        "device": device_name(),
        **versions(),
        "commit": git_commit(),
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d"),
    }
