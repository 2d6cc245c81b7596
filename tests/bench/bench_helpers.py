"""Shared helpers for the benchmark tests: tiny CPU shapes, a fake timer, provenance stub."""

from scsigmoid.bench.check import CheckShape
from scsigmoid.bench.harness import BenchConfig

PROV = {"device": "cpu", "torch": "t", "triton": "tr", "commit": "c", "date": "2026-01-01"}
TINY = BenchConfig(tokens_per_batch=128, hidden=32, seq_lens=(32, 64), paddings=(0, 25),
                   warmup_ms=1, rep_ms=1, seed=0)
TINY_CHECK = CheckShape(batch=2, seq_len=32, heads=2)


class FakeTimer:
    """Stands in for do_bench: calls fn once and returns fixed times; counts calls."""

    def __init__(self, times=(1.0, 2.0, 3.0, 4.0, 5.0)):
        self.times = list(times)
        self.calls = 0

    def __call__(self, fn, warmup_ms, rep_ms):
        self.calls += 1
        fn()
        return self.times
