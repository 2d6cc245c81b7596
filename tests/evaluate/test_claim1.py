"""Claim-1 table: the one MMD definition, untestable gates, verdicts from hand-worked intervals."""

import numpy as np
import pandas as pd
import pytest

from scsigmoid.evaluate.claim1 import claim1_table, summary_rows, usability
from scsigmoid.evaluate.stats import ALL_DATASETS

T975_DF2 = 4.303
USABLE = {"min_pcs": 10, "nmi_vs_baseline": 0.5, "datasets_share": 2 / 3}


def _scib(datasets=("a", "b"), seeds=(0, 1, 2), n_pcs=20, nmi_model=0.5, nmi_base=0.8, sig_gain=0.02):
    rows = []
    for d in datasets:
        rows.append({"dataset": d, "embedding": "X_pca_baseline", "n_cells": 100, "nmi": nmi_base, "ari": 0.5,
                     "silhouette_label": 0.5, "bio_conservation": 0.6, "n_pcs": 40, "pc1_share": 0.1})
        for s in seeds:
            for att, gain in (("softmax", 0.0), ("sigmoid", sig_gain)):
                for view in ("mean", "cls"):
                    v = nmi_model + gain + 0.001 * s
                    rows.append({"dataset": d, "embedding": f"X_{att}_{view}_s{s}", "n_cells": 100, "nmi": v,
                                 "ari": v, "silhouette_label": v, "bio_conservation": v, "n_pcs": n_pcs,
                                 "pc1_share": 0.3})
    return pd.DataFrame(rows)


def _mmd(values, seeds=(0, 1, 2)):
    """values: dataset -> (softmax, sigmoid, sigmoid step per seed)."""
    rows = []
    for d, (soft, sig, step) in values.items():
        for s in seeds:
            rows += [{"dataset": d, "embedding": f"X_softmax_mean_s{s}", "mmd2_mean": soft},
                     {"dataset": d, "embedding": f"X_sigmoid_mean_s{s}", "mmd2_mean": sig + step * s},
                     {"dataset": d, "embedding": f"X_softmax_cls_s{s}", "mmd2_mean": 99.0}]
    return pd.DataFrame(rows)


def test_mmd_is_the_mean_of_per_dataset_relative_changes():
    # a: 10 -> 8 (-20 %), b: 0.1 -> 0.15 (+50 %): mean of changes +15 %, whereas the ratio of the
    # across-dataset means, (8.15 - 10.1) / 10.1, would be -19.3 % (the sign flips)
    mmd = _mmd({"a": (10.0, 8.0, 0.1), "b": (0.1, 0.15, 0.001)})
    table = claim1_table(context=4096, scib=_scib(), mmd=mmd, usable=USABLE)
    sep = table[table["metric"] == "separation"].set_index("dataset")
    assert sep.loc["a", "effect"] == pytest.approx(np.mean([-0.2, -0.19, -0.18]))
    assert sep.loc["b", "effect"] == pytest.approx(np.mean([0.5, 0.51, 0.52]))
    row = sep.loc[ALL_DATASETS]
    assert row["effect"] == pytest.approx(0.16) and row["effect_kind"] == "relative change"
    assert row["lo"] == pytest.approx(0.16 - T975_DF2 * 0.01 / np.sqrt(3), rel=1e-3)
    assert row["verdict"] == "reproduced" and sep.loc["a", "verdict"] == "not reproduced"


def test_scib_rows_use_the_mean_view_and_judge_by_the_interval():
    table = claim1_table(context=4096, scib=_scib(sig_gain=0.02), usable=USABLE)
    nmi = summary_rows(table).set_index("metric").loc["nmi"]
    # every seed differs by exactly +0.02: a zero-width interval at +0.02
    assert nmi["effect"] == pytest.approx(0.02) and nmi["lo"] == pytest.approx(0.02)
    assert nmi["verdict"] == "reproduced" and nmi["reason"] == "" and nmi["context"] == 4096
    flat = claim1_table(context=4096, scib=_scib(sig_gain=0.0), usable=USABLE)
    assert summary_rows(flat).set_index("metric").loc["nmi", "verdict"] == "inconclusive"


