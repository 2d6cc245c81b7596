"""The scale a result was measured at, as figures and the scorecard state it on their face: the
runs behind it (model size, parameters, seeds, steps, tokens and cells seen) and, for the stress
test, the cell lengths it actually trained on."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from scsigmoid.evaluate.tables import context_label, parse_run

RUN_COLUMNS = ("run", "size", "context", "attention", "seed", "params_total", "steps_done", "stop_reason",
               "best_step", "best_val_loss", "tokens_seen", "cells_seen", "train_seconds", "device", "commit")


def read_run_summaries(paths: dict[str, str | os.PathLike]) -> pd.DataFrame:
    """One row per run from its summary.json (fields the trainer did not record are left empty)."""
    rows = []
    for run, path in paths.items():
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path} missing: run {run} has not been trained (or not committed).")
        summary = json.loads(path.read_text())
        info = parse_run(run)
        seconds = summary.get("train_seconds", summary.get("train_seconds_this_call"))
        rows.append({**{c: summary.get(c) for c in RUN_COLUMNS}, **info, "run": run, "train_seconds": seconds})
    return pd.DataFrame(rows, columns=list(RUN_COLUMNS))


def _count(x: float) -> str:
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= div:
            return f"{x / div:.3g}{unit}"
    return f"{x:.0f}"


def _median(part: pd.DataFrame, col: str) -> float:
    values = pd.to_numeric(part[col], errors="coerce").dropna()
    return float(values.median()) if len(values) else float("nan")


def contexts_without_runs(configured, present) -> list[int]:
    """The configured contexts (train.contexts) that no run covers, ascending."""
    return sorted(set(int(c) for c in configured) - set(int(c) for c in present))


def scale_text(runs: pd.DataFrame, context: int | None = None, configured=()) -> str:
    """'small model (17.2M parameters), 4K context, 3 seeds per arm; per run (median): 600 steps,
    4.4M tokens and 9.6K cells seen' — over the runs at ``context`` (all runs when None).
    ``configured``: the contexts the configuration asks for (train.contexts); those without a run
    are named ('; no runs at 2K'), so a figure of every context says which ones it lacks."""
    part = runs if context is None else runs[runs["context"].astype(int) == int(context)]
    if part.empty:
        return f"no runs at context {context}"
    missing = contexts_without_runs(configured, runs["context"])
    lacking = f"; no runs at {', '.join(context_label(c) for c in missing)}" if missing else ""
    sizes = ", ".join(sorted(set(part["size"].astype(str))))
    params = _median(part, "params_total")
    text = f"{sizes} model" + (f" ({_count(params)} parameters)" if np.isfinite(params) else "")
    contexts = sorted(set(part["context"].astype(int)))
    text += ", " + "/".join(context_label(c) for c in contexts) + " context"
    seeds = part.groupby("attention")["seed"].nunique()
    text += f", {int(seeds.min())} seed{'s' if seeds.min() != 1 else ''} per arm"
    per_run = []
    for col, label in (("steps_done", "steps"), ("tokens_seen", "tokens seen"), ("cells_seen", "cells seen")):
        value = _median(part, col)
        per_run.append(f"{_count(value)} {label}" if np.isfinite(value) else f"{label} not recorded")
    return text + "; per run (median): " + ", ".join(per_run) + lacking


def trained_lengths(lengths: pd.DataFrame, context: int, *, dataset: str = "pretrain",
                    split: str = "train") -> dict:
    """Lengths (CLS included) of the cells a run at ``context`` trains on: the data stage's length
    histogram (dataset, split, length, n_cells) of the pretraining pool's train split, truncated
    at the context. Returns n_cells, median, p90, max and share_at_context."""
    part = lengths[(lengths["dataset"] == dataset) & (lengths["split"].astype(str) == split)]
    if part.empty:
        raise ValueError(f"no '{dataset}' / '{split}' rows in the length table; it comes from the data_stats rule.")
    values = np.minimum(part["length"].to_numpy(dtype=np.int64), int(context))
    counts = part["n_cells"].to_numpy(dtype=np.int64)
    order = np.argsort(values, kind="stable")
    values, counts = values[order], counts[order]
    cum = np.cumsum(counts) / counts.sum()

    def quantile(q: float) -> int:
        return int(values[np.searchsorted(cum, q)])

    return {"n_cells": int(counts.sum()), "median": quantile(0.5), "p90": quantile(0.9),
            "max": int(values.max()), "share_at_context": float(counts[values >= int(context)].sum() / counts.sum()),
            "context": int(context)}


def lengths_text(info: dict) -> str:
    """'cells of 75 tokens (median; 90 % up to 210, longest 2,304; 0.0 % fill the 8192 context)'."""
    return (f"cells of {info['median']:,} tokens (median; 90 % up to {info['p90']:,}, longest {info['max']:,}; "
            f"{info['share_at_context']:.1%} fill the {info['context']} context)")
