import pandas as pd
import pytest

from scsigmoid.bench.reference import other_device, with_reference
from scsigmoid.bench.speedup import speedup_markdown, speedup_table

POINT = {"pass": "fwd", "head_dim": 64, "padding_pct": 25, "seq_len": 512}


def rows(*entries, warmup_ms=100.0, rep_ms=250.0):
    return pd.DataFrame([{**POINT, "impl": i, "ms_median": ms, "status": s, "warmup_ms": warmup_ms,
                          "rep_ms": rep_ms} for i, ms, s in entries])


def test_best_of_ours_and_each_variant():
    results = rows(("ours_padded", 2.0, "ok"), ("ours_varlen", 1.0, "ok"),
                   ("ours_dense_causal", 0.5, "ok"), ("fa2_varlen", 3.0, "ok"),
                   ("tritonsigmoid_padded", 1.5, "ok"), ("eager_sigmoid", 10.0, "skipped"))
    table = speedup_table(results)
    best = table[table["ours"] == "ours_best"].set_index("baseline")
    assert set(best.index) == {"fa2_varlen", "tritonsigmoid_padded"}  # skipped/causal dropped
    assert best.loc["fa2_varlen", "speedup"] == pytest.approx(3.0)
    assert best.loc["fa2_varlen", "ours_impl"] == "ours_varlen"
    assert best.loc["tritonsigmoid_padded", "speedup"] == pytest.approx(1.5)
    padded = table[(table["ours"] == "ours_padded") & (table["baseline"] == "fa2_varlen")]
    assert padded["speedup"].item() == pytest.approx(1.5)


def test_reference_joins_only_when_not_measured():
    results = rows(("ours_dense", 1.0, "ok"), ("flashsigmoid", 1.2, "unavailable"))
    reference = rows(("flashsigmoid", 1.1, "ok"))
    table = speedup_table(results, reference)
    assert set(table["baseline"]) == {"flashsigmoid_ref"}
    measured = rows(("ours_dense", 1.0, "ok"), ("flashsigmoid", 1.2, "ok"))
    assert set(speedup_table(measured, reference)["baseline"]) == {"flashsigmoid"}


def test_reference_from_another_gpu_is_left_out_and_said():
    results = rows(("ours_dense", 1.0, "ok"), ("flashsigmoid", 1.2, "unavailable")).assign(
        device="NVIDIA H100 80GB HBM3")
    reference = rows(("flashsigmoid", 1.1, "ok")).assign(device="NVIDIA H200")
    assert other_device(results, reference) == (
        "reference measured on h200, this benchmark on h100: not compared across GPUs")
    assert "flashsigmoid_ref" not in set(speedup_table(results, reference)["baseline"])
    drawn = with_reference(results, reference, same_device=False)  # a figure labels it instead
    assert "flashsigmoid_ref" in set(drawn["impl"])
    same = rows(("ours_dense", 1.0, "ok"), ("fa2_dense", 2.0, "ok")).assign(device="NVIDIA H200")
    assert other_device(same, reference) == ""
    md = speedup_markdown(speedup_table(same), left_out=other_device(results, reference))
    assert md.rstrip().endswith("External reference left out: reference measured on h200, this benchmark on "
                                "h100: not compared across GPUs.")


def test_markdown_lists_best_speedups():
    md = speedup_markdown(speedup_table(rows(("ours_dense", 1.0, "ok"), ("fa2_dense", 2.5, "ok"))))
    header, _, row = md.splitlines()[:3]
    assert [c.strip() for c in header.strip("|").split("|")][-1] == "fa2_dense"
    assert [c.strip() for c in row.strip("|").split("|")][-1] == "2.50x"
    assert "No point" in speedup_markdown(speedup_table(rows(("ours_dense", 1.0, "ok"))))


def test_bad_table_is_named():
    with pytest.raises(ValueError, match="lacks columns"):
        speedup_table(pd.DataFrame({"impl": ["x"]}))


def test_mixed_timing_settings_are_refused_or_labelled():
    ours_new = rows(("ours_padded", 1.0, "ok"))
    old = rows(("fa2_varlen", 3.0, "ok"), ("tritonsigmoid_padded", 2.0, "ok"), warmup_ms=25.0, rep_ms=100.0)
    results = pd.concat([ours_new, old], ignore_index=True)
    with pytest.raises(ValueError, match=r"mix do_bench timing settings.*100/250 ms \(1 points\).*25/100 ms \(2"):
        speedup_table(results)
    assert speedup_table(results, timing="100/250").empty  # no baseline at 100/250
    mixed = speedup_table(results, timing="mixed")
    best = mixed[mixed["ours"] == "ours_best"]
    assert set(best["baseline_timing"]) == {"25/100"} and set(best["ours_timing"]) == {"100/250"}
    md = speedup_markdown(mixed)
    assert "3.00x*" in md and "different settings" in md
    # the external reference (FlashSigmoid) is on record as 100/250: no mark against it
    ref = rows(("flashsigmoid", 1.5, "ok")).drop(columns=["warmup_ms", "rep_ms"])
    md_ref = speedup_markdown(speedup_table(ours_new, ref))
    cells = [c.strip() for c in md_ref.splitlines()[2].strip("|").split("|")]
    assert cells[-1] == "1.50x" and "*" not in md_ref