def test_cell_bootstrap_widens_the_scib_interval():
    scib = _scib(sig_gain=0.02)
    boot = []
    for d in ("a", "b"):
        for b in range(41):  # effects -0.20..0.20; quantiles at positions 1 and 39 of 40: -0.19, 0.19
            for s in (0, 1, 2):
                for att, v in (("softmax", 0.5), ("sigmoid", 0.5 + (b - 20) / 100)):
                    boot.append({"dataset": d, "embedding": f"X_{att}_mean_s{s}", "replicate": b,
                                 "nmi": v, "ari": v, "silhouette_label": v, "bio_conservation": v})
    table = claim1_table(context=4096, scib=scib, scib_boot=pd.DataFrame(boot), usable=USABLE)
    nmi = summary_rows(table).set_index("metric").loc["nmi"]
    assert nmi["cell_halfwidth"] == pytest.approx(0.19)
    assert nmi["verdict"] == "inconclusive"  # +0.02 +- 0.19 straddles 0


def test_fewer_than_three_seeds_is_untestable():
    table = claim1_table(context=4096, scib=_scib(seeds=(0, 1)), usable=USABLE)
    row = summary_rows(table).iloc[0]
    assert row["verdict"] == "untestable here" and "fewer than 3 seeds" in row["reason"]


def test_degenerate_embeddings_are_untestable_with_the_numbers():
    table = claim1_table(context=4096, scib=_scib(n_pcs=2), mmd=_mmd({"a": (1, 2, 0.1), "b": (1, 2, 0.1)}),
                         usable=USABLE)
    rows = summary_rows(table)
    assert (rows["verdict"] == "untestable here").all()
    assert rows["reason"].str.contains("median 2 PCA components").all()


def test_little_signal_against_the_baseline_is_untestable():
    reason, diag = usability(_scib(nmi_model=0.3, sig_gain=0.05, nmi_base=0.8), **USABLE)
    assert reason.startswith("embeddings carry little cell-type signal") and "0/2 datasets" in reason
    ok, diag = usability(_scib(nmi_model=0.39, sig_gain=0.02, nmi_base=0.8), **USABLE)  # 0.41 >= 0.4
    assert ok is None and "2/2 datasets" in diag


def test_validation_loss_rows_lower_is_better_and_leave_pretrain_val_out_of_the_mean():
    rows = []
    for ctx in (2048, 4096):
        for s in range(3):
            for d, soft, sig in (("a", 3.0, 2.9), ("b", 3.0, 2.8), ("pretrain_val", 3.0, 4.0)):
                for m in (0, 1):
                    rows += [{"dataset": d, "masking_seed": m, "loss": soft + 0.01 * s, "context": ctx,
                              "attention": "softmax", "seed": s, "size": "x", "run": f"x_{ctx}_softmax_s{s}"},
                             {"dataset": d, "masking_seed": m, "loss": sig + 0.01 * s, "context": ctx,
                              "attention": "sigmoid", "seed": s, "size": "x", "run": f"x_{ctx}_sigmoid_s{s}"}]
    table = claim1_table(context=4096, val_losses=pd.DataFrame(rows))
    rows = summary_rows(table).set_index("context")
    assert rows.loc[2048, "effect"] == pytest.approx(-0.15)  # mean of -0.1 and -0.2; pretrain_val left out
    assert rows.loc[2048, "n_datasets"] == 2 and rows.loc[2048, "verdict"] == "reproduced"
    per = table.set_index(["context", "dataset"])
    assert per.loc[(4096, "pretrain_val"), "verdict"] == "not reproduced"


def _runs(tokens, stops=None):
    """tokens: (attention, seed) -> tokens seen, at context 4096; stops: (attention, seed) -> stop reason."""
    return pd.DataFrame([{"attention": a, "context": 4096, "seed": s, "tokens_seen": t, "steps_done": t / 1000,
                          "stop_reason": (stops or {}).get((a, s), "time_box")} for (a, s), t in tokens.items()])


