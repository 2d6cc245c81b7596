"""Evaluation tables: Table 5 statistics and bold, MMD relative change, run names."""

import pandas as pd
import pytest

from scsigmoid.evaluate.tables import (
    mmd_table,
    parse_run,
    read_val_losses,
    validation_loss_table,
)


def test_parse_run():
    assert parse_run("small_4096_sigmoid") == {"size": "small", "context": 4096, "attention": "sigmoid"}
    with pytest.raises(ValueError, match="<size>_<context>"):
        parse_run("small_sigmoid")


def test_validation_loss_table(tmp_path):
    paths = {}
    for run, base in (("s_2048_softmax", 3.0), ("s_2048_sigmoid", 2.0), ("s_4096_softmax", 2.5)):
        paths[run] = tmp_path / f"{run}.csv"
        pd.DataFrame({"dataset": ["d1"] * 3 + ["d2"] * 3, "seed": [0, 1, 2] * 2,
                      "loss": [base, base + 0.2, base + 0.4, base + 1, base + 1, base + 1],
                      "n_cells": 10}).to_csv(paths[run], index=False)
    tidy, md = validation_loss_table(read_val_losses(paths))
    row = tidy[(tidy["run"] == "s_2048_sigmoid") & (tidy["dataset"] == "d1")].iloc[0]
    assert row["loss_mean"] == pytest.approx(2.2) and row["loss_sd"] == pytest.approx(0.2)
    assert row["n_seeds"] == 3 and row["context"] == 2048
    assert "**2.2000 ± 0.2000**" in md and "**3.2000" not in md and "**3.0000 ± 0.0000**" in md
    assert md.count("**") == 4  # one bold cell per dataset


def test_val_loss_missing_column(tmp_path):
    path = tmp_path / "v.csv"
    pd.DataFrame({"dataset": ["a"], "loss": [1.0]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="seed"):
        read_val_losses({"s_2048_softmax": path})


def test_mmd_table_relative_change_and_markdown():
    per = pd.DataFrame({"dataset": ["a", "a", "b", "b"],
                        "embedding": ["X_softmax_mean", "X_sigmoid_mean"] * 2,
                        "mmd2_mean": [0.4, 0.5, 0.2, 0.1]})
    wide = mmd_table(per).set_index("dataset")
    assert wide.loc["a", "sigmoid_vs_softmax"] == pytest.approx(0.25)
    assert wide.loc["b", "sigmoid_vs_softmax"] == pytest.approx(-0.5)
