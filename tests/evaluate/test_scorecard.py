"""Scorecard: verdicts from hand-made result tables; every verdict one of the outcomes; missing
inputs become 'untestable here' rows with the reason."""

from pathlib import Path

import pandas as pd
import pytest

from scsigmoid.evaluate.claim1 import claim1_table
from scsigmoid.evaluate.scorecard import (
    build_scorecard,
    compare_everywhere,
    speed_rows,
    tflops_interval,
)
from scsigmoid.evaluate.verdicts import OUTCOMES

FIXTURES = Path(__file__).parent / "fixtures"


def _write(df, path):
    df.to_csv(path, index=False)
    return path


def test_missing_inputs_are_untestable_not_errors(tmp_path):
    card = build_scorecard({"claim1": tmp_path / "nope.csv", "bench": None}, {})
    assert len(card) == 6  # one row per claim section
    assert (card["verdict"] == "untestable here").all()
    assert "nope.csv missing" in card.loc[card["source"].str.endswith("nope.csv"), "reason"].iloc[0]


def _claim1_csv(tmp_path):
    rows = []
    for d in ("a", "b"):
        rows.append({"dataset": d, "embedding": "X_pca_baseline", "n_cells": 100, "nmi": 0.6, "ari": 0.5,
                     "silhouette_label": 0.5, "bio_conservation": 0.5, "n_pcs": 40, "pc1_share": 0.1})
        for s in range(3):
            for att, v in (("softmax", 0.5 + 0.01 * s), ("sigmoid", 0.52 + 0.01 * s)):
                rows.append({"dataset": d, "embedding": f"X_{att}_mean_s{s}", "n_cells": 100, "nmi": v, "ari": v,
                             "silhouette_label": v, "bio_conservation": v, "n_pcs": 12, "pc1_share": 0.2})
    mmd = pd.DataFrame([{"dataset": d, "embedding": f"X_{att}_mean_s{s}", "mmd2_mean": v + 0.001 * s}
                        for d in ("a", "b") for s in range(3) for att, v in (("softmax", 1.0), ("sigmoid", 1.1))])
    table = claim1_table(context=4096, scib=pd.DataFrame(rows), mmd=mmd)
    runs = pd.DataFrame([{"run": f"small_4096_{a}_s{s}", "size": "small", "context": 4096, "attention": a,
                          "seed": s, "params_total": 17.2e6, "steps_done": 600, "tokens_seen": 4.4e6,
                          "cells_seen": None} for a in ("softmax", "sigmoid") for s in range(3)])
    return _write(table, tmp_path / "claim1.csv"), _write(runs, tmp_path / "runs.csv")


def test_claim1_rows_carry_interval_scale_and_verdict(tmp_path):
    claim1, runs = _claim1_csv(tmp_path)
    card = build_scorecard({"claim1": claim1, "runs": runs}, {}).set_index("part")
    sep = card.loc["cell-type separation (mean pairwise RBF MMD², mean-pool)"]
    assert sep["ours"].startswith("+10.0%") and sep["verdict"] == "reproduced"
    assert sep["interval"].startswith("[+") and "+25 % lies outside" in sep["reason"]
    nmi = card.loc["scIB Leiden NMI (PCA 95 %)"]
    assert nmi["interval"] == "[+0.0200, +0.0200]" and nmi["verdict"] == "reproduced"
    assert nmi["scale"] == ("small model (17.2M parameters), 4K context, 3 seeds per arm; per run (median): "
                            "600 steps, 4.4M tokens seen, cells seen not recorded")