def test_unequal_training_budgets_make_the_context_untestable():
    # the committed H200 runs of 2026-12-03: softmax s0/s2 100M tokens (12 runs at once), s1 79M,
    # sigmoid 77M (4 at once): the longer-trained arm would win by training
    unequal = _runs({("softmax", 0): 100e6, ("softmax", 1): 79e6, ("softmax", 2): 101e6,
                     ("sigmoid", 0): 77e6, ("sigmoid", 1): 77e6, ("sigmoid", 2): 77e6})
    table = claim1_table(context=4096, scib=_scib(sig_gain=0.02), usable=USABLE, runs=unequal, max_budget_gap=0.05)
    assert set(table["verdict"]) == {"untestable here"}
    reason = summary_rows(table).iloc[0]["reason"]
    assert "unequal training budgets" in reason and "softmax 100M / sigmoid 77M" in reason and "31%" in reason
    # within 5 %: judged by the interval as before (one seed 4 % apart)
    equal = _runs({("softmax", s): 100e6 for s in range(3)} | {("sigmoid", 0): 104e6, ("sigmoid", 1): 100e6,
                                                               ("sigmoid", 2): 99e6})
    table = claim1_table(context=4096, scib=_scib(sig_gain=0.02), usable=USABLE, runs=equal, max_budget_gap=0.05)
    assert summary_rows(table).set_index("metric").loc["nmi", "verdict"] == "reproduced"
    # equal medians but one seed pair 10 % apart still fails the rule
    one_off = _runs({("softmax", s): 100e6 for s in range(3)} | {("sigmoid", 0): 110e6, ("sigmoid", 1): 100e6,
                                                                 ("sigmoid", 2): 100e6})
    table = claim1_table(context=4096, scib=_scib(), usable=USABLE, runs=one_off, max_budget_gap=0.05)
    assert set(table["verdict"]) == {"untestable here"}
    # degenerate embeddings as well: both reasons, the budget first
    table = claim1_table(context=4096, scib=_scib(n_pcs=2), usable=USABLE, runs=unequal, max_budget_gap=0.05)
    reason = summary_rows(table).set_index("metric").loc["nmi", "reason"]
    assert reason.startswith("unequal training budgets") and "embeddings degenerate" in reason


def test_a_run_stopped_by_patience_is_not_a_budget_gap():
    # sigmoid s1 stopped improving at 60M tokens, the others ran their 100M: no budget holds it back
    tokens = {("softmax", s): 100e6 for s in range(3)} | {("sigmoid", 0): 100e6, ("sigmoid", 1): 60e6,
                                                         ("sigmoid", 2): 101e6}
    runs = _runs(tokens, stops={("sigmoid", 1): "patience"})
    table = claim1_table(context=4096, scib=_scib(sig_gain=0.02), usable=USABLE, runs=runs, max_budget_gap=0.05)
    assert summary_rows(table).set_index("metric").loc["nmi", "verdict"] == "reproduced"
    # the same run cut by the time box is a gap
    table = claim1_table(context=4096, scib=_scib(sig_gain=0.02), usable=USABLE, runs=_runs(tokens), max_budget_gap=0.05)
    assert set(table["verdict"]) == {"untestable here"}


def test_a_configured_context_without_runs_gets_an_untestable_row():
    rows = [{"dataset": d, "masking_seed": 0, "loss": 3.0 + (a == "sigmoid") * 0.1, "context": 4096,
             "attention": a, "seed": s, "size": "x", "run": f"x_4096_{a}_s{s}"}
            for d in ("a", "b") for a in ("softmax", "sigmoid") for s in range(3)]
    table = claim1_table(context=4096, val_losses=pd.DataFrame(rows), contexts=[2048, 4096])
    by_ctx = summary_rows(table).set_index("context")
    assert by_ctx.loc[2048, "verdict"] == "untestable here" and "no runs at context 2048" in by_ctx.loc[2048, "reason"]
    assert by_ctx.loc[4096, "verdict"] == "not reproduced"  # sigmoid 0.1 higher on every seed
    assert len(summary_rows(claim1_table(context=4096, val_losses=pd.DataFrame(rows), contexts=[4096]))) == 1
