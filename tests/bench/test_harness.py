import numpy as np
import pandas as pd
import pytest
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


def test_memory_guard_skips_eager(monkeypatch, cpu_kwargs, fake_timer):
    monkeypatch.setattr(harness, "_free_bytes", lambda device: 1000)
    df = run_benchmark([EagerSigmoid()], TINY, [16], ["bwd"], PROV, **cpu_kwargs)
    assert (df["status"] == "skipped").all() and df["reason"].str.contains("GiB").all()
    assert fake_timer.calls == 0


def test_time_cap_skips_slow_calls(cpu_kwargs):
    cfg = harness.BenchConfig(**{**TINY.__dict__, "time_cap_ms": 0.0})
    df = run_benchmark([EagerSigmoid()], cfg, [16], ["fwd"], PROV, **cpu_kwargs)
    assert (df["status"] == "skipped").all() and df["reason"].str.contains("cap").all()


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


def test_rows_written_and_read_back_keep_schema(tmp_path, cpu_kwargs):
    df = run_benchmark([EagerSigmoid()], TINY, [16], ["fwd"], PROV, **cpu_kwargs)
    path = tmp_path / "x.csv"
    df.to_csv(path, index=False)
    back = pd.read_csv(path)
    assert list(back.columns) == RESULT_COLUMNS
    assert np.allclose(back["tflops"], df["tflops"])