def test_speed_rows_from_a_hand_made_gain_table():
    gains = pd.read_csv(FIXTURES / "gains.csv")
    rows = pd.DataFrame(speed_rows(gains, device="NVIDIA H200", definition="gain = sig / soft - 1"))
    rows = rows.set_index("part")
    first = rows.loc["training speed, 1.4B, 2048 context, full_context, sigmoid"]
    assert first["paper"] == "+2.1%" and first["interval"] == "[+1.5%, +2.5%]"  # median 2 % +- IQR 0.5
    assert first["verdict"] == "reproduced" and "paper ± 1% point = [+1.1%, +3.1%]" in first["reason"]
    assert "32,000 tokens / 18 cells a step, MFU 45%" in first["scale"]
    assert "eager" in first["scale"]  # the fixture predates the compile column
    assert "code" not in first["scale"]  # nor has it a commit column
    dated = pd.DataFrame(speed_rows(gains.assign(commit="9280c7344b40"), device="NVIDIA H200")).set_index("part")
    assert dated.loc["training speed, 1.4B, 2048 context, full_context, sigmoid", "scale"].endswith(
        "NVIDIA H200, code 9280c7344b40")
    compiled = pd.DataFrame(speed_rows(gains.assign(compile=True), device="NVIDIA H200")).set_index("part")
    assert "blocks compiled" in compiled.loc["training speed, 1.4B, 2048 context, full_context, sigmoid", "scale"]
    assert rows.loc["training speed, 1.4B, 2048 context, full_context, sigmoid_tritonsigmoid",
                    "verdict"] == "reproduced in direction only"  # [+1.0 %, +1.0 %] misses [1.1, 3.1]
    assert rows.loc["training speed, 1.4B, 4096 context, full_context, sigmoid", "verdict"] == "reproduced"
    assert rows.loc["training speed, 160M, 2048 context, full_context, sigmoid", "verdict"] == "not reproduced"
    assert rows.loc["training speed, 160M, 2048 context, corpus, sigmoid", "verdict"] == "inconclusive"
    assert rows.loc["training speed, 160M, 2048 context, corpus, sigmoid", "paper"] == "sigmoid faster (Fig 3)"
    best = rows.loc["training speed, best case (1.4B, 4096), full_context, sigmoid"]
    assert best["paper"] == "+10.0%" and best["verdict"] == "reproduced in direction only"
    assert rows.loc["training speed, best case (160M, 2048), corpus, sigmoid", "verdict"] == "inconclusive"
    assert set(rows["verdict"]) <= set(OUTCOMES)


def test_throughput_rows_use_the_training_packages_gain_table(tmp_path):
    pytest.importorskip("scsigmoid.train.throughput", reason="the lead's throughput module is not merged yet")
    card = build_scorecard({"throughput": FIXTURES / "throughput_long.csv"}, {}).set_index("part")
    row = card.loc["training speed, 1.4B, 2048 context, full_context, sigmoid"]
    assert row["interval"] == "[+1.5%, +2.5%]" and row["verdict"] == "reproduced"


def _bench(tmp_path):
    def point(impl, tflops, med, p20, p80, pad=0, L=4096, pass_="fwd"):
        return {"impl": impl, "pass": pass_, "head_dim": 128, "padding_pct": pad, "seq_len": L, "tflops": tflops,
                "ms_median": med, "ms_p20": p20, "ms_p80": p80, "status": "ok", "device": "NVIDIA H200"}
    rows = [point("tritonsigmoid_dense", 511.7, 4.297, 4.285, 4.350, L=16384),  # 511.7 x 4.297 / 4.285 = 513.1 TFLOPS at the p20 time
            point("ours_dense", 446.1, 2.4645, 2.3982, 2.4854, L=8192),
            point("tritonsigmoid_dense", 400.0, 1.00, 0.99, 1.01),
            point("fa2_dense", 380.0, 1.05, 1.04, 1.06),  # triton faster beyond the spread
            point("ours_dense", 370.0, 1.08, 1.03, 1.09),  # ours within fa2's spread
            point("tritonsigmoid_padded", 300.0, 1.0, 0.99, 1.01, pad=25),
            point("fa2_varlen", 320.0, 0.9, 0.89, 0.91, pad=25),  # triton padded slower beyond the spread
            point("ours_padded", 330.0, 0.88, 0.87, 0.885, pad=25)]  # faster beyond it
    return _write(pd.DataFrame(rows), tmp_path / "bench.csv")


def test_peak_rows_use_the_readoff_tolerance_and_name_the_true_reason(tmp_path):
    card = build_scorecard({"bench": _bench(tmp_path)}, {}).set_index("part")
    triton = card.loc["TritonSigmoid (authors'): peak TFLOPS"]
    assert triton["verdict"] == "reproduced" and triton["interval"] == "[505.5, 513.1]"
    assert "± 3 TFLOPS" in triton["reason"]
    ours = card.loc["our kernel: peak TFLOPS"]
    assert ours["verdict"] == "not reproduced"
    assert "reached 512 TFLOPS on the same GPU (NVIDIA H200): the gap is our kernel's" in ours["reason"]
    assert "different GPU" not in " ".join(card["verdict"])


