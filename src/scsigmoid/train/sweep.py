"""The learning-rate sweep's summary table, derived from its runs' own logs.

Each run of the sweep leaves ``{sweep_dir}/{attention}_{lr:g}/log.csv`` and ``summary.json``. All
runs see the same batches in the same order (same seed), so per-step losses are comparable
*across* runs at equal steps, but not across steps within a run: batches of long and short cells
differ by several nats. Hence the stability test compares each run with its arm's most
conservative run (lowest LR) over the same final steps, never with its own best step.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from scsigmoid.provenance import PROVENANCE_COLUMNS

#: A run is 'stable' when it did not diverge and its final-window loss is at most this many nats
#: above the final-window loss of the same attention's lowest-LR run.
STABLE_TOLERANCE_NATS = 0.5
#: The final window: the last 10% of the planned steps.
FINAL_FRACTION = 0.1


def _run_row(run_dir: Path) -> dict:
    summary = json.loads((run_dir / "summary.json").read_text())
    log = pd.read_csv(run_dir / "log.csv")
    cfg = summary["config"]
    steps = int(cfg["steps"])
    window = max(1, int(round(FINAL_FRACTION * steps)))
    warmup = int(cfg.get("warmup_steps", 0))
    loss = log["loss"].to_numpy(dtype=float)
    logit_cols = [c for c in log if c.startswith("max_logit_l")]
    finished = not summary["diverged"] and len(loss) >= steps and np.isfinite(loss[-window:]).all()
    return {
        "attention": cfg["attention"], "lr": float(cfg["lr"]), "size": cfg["size"],
        "context": int(cfg["context"]), "steps": steps, "steps_done": int(summary["steps_done"]),
        # mean over the last 10% of planned steps (NaN unless the run got there finite)
        "final_loss": float(loss[-window:].mean()) if finished else float("nan"),
        # mean over every step after warm-up, the same steps for every run of the sweep
        "mean_loss": float(np.mean(loss[warmup:])) if finished and len(loss) > warmup else float("nan"),
        "diverged": bool(summary["diverged"]), "diverged_step": summary["diverged_step"],
        "max_grad_norm": float(np.nanmax(log["grad_norm"])) if len(log) else float("nan"),
        "max_logit": float(np.nanmax(log[logit_cols].to_numpy())) if logit_cols and len(log) else float("nan"),
        **{k: summary.get(k) for k in PROVENANCE_COLUMNS},
    }


def summarise_lr_sweep(sweep_dir, tolerance: float = STABLE_TOLERANCE_NATS) -> pd.DataFrame:
    """One row per run under ``sweep_dir`` (directories holding summary.json and log.csv), with
    ``ref_lr`` (the arm's lowest LR), ``final_vs_ref`` (nats) and ``stable``. Provenance columns
    come from each run's own summary.json."""
    runs = sorted(p.parent for p in Path(sweep_dir).glob("*/summary.json") if (p.parent / "log.csv").exists())
    if not runs:
        raise FileNotFoundError(f"no runs (*/summary.json + log.csv) under {sweep_dir}; run the "
                                "lr_sweep experiment first.")
    df = pd.DataFrame([_run_row(r) for r in runs]).sort_values(["attention", "lr"], ignore_index=True)
    ref = df.loc[df.groupby("attention")["lr"].idxmin(), ["attention", "lr", "final_loss"]]
    ref = ref.rename(columns={"lr": "ref_lr", "final_loss": "ref_final_loss"})
    df = df.merge(ref, on="attention", how="left")
    df["final_vs_ref"] = df["final_loss"] - df.pop("ref_final_loss")
    df["stable"] = ~df["diverged"] & np.isfinite(df["final_loss"]) & (df["final_vs_ref"] <= tolerance)
    df["stable_tolerance_nats"] = tolerance
    first = ["attention", "lr", "size", "context", "steps", "steps_done", "final_loss", "mean_loss",
             "ref_lr", "final_vs_ref", "stable", "stable_tolerance_nats", "diverged", "diverged_step",
             "max_grad_norm", "max_logit"]
    return df[first + [c for c in df if c not in first]]


def stability_frontier(sweep: pd.DataFrame) -> dict[str, float]:
    """Per attention, the largest LR such that it and every smaller LR of the ladder were stable
    (NaN when the lowest already was not)."""
    out = {}
    for att, part in sweep.sort_values("lr").groupby("attention"):
        stable = part["stable"].astype(bool).to_numpy()
        n_ok = len(stable) if stable.all() else int(np.argmin(stable))
        out[att] = float(part["lr"].iloc[n_ok - 1]) if n_ok else float("nan")
    return out
