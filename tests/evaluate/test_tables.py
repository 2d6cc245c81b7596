"""Evaluation tables: Table 5 over training seeds, scIB with diagnostics, MMD, run names."""

import numpy as np
import pandas as pd
import pytest

from scsigmoid.evaluate.tables import (
    mmd_table,
    parse_run,
    read_val_losses,
    scib_markdown,
    scib_table,
    validation_loss_table,
)


def test_parse_run():
    assert parse_run("small_4096_sigmoid_s2") == {"size": "small", "context": 4096, "attention": "sigmoid",
                                                  "seed": 2}
    assert parse_run("small_4096_sigmoid")["seed"] is None
    with pytest.raises(ValueError, match="<size>_<context>"):
        parse_run("small_sigmoid")


def _val_files(tmp_path, runs):
    paths = {}
    for run, d1, d2 in runs:
        paths[run] = tmp_path / f"{run}.csv"
        pd.DataFrame({"dataset": ["d1"] * 3 + ["d2"] * 3, "seed": [0, 1, 2] * 2,  # masking seeds
                      "loss": [d1 - 0.1, d1, d1 + 0.1] + [d2] * 3, "n_cells": 10}).to_csv(paths[run], index=False)
    return paths


def test_validation_loss_table_over_training_seeds(tmp_path):
    # per run: d1 = the middle value (mean over masks), d2 constant; three training seeds per arm
    runs = [(f"s_2048_softmax_s{k}", 3.0 + k, 2.0) for k in range(3)]
    runs += [(f"s_2048_sigmoid_s{k}", 2.5 + k, 2.1) for k in range(3)]
    losses = read_val_losses(_val_files(tmp_path, runs))
    assert {"masking_seed", "seed"} <= set(losses.columns) and set(losses["seed"]) == {0, 1, 2}
    tidy, md = validation_loss_table(losses)
    row = tidy[(tidy["attention"] == "sigmoid") & (tidy["dataset"] == "d1")].iloc[0]
    half = 4.303 * 1.0 / np.sqrt(3)  # seeds 2.5, 3.5, 4.5: sd 1
    assert row["loss_mean"] == pytest.approx(3.5) and row["n_seeds"] == 3 and row["context"] == 2048
    assert row["loss_hi"] == pytest.approx(3.5 + half, rel=1e-3)
    assert row["masking_sd_mean"] == pytest.approx(0.1)
    assert "**3.5000 [" in md and "**2.0000" in md  # lowest mean per dataset in bold
    assert "-0.5000 [-0.5000, -0.5000]" in md  # paired by seed: every seed differs by exactly -0.5


def test_val_loss_refuses_runs_without_seed_and_missing_columns(tmp_path):
    paths = _val_files(tmp_path, [("s_2048_softmax", 3.0, 2.0)])
    with pytest.raises(ValueError, match="training seed"):
        read_val_losses(paths)
    path = tmp_path / "v.csv"
    pd.DataFrame({"dataset": ["a"], "loss": [1.0]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="seed"):
        read_val_losses({"s_2048_softmax_s0": path})


def test_scib_table_intervals_diagnostics_and_benchmarker_aggregate():
    rows = []
    for seed, nmi in enumerate([0.2, 0.3, 0.4]):
        rows.append({"dataset": "a", "embedding": f"X_sigmoid_mean_s{seed}", "n_cells": 50, "nmi": nmi,
                     "ari": 0.1, "silhouette_label": 0.5, "bio_conservation": 0.3, "n_pcs": 2 + seed,
                     "pc1_share": 0.9})
    rows.append({"dataset": "a", "embedding": "X_pca_baseline", "n_cells": 50, "nmi": 0.8, "ari": 0.6,
                 "silhouette_label": 0.55, "bio_conservation": 0.65, "n_pcs": 40, "pc1_share": 0.1})
    bench = pd.DataFrame({"dataset": "a", "embedding": ["X_sigmoid_mean_s0", "X_sigmoid_mean_s1", "X_pca_baseline",
                                                        "X_sigmoid_mean_s0"],
                          "metric": ["Bio conservation", "Bio conservation", "Bio conservation", "KMeans NMI"],
                          "value": [0.2, 0.4, 0.7, 0.9]})
    table = scib_table(pd.DataFrame(rows), bench).set_index(["model", "view"])
    sig = table.loc[("sigmoid", "mean")]
    assert sig["nmi_mean"] == pytest.approx(0.3) and sig["n_seeds"] == 3
    assert sig["nmi_lo"] == pytest.approx(0.3 - 4.303 * 0.1 / np.sqrt(3), rel=1e-3)
    assert sig["n_pcs_median"] == 3 and sig["n_pcs_min"] == 2 and sig["pc1_share_median"] == pytest.approx(0.9)
    assert sig["benchmarker_bio_conservation_mean"] == pytest.approx(0.3)  # the aggregate only, not KMeans NMI
    assert np.isnan(table.loc[("pca_baseline", "pca"), "nmi_lo"])  # one baseline: no interval
    md = scib_markdown(table.reset_index())
    assert "0.3000 [" in md and "3 (90%)" in md and "0.3000 / 0.3000" in md and "PCA baseline" in md


def test_mmd_table_per_embedding():
    per = pd.DataFrame({"dataset": "a", "embedding": ["X_softmax_mean_s0", "X_softmax_mean_s1", "X_pca_baseline"],
                        "mmd2_mean": [0.4, 0.6, 0.9]})
    table = mmd_table(per).set_index("model")
    assert table.loc["softmax", "separation_mean"] == pytest.approx(0.5)
    assert table.loc["softmax", "n_seeds"] == 2


def test_datasets_not_evaluated_from_the_summary_and_the_scores():
    from scsigmoid.evaluate.tables import datasets_not_evaluated, not_evaluated_markdown

    summary = pd.DataFrame({"dataset": ["p", "a", "z", "x"], "role": ["pretrain", "eval", "eval", "extra"],
                            "status": ["failed", "ok", "failed", "failed"],
                            "reason": ["pretrain reason", "", "z (/d/z.h5ad): 0 cells", "extra reason"]})
    per_dataset = pd.DataFrame({"dataset": ["a", "a", "b"],
                                "embedding": ["X_pca_baseline", "X_softmax_mean_s0", "X_pca_baseline"]})
    table = datasets_not_evaluated(summary, per_dataset)
    assert list(table["dataset"]) == ["z", "b"]  # eval datasets only; 'a' has a model
    assert table["reason"].iloc[0] == "data check failed: z (/d/z.h5ad): 0 cells"
    assert table["reason"].iloc[1].startswith("no model embeddings")
    md = not_evaluated_markdown(table)
    assert "### datasets not evaluated" in md and "| z " in md
    assert not_evaluated_markdown(datasets_not_evaluated(summary.iloc[:2])) == ""
