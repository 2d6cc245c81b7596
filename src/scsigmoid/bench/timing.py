"""Timing one callable: triton.testing.do_bench (cache flushed between calls) summarised as
median and p20/p80; any other timer returning a list of per-call milliseconds can stand in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Timer = Callable[[Callable[[], object], float, float], list[float]]


@dataclass(frozen=True)
class TimingStats:
    ms_median: float
    ms_p20: float
    ms_p80: float
    n: int


def do_bench_timer(fn: Callable[[], object], warmup_ms: float, rep_ms: float) -> list[float]:
    """All per-call times (ms) from triton.testing.do_bench; it flushes L2 before every call."""
    from triton.testing import do_bench

    times = do_bench(fn, warmup=warmup_ms, rep=rep_ms, return_mode="all")
    return [float(t) for t in (times if isinstance(times, list | tuple) else [times])]


def summarise(times_ms) -> TimingStats:
    times = np.asarray(list(times_ms), dtype=np.float64)
    if times.size == 0 or not np.all(np.isfinite(times)):
        raise ValueError(f"timer returned no usable times: {times_ms!r}")
    p20, med, p80 = np.quantile(times, [0.2, 0.5, 0.8])
    return TimingStats(float(med), float(p20), float(p80), int(times.size))


def time_callable(fn: Callable[[], object], warmup_ms: float, rep_ms: float,
                  timer: Timer | None = None) -> TimingStats:
    """Time ``fn`` with ``timer`` (default do_bench) and summarise."""
    timer = do_bench_timer if timer is None else timer
    return summarise(timer(fn, warmup_ms, rep_ms))


def wall_clock_timer(fn: Callable[[], object], warmup_ms: float, rep_ms: float) -> list[float]:
    """CPU stand-in for do_bench (smoke tests of the harness only): per-call wall times."""
    import time

    def spend(budget_ms: float) -> list[float]:
        times, start = [], time.perf_counter()
        while not times or (time.perf_counter() - start) * 1e3 < budget_ms:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
        return times

    spend(warmup_ms)
    return spend(rep_ms)