def test_beats_everywhere_judged_beyond_the_spread(tmp_path):
    card = build_scorecard({"bench": _bench(tmp_path)}, {}).set_index("part")
    assert card.loc["TritonSigmoid (authors'): beats FlashAttention-2 everywhere", "verdict"] == "not reproduced"
    ours = card.loc["our kernel: beats FlashAttention-2 everywhere"]
    assert ours["verdict"] == "inconclusive" and "faster beyond the spread at 1, slower at 0, within it at 1" in ours["ours"]
    df = pd.read_csv(tmp_path / "bench.csv")
    assert compare_everywhere(df, {0: "tritonsigmoid_dense"}, {0: "fa2_dense"}) == (1, 0, 0)
    lo, hi = tflops_interval(df.iloc[0])
    assert (lo, hi) == pytest.approx((511.7 * 4.297 / 4.350, 511.7 * 4.297 / 4.285))


def test_flashsigmoid_claim_uses_the_external_reference(tmp_path):
    point = {"pass": "fwd", "head_dim": 128, "padding_pct": 0, "seq_len": 4096, "status": "ok"}
    bench = _write(pd.DataFrame([{**point, "impl": "ours_dense", "tflops": 450.0, "ms_median": 0.9, "ms_p20": 0.89,
                                  "ms_p80": 0.91},
                                 {**point, "impl": "flashsigmoid", "tflops": None, "status": "unavailable"}]),
                   tmp_path / "bench.csv")
    ref = _write(pd.DataFrame([{**point, "impl": "flashsigmoid", "tflops": 400.0, "ms_median": 1.0}]),
                 tmp_path / "ref.csv")
    card = build_scorecard({"bench": bench, "bench_reference": ref}, {}).set_index("part")
    row = card.loc["our kernel: beats FlashSigmoid without padding"]
    assert "(vs flashsigmoid_ref)" in row["ours"] and row["verdict"] == "reproduced"
    alone = build_scorecard({"bench": bench}, {}).set_index("part")
    assert alone.loc["our kernel: beats FlashSigmoid without padding", "verdict"] == "untestable here"


def test_flashsigmoid_reference_from_another_gpu_is_not_compared(tmp_path):
    point = {"pass": "fwd", "head_dim": 128, "padding_pct": 0, "seq_len": 4096, "status": "ok"}
    bench = _write(pd.DataFrame([{**point, "impl": "ours_dense", "tflops": 450.0, "ms_median": 0.9, "ms_p20": 0.89,
                                  "ms_p80": 0.91, "device": "NVIDIA H100 80GB HBM3"}]), tmp_path / "bench.csv")
    ref = _write(pd.DataFrame([{**point, "impl": "flashsigmoid", "tflops": 400.0, "ms_median": 1.0,
                                "device": "NVIDIA H200"}]), tmp_path / "ref.csv")
    row = build_scorecard({"bench": bench, "bench_reference": ref}, {}).set_index("part").loc[
        "our kernel: beats FlashSigmoid without padding"]
    assert (row["verdict"], row["ours"]) == ("untestable here", "no point compared")
    assert "reference measured on h200, this benchmark on h100: not compared across GPUs" in row["reason"]


def test_stress_row_states_the_trained_cell_lengths(tmp_path):
    stress = _write(pd.DataFrame({"step": [1, 2, 1, 2], "attention": ["softmax"] * 2 + ["sigmoid"] * 2,
                                  "loss": [5.0, 4.0, 5.0, 4.0], "grad_norm": [3.0, 4.1e5, 2.0, 1.5],
                                  "diverged_step": [2, 2, None, None], "context": 8192}), tmp_path / "stress.csv")
    lengths = _write(pd.DataFrame({"dataset": ["pretrain"] * 4 + ["other"], "split": ["train"] * 3 + ["val", "train"],
                                   "length": [70, 80, 9000, 5, 10000], "n_cells": [6, 3, 1, 50, 50]}),
                     tmp_path / "lengths.csv")
    row = build_scorecard({"stress": stress, "lengths": lengths}, {"stress": "160M"}).set_index("part").loc[
        "stress test without clipping"]
    assert row["verdict"] == "reproduced" and "largest gradient norm sigmoid 2, softmax 4.1e+05" in row["ours"]
    # train split of the pool: 70 x6, 80 x3, 9000 -> 8192 x1: median 70, 90 % up to 80, 10 % fill 8192
    assert row["scale"] == ("160M; trained on cells of 70 tokens (median; 90 % up to 80, longest 8,192; "
                            "10.0% fill the 8192 context)")


def test_stress_untestable_when_neither_diverged(tmp_path):
    stress = _write(pd.DataFrame({"step": [1, 2, 1, 2], "attention": ["softmax"] * 2 + ["sigmoid"] * 2,
                                  "loss": [5.0, 4.0, 5.0, 4.0]}), tmp_path / "stress.csv")
    row = build_scorecard({"stress": stress}, {}).iloc[2]
    assert row["verdict"] == "untestable here" and "neither arm diverged within 2 steps" in row["reason"]


