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


def test_clock_sampler_leaves_the_settling_samples_out_of_the_mean():
    """With settle_s the samples of the block's first settle_s seconds stay in ``samples`` but not
    in ``mean`` (NVML's power is a one-second average: early samples hold what ran before); a
    block shorter than settle_s has no mean."""
    import math
    import time

    state = {"w": 300.0}
    with ClockSampler(lambda: state["w"], interval_s=0.005, settle_s=0.15) as power:
        time.sleep(0.1)  # the change 50 ms before the settling ends: a margin for the threads' clocks
        state["w"] = 700.0
        time.sleep(0.15)
    assert 300.0 in power.samples and power.mean == 700.0
    with ClockSampler(lambda: 1.0, interval_s=0.005, settle_s=10.0) as short:
        time.sleep(0.02)
    assert short.samples and math.isnan(short.mean)


def test_power_readers_read_nvml_in_watts_and_flag_the_power_cap(monkeypatch):
    """power_w is NVML's milliwatts in watts, power_capped 1.0 only while a power reason (software
    cap, hardware brake) is among the clocks' event reasons, not for another (thermal); no NVML:
    no readers (the columns stay NaN)."""
    import sys
    import types

    import torch

    from scsigmoid.bench.timing import POWER_CAP_REASONS, power_readers

    state = {"reasons": 0x4}
    fake = types.SimpleNamespace(nvmlDeviceGetCurrentClocksEventReasons=lambda h: state["reasons"],
                                 nvmlDeviceGetEnforcedPowerLimit=lambda h: 700000)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    monkeypatch.setattr(torch.cuda, "_get_pynvml_handler", lambda device=None: "handle", raising=False)
    monkeypatch.setattr(torch.cuda, "power_draw", lambda device=None: 688500)
    read = power_readers()
    assert read["power_w"]() == 688.5 and read["power_limit_w"]() == 700.0
    assert read["power_capped"]() == 1.0
    state["reasons"] = 0x80  # hardware power brake
    assert read["power_capped"]() == 1.0
    state["reasons"] = 0x20 | 0x1  # software thermal slowdown, idle: not power
    assert read["power_capped"]() == 0.0 and not 0x21 & POWER_CAP_REASONS

    def no_nvml(device=None):
        raise ModuleNotFoundError("nvidia-ml-py does not seem to be installed")

    monkeypatch.setattr(torch.cuda, "_get_pynvml_handler", no_nvml, raising=False)
    assert power_readers() == {}


def test_nvml_readers_gather_clock_and_power_where_they_can_be_read(monkeypatch):
    """One place makes a timing's readers: the clock and the power readers on a CUDA device (each
    only if readable), none off the GPU."""
    import torch

    from scsigmoid.bench import timing

    monkeypatch.setattr(torch.cuda, "clock_rate", lambda device=None: 1755)
    monkeypatch.setattr(timing, "power_readers", lambda device=None: {"power_w": lambda: 700.0})
    timing.nvml_readers.cache_clear()
    try:
        assert timing.nvml_readers("cpu") == {}
        readers = timing.nvml_readers("cuda")
        assert {n: r() for n, r in readers.items()} == {"sm_mhz": 1755.0, "power_w": 700.0}
        monkeypatch.setattr(timing, "power_readers", lambda device=None: {})
        monkeypatch.setattr(torch.cuda, "clock_rate", lambda device=None: (_ for _ in ()).throw(RuntimeError()))
        assert timing.nvml_readers("cuda:1") == {}
    finally:
        timing.nvml_readers.cache_clear()


def test_named_readers_share_one_thread_each_with_its_own_settling():
    """A dict of readers is read together, one row a sample; means are per name, each after its own
    settling time; ``mean`` refuses a named sampler; an empty dict samples nothing."""
    import math
    import threading
    import time

    threads = set()

    def clock():
        threads.add(threading.get_ident())
        return 1755.0

    def power():
        threads.add(threading.get_ident())
        return 700.0 if time.perf_counter() - t0 > 0.1 else 100.0

    t0 = time.perf_counter()
    with ClockSampler({"sm_mhz": clock, "power_w": power}, interval_s=0.005,
                      settle_s={"power_w": 0.15}) as both:
        time.sleep(0.25)
    assert len(threads) == 1 and threading.get_ident() not in threads
    assert both.samples[0] == {"sm_mhz": 1755.0, "power_w": 100.0}
    assert both.means == {"sm_mhz": 1755.0, "power_w": 700.0}
    with pytest.raises(TypeError, match="read .means"):
        _ = both.mean
    with ClockSampler({}) as none:
        pass
    assert none.means == {} and none.samples == []
    assert math.isnan(ClockSampler(None).mean)
