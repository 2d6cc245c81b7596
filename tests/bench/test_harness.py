import numpy as np
import pandas as pd
import pytest
import torch
from bench_helpers import PROV, TINY, FakeTimer

from scsigmoid.bench import harness
from scsigmoid.bench.adapters import EagerSigmoid, TritonSigmoidPadded
from scsigmoid.bench.eager import eager_attention
from scsigmoid.bench.harness import RESULT_COLUMNS, fill_unmeasured, merge_parts, run_benchmark
from scsigmoid.bench.protocol import attention_flops, derive_shape, sample_lengths


class Wrong(EagerSigmoid):
    name = "wrong"

    def forward(self, q, k, v, inputs, state):
        return eager_attention(q, k, v, inputs.lengths, scale=3 * inputs.scale)


class Exploding(EagerSigmoid):
    name = "exploding"

    def prepare(self, inputs):
        if inputs.seq_len == 64:
            raise RuntimeError("kernel launch failed")
        return super().prepare(inputs)


def test_schema_and_tflops(cpu_kwargs, fake_timer):
    df = run_benchmark([EagerSigmoid()], TINY, [16], ["fwd", "bwd"], PROV, **cpu_kwargs)
    assert list(df.columns) == RESULT_COLUMNS
    assert (df["warmup_ms"] == 1).all() and (df["rep_ms"] == 1).all()  # TINY's do_bench settings
    assert df["host_ms"].isna().all()  # medians of 3 ms: above HOST_TIMING_MAX_MS, not measured
    assert (df["config"].fillna("") == "").all()  # eager launches no tuned kernels
    assert len(df) == 2 * 2 * 2  # passes x paddings x seq_lens
    assert (df["status"] == "ok").all()
    assert (df["device"] == "cpu").all() and (df["commit"] == "c").all()
    row = df[(df["pass"] == "bwd") & (df["padding_pct"] == 25) & (df["seq_len"] == 64)].iloc[0]
    shape = derive_shape(128, 32, 64, 16, 25)
    assert (row["batch"], row["heads"]) == (shape.batch, shape.heads)
    flops = attention_flops(sample_lengths(shape.batch, 64, 25, 0), shape.heads, 16, "bwd")
    assert row["ms_median"] == 3.0 and row["ms_p20"] == pytest.approx(1.8)
    assert row["tflops"] == pytest.approx(flops / 3e-3 / 1e12)
    assert fake_timer.calls == len(df)


def test_wrong_kernel_is_not_timed(cpu_kwargs, fake_timer):
    df = run_benchmark([Wrong()], TINY, [16], ["fwd"], PROV, **cpu_kwargs)
    assert (df["status"] == "failed_check").all()
    assert df["reason"].str.contains("rel. error").all()
    assert df["ms_median"].isna().all()
    assert fake_timer.calls == 0


@pytest.mark.skipif(harness.torch.cuda.is_available(), reason="checks the no-GPU path")
def test_unavailable_implementation_gets_rows(cpu_kwargs):
    df = run_benchmark([TritonSigmoidPadded()], TINY, [16], ["fwd"], PROV, **cpu_kwargs)
    assert len(df) == 4 and (df["status"] == "unavailable").all()
    assert df["reason"].str.contains("CUDA").all()


def test_failure_at_one_point_is_a_row_not_a_crash(cpu_kwargs):
    df = run_benchmark([Exploding()], TINY, [16], ["fwd"], PROV, **cpu_kwargs)
    bad = df[df["seq_len"] == 64]
    assert (bad["status"] == "error").all() and bad["reason"].str.contains("launch").all()
    assert (df[df["seq_len"] == 32]["status"] == "ok").all()


def test_memory_guard_gives_oom_rows_without_trying(monkeypatch, cpu_kwargs, fake_timer):
    monkeypatch.setattr(harness, "_free_bytes", lambda device: 1000)
    df = run_benchmark([EagerSigmoid()], TINY, [16], ["bwd"], PROV, **cpu_kwargs)
    assert (df["status"] == "oom").all()
    assert df["reason"].str.contains("not attempted: needs ~").all() and df["reason"].str.contains("GiB").all()
    assert fake_timer.calls == 0
    assert (df["warmup_ms"] == TINY.warmup_ms).all() and (df["rep_ms"] == TINY.rep_ms).all()


def test_time_cap_skips_slow_calls(cpu_kwargs):
    cfg = harness.BenchConfig(**{**TINY.__dict__, "time_cap_ms": 0.0})
    df = run_benchmark([EagerSigmoid()], cfg, [16], ["fwd"], PROV, **cpu_kwargs)
    assert (df["status"] == "skipped").all() and df["reason"].str.contains("cap").all()


