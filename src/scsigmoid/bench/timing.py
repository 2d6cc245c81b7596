"""Timing one callable: triton.testing.do_bench (cache flushed between calls) summarised as
median and p20/p80; any other timer returning a list of per-call milliseconds can stand in.
And the do_bench settings of benchmark rows: figures and tables select one, or mix explicitly."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

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


def time_graph_replay(fn: Callable[[], object], warmup_ms: float, rep_ms: float,
                      timer: Timer | None = None) -> TimingStats:
    """Time ``fn`` replayed from a CUDA graph (captured once, after two runs on a side stream):
    the GPU time of its kernels with no host work per call (no Python, no launch path), under the
    same timer and settings as :func:`time_callable`. ``fn`` must be capturable: no host sync, no
    new host-made tensor per call. GPU only."""
    return time_callable(capture_graph(fn).replay, warmup_ms, rep_ms, timer)


def capture_graph(fn: Callable[[], object]):
    """``fn`` captured once in a CUDA graph (``torch.cuda.CUDAGraph``), after two runs on a side
    stream; replay() then launches its kernels. GPU only."""
    import torch

    with torch.no_grad():
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):
                fn()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            fn()
    return graph


def sm_clock_reader(device=None) -> Callable[[], float] | None:
    """``torch.cuda.clock_rate(device)`` (the SM clock in MHz, read through NVML: the nvidia-ml-py
    package) as a reader, or None where it cannot be read (no pynvml, no driver, no GPU)."""
    import torch

    try:
        torch.cuda.clock_rate(device)
    except Exception:  # noqa: BLE001 - any failure to read means: no clock column
        return None
    return lambda: float(torch.cuda.clock_rate(device))


#: NVML's clock-event reasons that mean "held down for power": the software power cap and the
#: hardware power brake (nvmlClocksEventReasonSwPowerCap 0x4, ...HwPowerBrakeSlowdown 0x80)
POWER_CAP_REASONS = 0x4 | 0x80


def power_readers(device=None) -> dict[str, Callable[[], float]]:
    """NVML readers of the board's power, for a timing that asks whether its calls ran power-bound:
    ``power_w`` (``torch.cuda.power_draw``: NVML's power average; on Hopper over the last second,
    so sample a window longer than that), ``power_capped`` (1.0 while NVML names a power reason
    (:data:`POWER_CAP_REASONS`) among the clocks' current event reasons, else 0.0: its mean is the
    capped share) and ``power_limit_w`` (the enforced limit). Empty where NVML cannot be read."""
    import torch

    try:
        import pynvml

        handle = torch.cuda._get_pynvml_handler(device)  # nvmlInit and the NVML index of a torch device
        torch.cuda.power_draw(device)
        reasons = getattr(pynvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or \
            pynvml.nvmlDeviceGetCurrentClocksThrottleReasons
        reasons(handle)
        pynvml.nvmlDeviceGetEnforcedPowerLimit(handle)
    except Exception:  # noqa: BLE001 - any failure to read means: no power columns
        return {}
    return {"power_w": lambda: torch.cuda.power_draw(device) / 1000.0,
            "power_capped": lambda: float(bool(reasons(handle) & POWER_CAP_REASONS)),
            "power_limit_w": lambda: pynvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000.0}


#: NVML's power average on Hopper covers the last second: a sampler leaves a block's first second
#: out of the power means (ClockSampler's settle_s)
POWER_SETTLE_S = 1.0


@functools.cache
def nvml_readers(device: str) -> dict[str, Callable[[], float]]:
    """Every NVML reader of a timing on ``device`` (a torch device string), made once a process:
    ``sm_mhz`` (:func:`sm_clock_reader`) and :func:`power_readers`' ``power_w``, ``power_capped``,
    ``power_limit_w``; only those that can be read, none off the GPU."""
    if not device.startswith("cuda"):
        return {}
    clock = sm_clock_reader(device)
    return {**({"sm_mhz": clock} if clock is not None else {}), **power_readers(device)}


class ClockSampler:
    """Samples ``read()`` (e.g. :func:`sm_clock_reader`) every ``interval_s`` on a thread while the
    ``with`` block runs: ``mean`` is their mean afterwards (NaN without a reader or a sample), so
    a timing can say at what clock its calls ran. ``read`` may also be a dict of named readers
    (e.g. the clock and :func:`power_readers`'), read together on the one thread: ``means`` gives
    each name's mean. Its cost to the launching thread (session 28, on the 2-core CPU machine, a
    ctypes call standing in for the NVML read): a pure-Python loop ran 1-2 % slower beside it, at
    10- and 50-ms intervals alike, i.e. host time, which stays off the critical path of the
    kernel-bound calls at L >= 4K (kernels/PERF.md "Session 27"); one thread for all readers keeps
    it at that. ``settle_s`` (seconds, or a dict of them by name): samples read in the block's
    first ``settle_s`` seconds are kept in ``samples`` but left out of the mean (a reader that
    averages over a window, like NVML's power on Hopper, still holds what ran before the block)."""

    def __init__(self, read: Callable[[], float] | dict[str, Callable[[], float]] | None,
                 interval_s: float = 0.01, settle_s: float | dict[str, float] = 0.0):
        self._named = isinstance(read, dict)
        self.readers = dict(read) if self._named else {} if read is None else {None: read}
        self.interval_s, self.settle_s = interval_s, settle_s
        self.rows, self.times = [], []  # one {name: value} a sample, and its seconds into the block
        self._stop = None

    def __enter__(self) -> ClockSampler:
        import threading

        if self.readers:
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        import time

        start = time.perf_counter()
        while True:
            self.rows.append({name: read() for name, read in self.readers.items()})
            self.times.append(time.perf_counter() - start)
            if self._stop.wait(self.interval_s):
                return

    def __exit__(self, *exc) -> None:
        if self._stop is not None:
            self._stop.set()
            self._thread.join()

    @property
    def samples(self) -> list:
        """The values read (a single reader), or one {name: value} a sample (named readers)."""
        return self.rows if self._named else [row[None] for row in self.rows]

    @property
    def means(self) -> dict:
        """Each reader's mean over its samples after its settling time (NaN without one)."""
        out = {}
        for name in self.readers:
            settle = self.settle_s.get(name, 0.0) if isinstance(self.settle_s, dict) else self.settle_s
            kept = [row[name] for row, t in zip(self.rows, self.times, strict=True) if t >= settle]
            out[name] = float(np.mean(kept)) if kept else float("nan")
        return out

    @property
    def mean(self) -> float:
        if self._named:
            raise TypeError("ClockSampler.mean: this sampler has named readers; read .means")
        return self.means.get(None, float("nan"))


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


# ---------------------------------------------------------------------------------------------
# Timing settings of benchmark rows: figures and tables never mix them silently
# ---------------------------------------------------------------------------------------------

PAPER_TIMING = (100.0, 250.0)  # the paper's do_bench warm-up / rep, ms
TIMING_COLUMNS = ("warmup_ms", "rep_ms")
MIXED = "mixed"


def timing_label(warmup_ms, rep_ms) -> str:
    """'100/250' for do_bench warm-up 100 ms, rep 250 ms; 'unknown' where not on record."""
    if warmup_ms != warmup_ms or rep_ms != rep_ms:  # NaN
        return "unknown"
    return f"{float(warmup_ms):g}/{float(rep_ms):g}"


def row_timing(df: pd.DataFrame) -> pd.Series:
    """The timing label of every row (see timing_label)."""
    missing = [c for c in TIMING_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"benchmark table lacks columns {missing}: re-merge the parts with "
                         "workflow/scripts/bench_merge.py (it fills the settings on record)")
    return pd.Series([timing_label(w, r) for w, r in zip(df["warmup_ms"], df["rep_ms"], strict=True)],
                     index=df.index, dtype=object)


def select_timing(df: pd.DataFrame, choice: str | None = None) -> tuple[pd.DataFrame, str]:
    """(rows to use, a label saying which do_bench settings they carry) for a figure or table.

    Only timed rows (status ok) carry settings that matter. One setting among them: all rows, its
    label. Several: an error, unless ``choice`` picks one ('100/250': the other settings' ok rows
    are left out, and the label says how many) or is 'mixed' (all rows, the label lists every
    setting with its count)."""
    labels = row_timing(df)
    ok = df["status"] == "ok"
    counts = labels[ok].value_counts().sort_index()
    listing = ", ".join(f"{lab} ms ({n} points)" for lab, n in counts.items())
    if choice == MIXED:
        return df, (f"do_bench warm-up/rep mixed: {listing}" if len(counts) > 1
                    else f"do_bench warm-up/rep {listing}")
    if choice is None:
        if len(counts) > 1:
            raise ValueError(f"benchmark rows mix do_bench timing settings (warm-up/rep): {listing}. "
                             f"Pick one (e.g. '{timing_label(*PAPER_TIMING)}': the others are left "
                             f"out) or '{MIXED}' (drawn together, labelled) with bench.figure_timing")
        return df, f"do_bench warm-up/rep {listing}" if len(counts) else ""
    if not re.fullmatch(r"\d+(\.\d+)?/\d+(\.\d+)?", str(choice)):
        raise ValueError(f"timing choice must be 'W/R' (ms, e.g. '100/250'), '{MIXED}' or None; got {choice!r}")
    chosen = timing_label(*map(float, str(choice).split("/")))
    keep = ~ok | (labels == chosen)
    dropped = int((~keep).sum())
    label = f"do_bench warm-up/rep {chosen} ms" + (
        f"; {dropped} points measured with other settings left out" if dropped else "")
    return df[keep], label
