"""Fig 4 (left, with the seed spread) and Fig 6 (with the trained cell lengths) render from small
CSVs; the seed spread of the loss curves on hand-worked logs."""

import numpy as np
import pandas as pd
import pytest

from scsigmoid.plots.fig4_loss import plot_fig4_loss, seed_spread
from scsigmoid.plots.fig6_stress import plot_fig6


def test_seed_spread_hand_worked():
    logs = {0: pd.DataFrame({"step": [1, 2, 3], "loss": [9.0, 8.0, 7.0]}),
            1: pd.DataFrame({"step": [1, 2], "loss": [7.0, 6.0]})}  # seed 1 stopped early
    spread = seed_spread(logs, smooth=1).set_index("step")
    assert spread.loc[1, "mean"] == pytest.approx(8.0) and spread.loc[1, "lo"] == 7.0 and spread.loc[1, "hi"] == 9.0
    assert spread.loc[3, "mean"] == pytest.approx(7.0) and spread.loc[3, "n_seeds"] == 1
    smooth = seed_spread(logs, smooth=2).set_index("step")
    assert smooth.loc[2, "mean"] == pytest.approx((8.5 + 6.5) / 2)  # rolling means 8.5 and 6.5


def test_figures_render(tmp_path):
    logs = []
    for name in ("small_2048_softmax_s0", "small_2048_softmax_s1", "small_2048_sigmoid_s0", "small_4096_sigmoid_s0"):
        (tmp_path / name).mkdir()
        pd.DataFrame({"step": [1, 2, 3], "loss": [9.0, 8.0, 7.5]}).to_csv(tmp_path / name / "log.csv")
        logs.append(tmp_path / name / "log.csv")
    plot_fig4_loss(logs, tmp_path / "fig4", scale="small model, 2 seeds")
    stress = pd.DataFrame({"attention": ["softmax"] * 3 + ["sigmoid"] * 3, "step": [1, 2, 3] * 2,
                           "loss": [9, 8, np.nan, 9, 8, 7], "grad_norm": [1, 2, np.nan, 1, 1, 1],
                           "max_logit_l0": [1, 5, 50, 1, 1, 2], "size": "160M", "context": 8192,
                           "peak_lr": 2e-3, "diverged_step": [3] * 3 + [np.nan] * 3})
    stress.to_csv(tmp_path / "stress.csv", index=False)
    sweep = pd.DataFrame({"attention": ["softmax"] * 2 + ["sigmoid"] * 2, "lr": [1e-3, 1e-2] * 2,
                          "final_loss": [5.0, np.nan, 5.1, 5.3],
                          "stable": [True, False, True, True], "size": "small", "context": 2048,
                          "steps": 300})
    sweep.to_csv(tmp_path / "sweep.csv", index=False)
    lengths = pd.DataFrame({"dataset": "pretrain", "split": "train", "length": [70, 9000], "n_cells": [9, 1]})
    assert plot_fig6(tmp_path / "stress.csv", tmp_path / "sweep.csv", tmp_path / "fig6", lengths=lengths) == {
        "sigmoid": 1e-2, "softmax": 1e-3}
    for stem in ("fig4", "fig6"):
        for ext in ("pdf", "png"):
            assert (tmp_path / f"{stem}.{ext}").stat().st_size > 1000
