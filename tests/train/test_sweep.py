"""The learning-rate sweep's summary: stability judged against the arm's lowest-LR run at the
same steps, the frontier, provenance taken from the runs, and the scorecard row built on it."""

import json

import numpy as np
import pandas as pd
import pytest

from scsigmoid.evaluate.scorecard import lr_sweep_rows
from scsigmoid.train.sweep import stability_frontier, summarise_lr_sweep


def _run(root, attention, lr, losses, diverged_step=None, commit="abc123"):
    d = root / f"{attention}_{lr:g}"
    d.mkdir(parents=True)
    pd.DataFrame({"step": range(1, len(losses) + 1), "loss": losses, "grad_norm": 1.0,
                  "max_logit_l0": 2.0}).to_csv(d / "log.csv", index=False)
    (d / "summary.json").write_text(json.dumps({
        "config": {"attention": attention, "lr": lr, "size": "tiny", "context": 32, "steps": 20,
                   "warmup_steps": 2},
        "steps_done": len(losses), "diverged": diverged_step is not None, "diverged_step": diverged_step,
        "device": "NVIDIA H200", "torch": "2.11", "triton": "3.6.0", "commit": commit, "date": "2026-11-29"}))


def test_stability_is_judged_against_the_lowest_lr_at_the_same_steps(tmp_path):
    noisy = np.tile([5.0, 9.0], 10)  # per-batch swings far above any tolerance
    _run(tmp_path, "softmax", 1e-3, noisy)
    _run(tmp_path, "softmax", 1e-2, noisy + 0.4)  # within 0.5 nats of the reference: stable
    _run(tmp_path, "softmax", 1e-1, noisy + 0.9)  # worse by 0.9 nats: unstable
    _run(tmp_path, "sigmoid", 1e-3, noisy)
    _run(tmp_path, "sigmoid", 1e-2, noisy - 0.2)
    _run(tmp_path, "sigmoid", 1e-1, list(noisy[:7]) + [np.nan], diverged_step=8)
    df = summarise_lr_sweep(tmp_path)
    got = df.set_index(["attention", "lr"])
    assert got.loc[("softmax", 1e-3), "stable"] and got.loc[("softmax", 1e-2), "stable"]
    assert not got.loc[("softmax", 1e-1), "stable"]
    assert got.loc[("softmax", 1e-1), "final_vs_ref"] == pytest.approx(0.9)
    assert np.isnan(got.loc[("sigmoid", 1e-1), "final_loss"]) and not got.loc[("sigmoid", 1e-1), "stable"]
    assert (df["ref_lr"] == 1e-3).all() and (df["commit"] == "abc123").all()
    assert stability_frontier(df) == {"softmax": 1e-2, "sigmoid": 1e-2}


def test_frontier_stops_at_the_first_unstable_lr_and_is_nan_when_none_is_stable():
    sweep = pd.DataFrame({"attention": ["softmax"] * 3 + ["sigmoid"], "lr": [1e-3, 1e-2, 1e-1, 1e-3],
                          "stable": [True, False, True, False]})
    frontier = stability_frontier(sweep)
    assert frontier["softmax"] == 1e-3 and np.isnan(frontier["sigmoid"])


def test_summary_names_a_missing_sweep(tmp_path):
    with pytest.raises(FileNotFoundError, match="lr_sweep experiment"):
        summarise_lr_sweep(tmp_path)


def test_scorecard_row_is_untestable_when_the_ladder_never_destabilises_either_arm(tmp_path):
    sweep = pd.DataFrame({"attention": ["softmax", "softmax", "sigmoid", "sigmoid"], "lr": [1e-3, 1e-2] * 2,
                          "stable": [True] * 4, "diverged": [False] * 4})
    sweep.to_csv(tmp_path / "s.csv", index=False)
    assert lr_sweep_rows(tmp_path / "s.csv", "test")[0]["verdict"].startswith("untestable here")
    sweep.loc[1, "stable"] = False  # softmax unstable at 1e-2, sigmoid not: reproduced
    sweep.to_csv(tmp_path / "s.csv", index=False)
    assert lr_sweep_rows(tmp_path / "s.csv", "test")[0]["verdict"] == "reproduced"
    sweep.drop(columns="stable").to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(ValueError, match="lr_sweep_summary"):
        lr_sweep_rows(tmp_path / "s.csv", "test")
