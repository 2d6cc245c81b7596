"""Fig 1 and the dataset table render from small CSVs."""

import pandas as pd
import pytest

from scsigmoid.plots.fig1_lengths import plot_fig1
from scsigmoid.plots.table_datasets import make_table


def test_fig1_renders(tmp_path):
    df = pd.DataFrame({"dataset": ["pretrain"] * 3 + ["ev"] * 2, "split": ["train"] * 5,
                       "length": [10, 3000, 9000, 50, 60], "n_cells": [5, 3, 1, 2, 2]})
    df.to_csv(tmp_path / "lengths.csv", index=False)
    plot_fig1(tmp_path / "lengths.csv", tmp_path / "fig1")
    assert (tmp_path / "fig1.pdf").stat().st_size > 0 and (tmp_path / "fig1.png").stat().st_size > 0


def test_fig1_needs_pretrain_rows(tmp_path):
    pd.DataFrame({"dataset": ["ev"], "length": [5], "n_cells": [1]}).to_csv(tmp_path / "l.csv")
    with pytest.raises(ValueError, match="no 'pretrain' rows"):
        plot_fig1(tmp_path / "l.csv", tmp_path / "fig1")


def test_table_lists_failed_datasets_below(tmp_path):
    row = {"dataset": "ev", "role": "eval", "species": "human", "scale": "counts",
           "source": "local:ev.h5ad", "status": "ok", "reason": "", "cells": 8,
           "cells_tokenised": 8, "genes": 5, "genes_in_vocab": 4, "genes_not_in_vocab": 1,
           "vocab_coverage": 1.0, "cell_types": 4, "batches": 0, "median_length": 4.0,
           "frac_le_2048": 1.0, "frac_le_4096": 1.0}
    bad = {"dataset": "bad", "role": "eval", "species": "human", "scale": "auto",
           "source": "local:bad.h5ad", "status": "failed",
           "reason": "bad (/x/bad.h5ad): every value of X is zero"}
    pd.DataFrame([row, bad]).to_csv(tmp_path / "s.csv", index=False)  # failed: empty numbers
    make_table(tmp_path / "s.csv", tmp_path / "t.csv", tmp_path / "t.md")
    md = (tmp_path / "t.md").read_text()
    row = md.splitlines()[2]
    assert [c.strip() for c in row.strip("|").split("|")][:13] == \
        ["ev", "eval", "human", "counts", "8", "8", "5", "4", "1", "100.0%", "4", "0", "4"]
    table, failed = md.split("failed their data check")
    assert "| bad " not in table
    assert "- bad (eval): bad (/x/bad.h5ad): every value of X is zero" in failed
    csv = pd.read_csv(tmp_path / "t.csv").set_index("dataset")
    assert csv["status"].to_dict() == {"bad": "failed", "ev": "ok"}
    assert csv.loc["ev", "cell types"] == 4 and pd.isna(csv.loc["bad", "cell types"])
