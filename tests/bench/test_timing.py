import pytest

from scsigmoid.bench.timing import (
    ClockSampler,
    sm_clock_reader,
    summarise,
    time_callable,
    wall_clock_timer,
)


def test_time_callable_uses_the_timer_and_reports_quantiles():
    seen = {}

    def fake_timer(fn, warmup_ms, rep_ms):
        seen.update(fn=fn, warmup=warmup_ms, rep=rep_ms)
        return [float(x) for x in range(1, 11)]  # 1..10 ms

    def work():
        return None

    stats = time_callable(work, 100, 250, timer=fake_timer)
    assert seen == {"fn": work, "warmup": 100, "rep": 250}
    assert stats.ms_median == pytest.approx(5.5)
    assert stats.ms_p20 == pytest.approx(2.8)
    assert stats.ms_p80 == pytest.approx(8.2)
    assert stats.n == 10


def test_summarise_rejects_empty_or_nan():
    with pytest.raises(ValueError, match="no usable times"):
        summarise([])
    with pytest.raises(ValueError, match="no usable times"):
        summarise([1.0, float("nan")])


def test_wall_clock_timer_calls_the_function():
    calls = []
    times = wall_clock_timer(lambda: calls.append(1), 1.0, 2.0)
    assert len(times) >= 1 and len(calls) > len(times)
    assert all(t >= 0 for t in times)


def test_clock_sampler_averages_what_it_read_while_the_block_ran():
    """The sampler reads on its own thread from entering the block until leaving it: a reader
    that changes value half-way gives the mean of both; no reader (no NVML) gives NaN."""
    import math
    import time

    state = {"mhz": 1980.0}
    with ClockSampler(lambda: state["mhz"], interval_s=0.005) as clock:
        time.sleep(0.1)
        state["mhz"] = 1500.0
        time.sleep(0.1)
    n = len(clock.samples)
    assert n >= 10 and 1500.0 < clock.mean < 1980.0
    assert set(clock.samples) == {1980.0, 1500.0}
    time.sleep(0.03)
    assert len(clock.samples) == n  # stopped with the block
    with ClockSampler(None) as none:
        pass
    assert math.isnan(none.mean) and none.samples == []


def test_clock_reader_is_torchs_clock_rate_or_none_where_it_cannot_be_read(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "clock_rate", lambda device=None: 1755)
    assert sm_clock_reader()() == 1755.0

    def no_nvml(device=None):
        raise ModuleNotFoundError("nvidia-ml-py does not seem to be installed")

    monkeypatch.setattr(torch.cuda, "clock_rate", no_nvml)  # as on a machine without it
    assert sm_clock_reader() is None