def test_host_time_is_measured_for_fast_calls(cpu_kwargs):
    df = run_benchmark([EagerSigmoid()], TINY, [16], ["fwd"], PROV,
                       **{**cpu_kwargs, "timer": FakeTimer((0.1, 0.2, 0.3))})
    assert (df["host_ms"] > 0).all() and (df["ms_median"] == 0.2).all()


def test_host_ms_is_wall_time_per_call(monkeypatch):
    clock = iter([10.0, 10.05])  # 50 ms for 10 calls
    calls = []
    monkeypatch.setattr(harness.time, "perf_counter", lambda: next(clock))
    assert harness.host_ms(lambda: calls.append(1), "cpu", calls=10) == pytest.approx(5.0)
    assert len(calls) == 10


def test_merge_parts_sorts_and_rejects_duplicates(cpu_kwargs):
    fwd = run_benchmark([EagerSigmoid()], TINY, [16], ["fwd"], PROV, **cpu_kwargs)
    bwd = run_benchmark([EagerSigmoid()], TINY, [16], ["bwd"], PROV, **{**cpu_kwargs,
                                                                        "timer": FakeTimer()})
    merged = merge_parts([fwd, bwd])
    assert len(merged) == len(fwd) + len(bwd) and list(merged.columns) == RESULT_COLUMNS
    with pytest.raises(ValueError, match="repeat"):
        merge_parts([fwd, fwd])
    with pytest.raises(ValueError, match="lacks columns"):
        merge_parts([fwd.drop(columns=["tflops"])])
    # a re-measurement replaces the earlier rows only when asked to
    again = fwd.assign(ms_median=fwd["ms_median"] * 2)
    notes = []
    merged = merge_parts([fwd, bwd, again.iloc[:3]], replace_points=True, notes=notes)
    assert len(merged) == len(fwd) + len(bwd)
    key = ["impl", "pass", "head_dim", "padding_pct", "seq_len"]
    got = merged.set_index(key)["ms_median"]
    for _, row in again.iloc[:3].iterrows():
        assert got.loc[tuple(row[key])] == row["ms_median"]
    assert notes == ["3 rows replaced by later parts' rows of the same point"]
    with pytest.raises(ValueError, match="no benchmark parts"):
        merge_parts([])


def test_fill_unmeasured_names_every_missing_point_and_keeps_measured_rows(cpu_kwargs):
    fwd = run_benchmark([EagerSigmoid()], TINY, [16], ["fwd"], PROV, **cpu_kwargs)
    cut = fwd.iloc[1:]  # as if the first point had not been reached
    full = fill_unmeasured(cut, TINY, head_dims=[16], passes=["fwd", "bwd"], reason="lease ended",
                           provenance=PROV)
    assert len(full) == 2 * len(fwd) and list(full.columns) == RESULT_COLUMNS
    new = full[full["status"] == "not_measured"]
    assert len(new) == len(fwd) + 1 and (new["reason"] == "lease ended").all()
    assert new["ms_median"].isna().all() and (new["batch"] > 0).all()
    key = ["impl", "pass", "head_dim", "padding_pct", "seq_len"]
    assert not full.duplicated(key).any()
    assert full.merge(cut, on=list(cut.columns)).shape[0] == len(cut)  # measured rows untouched
    assert fill_unmeasured(fwd, TINY, [16], ["fwd"], "x", PROV) is fwd  # nothing missing


@pytest.mark.skipif(harness.torch.cuda.is_available(), reason="needs TritonSigmoid unavailable")
def test_fill_unmeasured_says_why_an_implementation_cannot_run(cpu_kwargs):
    fwd = run_benchmark([EagerSigmoid(), TritonSigmoidPadded()], TINY, [16], ["fwd"], PROV, **cpu_kwargs)
    full = fill_unmeasured(fwd, TINY, head_dims=[16], passes=["fwd", "bwd"], reason="lease ended",
                           provenance=PROV)
    new = full[full["status"] == "not_measured"]
    ts = new[new["impl"] == "tritonsigmoid_padded"]
    assert len(ts) == 4 and ts["reason"].str.startswith("cannot run on cpu: needs a CUDA GPU").all()
    assert (new.loc[new["impl"] == "eager_sigmoid", "reason"] == "lease ended").all()
    assert new[["warmup_ms", "rep_ms", "host_ms"]].isna().all().all()


def test_rows_written_and_read_back_keep_schema(tmp_path, cpu_kwargs):
    df = run_benchmark([EagerSigmoid()], TINY, [16], ["fwd"], PROV, **cpu_kwargs)
    path = tmp_path / "x.csv"
    df.to_csv(path, index=False)
    back = pd.read_csv(path)
    assert list(back.columns) == RESULT_COLUMNS
    assert np.allclose(back["tflops"], df["tflops"])