def test_datasets_left_out_are_listed_with_the_reason_and_the_rest_still_judged(tmp_path):
    claim1, runs = _claim1_csv(tmp_path)  # datasets a and b have both arms
    summary = _write(pd.DataFrame({
        "dataset": ["pre", "a", "b", "bad", "new"], "role": ["pretrain", "eval", "eval", "eval", "eval"],
        "status": ["ok", "ok", "ok", "failed", "ok"],
        "reason": ["", "", "", "bad (/x/bad.h5ad): every value of X is zero", ""]}), tmp_path / "summary.csv")
    scib = _write(pd.DataFrame({"dataset": ["a", "a", "new"], "model": ["pca_baseline", "sigmoid", "pca_baseline"],
                                "view": ["pca", "mean", "pca"], "nmi_mean": [0.6, 0.5, 0.7]}), tmp_path / "scib.csv")
    card = build_scorecard({"claim1": claim1, "runs": runs, "datasets": summary, "scib": scib}, {})
    left = card[card["part"].str.endswith("not evaluated")].set_index("part")
    assert list(left.index) == ["dataset bad not evaluated", "dataset new not evaluated"]
    assert left.loc["dataset bad not evaluated", "reason"] == (
        "data check failed: bad (/x/bad.h5ad): every value of X is zero")
    assert left.loc["dataset new not evaluated", "reason"].startswith("no model embeddings: PCA baseline only")
    assert "train.checkpoints" in left.loc["dataset new not evaluated", "reason"]
    assert (left["verdict"] == "untestable here").all() and (left["claim"] == "1").all()
    # the claims are judged from the datasets that were evaluated
    judged = card.set_index("part").loc["scIB Leiden NMI (PCA 95 %)"]
    assert judged["verdict"] == "reproduced" and "mean over 2 datasets" in judged["ours"]
    # a configured summary that is missing is said so; none configured lists nothing
    card = build_scorecard({"claim1": claim1, "datasets": tmp_path / "none.csv"}, {})
    assert "none.csv missing" in card.loc[card["part"] == "eval datasets not evaluated", "reason"].iloc[0]
    assert not build_scorecard({"claim1": claim1}, {})["part"].str.contains("not evaluated").any()


def test_a_context_without_runs_reads_not_measured(tmp_path):
    losses = pd.DataFrame([{"dataset": "a", "masking_seed": 0, "loss": 3.0, "context": 4096, "attention": a,
                            "seed": s, "size": "small", "run": f"small_4096_{a}_s{s}"}
                           for a in ("softmax", "sigmoid") for s in range(3)])
    table = claim1_table(context=4096, val_losses=losses, contexts=[2048, 4096])
    card = build_scorecard({"claim1": _write(table, tmp_path / "claim1.csv")}, {}).set_index("part")
    row = card.loc["validation masked-LM loss, context 2048"]
    assert row["ours"] == "not measured (no runs)" and row["verdict"] == "untestable here"
    assert "no runs at context 2048" in row["reason"]


def test_speed_row_is_inconclusive_when_time_outside_kernels_differs_between_arms():
    """The throughput part's kernel-time audit: where the share of a step outside GPU kernels
    differs between the arm and softmax by more than 1 point, the wall-clock gain does not isolate
    the kernels (inconclusive); within it, the check and the clocks are reported and the verdict
    stands; the audit's own kernel-time gain is reported, not judged (clocks move under the cap)."""
    gains = pd.read_csv(FIXTURES / "gains.csv").assign(compile=True)  # 1.4B 2K sigmoid: +2 %, [+1.5, +2.5]
    part = "training speed, 1.4B, 2048 context, full_context, sigmoid"

    def row(**audit):
        return pd.DataFrame(speed_rows(gains.assign(**audit))).set_index("part").loc[part]
    same = row(outside_kernels_share=0.010, softmax_outside_kernels_share=0.012, kernel_gain=-0.03,
               sm_clock_mhz=1748.0, softmax_sm_clock_mhz=1848.0)
    assert same["verdict"] == "reproduced"
    assert "1.0% of a step outside GPU kernels (sigmoid) vs 1.2% (softmax), kernel-time gain -3.0%" in same["reason"]
    assert "1748 vs 1848 MHz" in same["reason"]
    apart = row(outside_kernels_share=0.01, softmax_outside_kernels_share=0.05, kernel_gain=0.0)
    assert apart["verdict"] == "inconclusive" and "does not isolate the kernels" in apart["reason"]
    assert row()["verdict"] == "reproduced" and "audit" not in row()["reason"]  # no audit: no check