def test_old_parts_get_the_timing_settings_on_record(cpu_kwargs):
    """Parts written before warmup_ms/rep_ms existed: the settings come from the commit in their
    rows (KNOWN_TIMING, from results/README.md); an unknown commit gets NaN and a note."""
    fwd = run_benchmark([EagerSigmoid()], TINY, [16], ["fwd"], PROV, **cpu_kwargs)
    old = fwd.drop(columns=list(harness.LATER_COLUMNS))
    session2 = old.assign(commit="6bedcdcd485a", **{"pass": "bwd"})
    v0 = old.assign(commit="f4f97c86ec87", head_dim=8)
    unknown = old.assign(commit="0123456789ab", head_dim=4)
    notes = []
    merged = merge_parts([session2, v0, unknown, fwd], notes=notes)
    by_commit = merged.groupby("commit")[["warmup_ms", "rep_ms"]].first()
    assert tuple(by_commit.loc["6bedcdcd485a"]) == (25.0, 100.0)
    assert tuple(by_commit.loc["f4f97c86ec87"]) == (100.0, 250.0)
    assert merged.loc[merged["commit"] == "0123456789ab", ["warmup_ms", "rep_ms"]].isna().all().all()
    assert tuple(by_commit.loc["c"]) == (1.0, 1.0)  # the new part keeps its own columns
    assert any("0123456789ab" in n and "NaN" in n for n in notes)
    assert merged.loc[merged["commit"] != "c", "host_ms"].isna().all()


def test_warm_only_runs_each_point_once_and_times_nothing(cpu_kwargs, fake_timer, monkeypatch):
    gates = []
    monkeypatch.setattr(harness, "check_adapter", lambda *a, **k: gates.append(1) or (True, ""))
    cfg = harness.BenchConfig(**{**TINY.__dict__, "warm_only": True})
    df = run_benchmark([EagerSigmoid()], cfg, [16], ["bwd"], PROV, **cpu_kwargs)
    assert (df["status"] == "skipped").all() and df["reason"].str.startswith("warm-up only").all()
    assert df["ms_median"].isna().all() and fake_timer.calls == 0 and not gates


def test_point_is_the_grid_point_at_the_protocol_seed():
    """impl:head_dim:pass:seq_len -> the grid's shape, padding and lengths (seeded as _measure seeds
    them); a malformed name says what it expects."""
    from scsigmoid.bench.harness import Point

    dense = Point.parse("ours_dense:64:fwd:512", 2048, 256, seed=0)
    padded = Point.parse("ours_padded:64:bwd:512", 2048, 256, seed=0)
    assert (dense.padding, padded.padding, dense.batch, dense.heads) == (0, 25, 4, 4)
    assert dense.lengths == (512,) * 4 and all(384 <= n <= 512 for n in padded.lengths)
    assert Point.parse("ours_padded:64:bwd:512", 2048, 256, seed=1).lengths != padded.lengths
    x = padded.inputs("cpu")
    assert x.q.shape[0] == 4 and torch.equal(x.q, padded.inputs("cpu").q)  # the same inputs each time
    with pytest.raises(ValueError, match="expected impl:head_dim:pass:seq_len"):
        Point.parse("ours_dense:64:fwd", 2048, 256, seed=0)
    with pytest.raises(ValueError, match="the pass is fwd or bwd"):
        Point.parse("ours_dense:64:both:512", 2048, 256, seed=0)


def test_timed_rows_record_the_clock_and_power_cap_sampled_while_timing(cpu_kwargs, fake_timer, monkeypatch):
    """A timed row carries the means of the NVML readers sampled around do_bench (the SM clock,
    the power-capped share); a row not timed (a failed check) has NaN; off the GPU no readers
    (NaN columns), and old parts merged in get NaN."""
    monkeypatch.setattr(harness, "nvml_readers", lambda device: {"sm_mhz": lambda: 1755.0, "power_capped": lambda: 1.0,
                                                                  "power_w": lambda: 690.0})  # power_w: not a column
    ok = run_benchmark([EagerSigmoid()], TINY, [16], ["fwd"], PROV, **cpu_kwargs)
    assert (ok["sm_mhz"] == 1755.0).all() and (ok["power_capped"] == 1.0).all() and "power_w" not in ok
    wrong = run_benchmark([Wrong()], TINY, [16], ["fwd"], PROV, **cpu_kwargs)
    assert wrong[["sm_mhz", "power_capped"]].isna().all().all()
    monkeypatch.undo()
    assert harness.nvml_readers("cpu") == {}
    plain = run_benchmark([EagerSigmoid()], TINY, [16], ["fwd"], PROV, **cpu_kwargs)
    assert plain[["sm_mhz", "power_capped"]].isna().all().all()
    old = ok.drop(columns=["sm_mhz", "power_capped"]).assign(head_dim=8)
    merged = merge_parts([old, ok])
    assert merged.loc[merged["head_dim"] == 8, ["sm_mhz", "power_capped"]].isna().all().all()
    assert (merged.loc[merged["head_dim"] == 16, "sm_mhz"] == 1755.0).all()
