"""The benchmark grid: for each (implementation, pass, head_dim, padding, seq_len) one tidy row
with the median and p20/p80 time, TFLOPS and a status. Nothing is left out silently: an
implementation that is unavailable, unsupported, wrong, out of memory or failing gets a row
saying so."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd
import torch

from scsigmoid.bench.adapters import Adapter, from_canonical, make_inputs, to_canonical
from scsigmoid.bench.check import CheckShape, check_adapter
from scsigmoid.bench.protocol import attention_flops, derive_shape, sample_lengths, tflops
from scsigmoid.bench.timing import (
    ClockSampler,
    Timer,
    nvml_readers,
    time_callable,
)
from scsigmoid.provenance import PROVENANCE_COLUMNS

RESULT_COLUMNS = [
    "impl", "pass", "head_dim", "padding_pct", "seq_len", "batch", "heads",
    "ms_median", "ms_p20", "ms_p80", "tflops", "status", "reason",
    "warmup_ms", "rep_ms", "host_ms", "sm_mhz", "power_capped", "config", *PROVENANCE_COLUMNS,
]
#: Columns added after the session-2 parts were written; merge_parts fills them for old parts.
#: ``sm_mhz`` / ``power_capped`` (session 32): the mean SM clock and the share of NVML samples in
#: which the clocks were held by a power reason while do_bench ran (timing.nvml_readers); NaN
#: without NVML and in rows written before them. At the board's power cap a call's time follows
#: its energy, not its issue rate (kernels/PERF.md "Session 32"): the columns say which regime a
#: row was timed in.
LATER_COLUMNS = ("warmup_ms", "rep_ms", "host_ms", "sm_mhz", "power_capped", "config")
#: do_bench settings of the runs measured before the CSV had warmup_ms/rep_ms columns, by the
#: commit in their rows (their record: results/README.md, "Timing settings"). A part whose rows
#: name another commit gets NaN settings, and the merge says so.
KNOWN_TIMING = {"6bedcdcd485a": (25.0, 100.0),  # session 2, kernel v1: --warmup-ms 25 --rep-ms 100
                "f4f97c86ec87": (100.0, 250.0)}  # session 1, kernel v0: the harness defaults
#: host_ms is measured for points faster than this (slower calls cannot be host-bound).
HOST_TIMING_MAX_MS = 2.0
HOST_TIMING_CALLS = 10
DEFAULT_CHECK_SHAPE = CheckShape()
STATUSES = ("ok", "unavailable", "unsupported", "failed_check", "error", "oom", "skipped", "not_measured")


@dataclass(frozen=True)
class BenchConfig:
    """The benchmark protocol: the configuration's ``bench`` section (:meth:`from_config`; its
    values live in config/config.yaml only) and the harness's own knobs."""

    tokens_per_batch: int
    hidden: int
    seq_lens: tuple[int, ...]
    paddings: tuple[int, ...]
    warmup_ms: float
    rep_ms: float
    seed: int
    time_cap_ms: float = 5000.0  # a single call slower than this is not timed (status skipped)
    memory_fraction: float = 0.85  # of free device memory an estimated call may use
    #: compile and autotune only (parallel cache warm-up): no correctness gate, nothing timed,
    #: every row 'skipped'. Such rows are never results.
    warm_only: bool = False

    @classmethod
    def from_config(cls, bench: dict, **overrides) -> BenchConfig:
        """From the validated configuration's ``bench`` section (scsigmoid.config.load_config, or
        Snakemake's config), with ``overrides`` of single fields."""
        values = dict(tokens_per_batch=int(bench["tokens_per_batch"]), hidden=int(bench["hidden"]),
                      seq_lens=tuple(int(x) for x in bench["seq_lens"]),
                      paddings=tuple(int(x) for x in bench["paddings"]),
                      warmup_ms=float(bench["warmup_ms"]), rep_ms=float(bench["rep_ms"]), seed=int(bench["seed"]))
        return cls(**{**values, **overrides})


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _free_bytes(device: str) -> int | None:
    if device.startswith("cuda"):
        return torch.cuda.mem_get_info()[0]
    return None


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".replace("\n", " ")[:300]


def time_point(adapter: Adapter, inputs, pass_: str, cfg: BenchConfig, device: str,
               timer: Timer | None) -> tuple[str, str, object, dict]:
    """(status, reason, TimingStats or None, extra) for one point; the caller builds the row.
    extra: ``host_ms`` (see :func:`host_ms`) and the adapter's launch ``config``."""
    estimate = adapter.memory_estimate(inputs, pass_)
    free = _free_bytes(device)
    if estimate is not None and free is not None and estimate > cfg.memory_fraction * free:
        return ("oom", f"not attempted: needs ~{estimate / 2**30:.1f} GiB (estimate), "
                f"{free / 2**30:.1f} GiB free", None, {})
    # untimed calls: the first triggers autotuning and JIT; the second, warm, is checked against
    # the cap (a slow eager point is skipped rather than timed for seconds)
    fn, _ = timed_call(adapter, inputs, pass_)
    if cfg.warm_only:
        return "skipped", "warm-up only: compiled and autotuned, not timed", None, {"config": adapter.launch_config()}
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    warm_ms = (time.perf_counter() - start) * 1e3
    if warm_ms > cfg.time_cap_ms:
        return "skipped", f"one warm call took {warm_ms:.0f} ms > cap {cfg.time_cap_ms:.0f} ms", None, {}
    readers = nvml_readers(device)
    with ClockSampler({name: readers[name] for name in ("sm_mhz", "power_capped") if name in readers}) as sampler:
        stats = time_callable(fn, cfg.warmup_ms, cfg.rep_ms, timer)
    host = host_ms(fn, device) if stats.ms_median < HOST_TIMING_MAX_MS else float("nan")
    sampled = {name: sampler.means.get(name, float("nan")) for name in ("sm_mhz", "power_capped")}
    return "ok", "", stats, {"host_ms": host, **sampled, "config": adapter.launch_config()}


@dataclass(frozen=True)
class Point:
    """One benchmark point named ``impl:head_dim:pass:seq_len`` (the diagnosis and profile scripts'
    argument) at the protocol's shape and seed, as the grid times it: a padded or packed
    implementation at 25 % padding, lengths from ``seed``, inputs from ``seed + 1`` (_measure)."""
    adapter: Adapter
    head_dim: int
    pass_: str
    seq_len: int
    padding: int
    batch: int
    heads: int
    lengths: tuple
    seed: int

    @classmethod
    def parse(cls, text: str, tokens: int, hidden: int, seed: int) -> Point:
        from scsigmoid.bench.adapters import default_adapters

        try:
            impl, hd, pass_, seq_len = text.split(":")
            hd, seq_len = int(hd), int(seq_len)
        except ValueError:
            raise ValueError(f"benchmark point {text!r}: expected impl:head_dim:pass:seq_len, "
                             "e.g. ours_padded:128:bwd:16384") from None
        if pass_ not in ("fwd", "bwd"):
            raise ValueError(f"benchmark point {text!r}: the pass is fwd or bwd, not {pass_!r}")
        adapter = default_adapters([impl])[0]
        padding = 25 if adapter.padded and not adapter.dense_too else 0
        shape = derive_shape(tokens, hidden, seq_len, hd, padding)
        lengths = tuple(int(x) for x in sample_lengths(shape.batch, seq_len, padding, seed))
        return cls(adapter, hd, pass_, seq_len, padding, shape.batch, shape.heads, lengths, seed)

    def inputs(self, device: str, dtype=None):
        dtype = dtype or (torch.bfloat16 if device == "cuda" else torch.float32)
        return make_inputs(self.batch, self.seq_len, self.heads, self.head_dim, list(self.lengths), self.padding,
                           device=device, dtype=dtype, seed=self.seed + 1)


def timed_call(adapter: Adapter, inputs, pass_: str):
    """(fn, prepared): the call a point times, after one untimed run of it (autotuning, JIT).
    Forward: the adapter's forward call. Backward: the gradients of one forward's output (the
    forward itself outside the timed call), for a fixed random output gradient."""
    adapter.reset_launch_config()
    prepared = adapter.prepare(inputs)
    out = prepared.run()
    if pass_ == "fwd":
        fn = prepared.run
    else:
        grad_canonical = to_canonical("bshd", torch.randn_like(inputs.q), inputs)
        grad = from_canonical(prepared.layout, grad_canonical, inputs)

        def fn():
            return torch.autograd.grad(out, prepared.leaves, grad, retain_graph=True)

    fn()
    return fn, prepared


def host_ms(fn, device: str, calls: int = HOST_TIMING_CALLS) -> float:
    """Host (CPU) time of one call: ``calls`` calls issued back to back without waiting for the
    GPU, wall time / calls. do_bench times a call from an event before it to one after it, after
    an L2 flush; when the host needs longer than flush + kernel, the GPU idles and that median is
    host time plus kernel, not the kernel. A call that synchronises shows max(host, GPU) here."""
    _sync(device)
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    elapsed = time.perf_counter() - start
    _sync(device)
    return elapsed / calls * 1e3


def run_benchmark(adapters: Iterable[Adapter], cfg: BenchConfig, head_dims: Iterable[int],
                  passes: Iterable[str], provenance: dict[str, str], *, device: str = "cuda",
                  dtype: torch.dtype = torch.bfloat16, timer: Timer | None = None,
                  check_shape: CheckShape = DEFAULT_CHECK_SHAPE,
                  log: Callable[[str], None] = print,
                  on_row: Callable[[dict], None] | None = None,
                  done: set | None = None) -> pd.DataFrame:
    """Run the grid and return the tidy table (RESULT_COLUMNS). ``on_row`` sees every row as soon
    as it is measured (the script appends it to a partial file, so a run cut short keeps them).
    ``done``: (impl, pass, head_dim, padding_pct, seq_len) points measured earlier (a resumed
    grid, see :func:`done_points`): they get no row, and an implementation with nothing left at a
    padding skips its correctness gate there too."""
    rows = []
    adapters = list(adapters)
    for head_dim in head_dims:
        for pass_ in passes:
            for adapter in adapters:
                available, why_not = adapter.available()
                for padding in cfg.paddings:
                    supported, unsupported_why = adapter.supports(padding, pass_)
                    seq_lens = [n for n in cfg.seq_lens
                                if (adapter.name, pass_, head_dim, padding, n) not in (done or ())]
                    if not seq_lens:
                        continue
                    check_status = None
                    if available and supported and cfg.warm_only:
                        check_status = ("ok", "")
                    elif available and supported:
                        check_status = _gate(adapter, head_dim, padding, pass_, device, dtype,
                                             cfg.seed, check_shape)
                        log(f"[check] {adapter.name} hd{head_dim} {pass_} pad{padding}: "
                            f"{check_status}")
                    for seq_len in seq_lens:
                        shape = derive_shape(cfg.tokens_per_batch, cfg.hidden, seq_len, head_dim,
                                             padding)
                        row = {"impl": adapter.name, "pass": pass_, "head_dim": head_dim,
                               "padding_pct": padding, "seq_len": seq_len, "batch": shape.batch,
                               "heads": shape.heads, "ms_median": float("nan"),
                               "ms_p20": float("nan"), "ms_p80": float("nan"),
                               "tflops": float("nan"), "warmup_ms": cfg.warmup_ms,
                               "rep_ms": cfg.rep_ms, "host_ms": float("nan"), "sm_mhz": float("nan"),
                               "power_capped": float("nan"), "config": "",
                               **provenance}
                        if not available:
                            row.update(status="unavailable", reason=why_not)
                        elif not supported:
                            row.update(status="unsupported", reason=unsupported_why)
                        elif check_status[0] != "ok":
                            row.update(status=check_status[0], reason=check_status[1])
                        else:
                            row.update(_measure(adapter, shape, pass_, cfg, device, dtype, timer))
                            log(f"[time] {adapter.name} hd{head_dim} {pass_} pad{padding} "
                                f"L{seq_len}: {row['status']} {row['ms_median']:.4g} ms "
                                f"{row['tflops']:.4g} TFLOPS host {row['host_ms']:.3g} ms "
                                f"{row['config']} {row['reason']}")
                        rows.append(row)
                        if on_row is not None:
                            on_row(row)
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def done_points(frames: Iterable[pd.DataFrame], warmup_ms: float, rep_ms: float) -> set:
    """The (impl, pass, head_dim, padding_pct, seq_len) points of earlier tables measured with
    status ok or oom at these do_bench settings: what a resumed grid need not measure again."""
    out = set()
    for f in frames:
        if not len(f):
            continue
        hit = f[f["status"].isin(["ok", "oom"]) & (f["warmup_ms"] == warmup_ms) & (f["rep_ms"] == rep_ms)]
        out |= {(str(r["impl"]), str(r["pass"]), int(r["head_dim"]), int(r["padding_pct"]), int(r["seq_len"]))
                for r in hit.to_dict("records")}
    return out


def _gate(adapter, head_dim, padding, pass_, device, dtype, seed, check_shape):
    try:
        passed, reason = check_adapter(adapter, head_dim, padding, pass_, device=device,
                                       dtype=dtype, seed=seed, shape=check_shape)
    except Exception as exc:
        return ("oom" if _is_oom(exc) else "error"), f"correctness check raised {_short(exc)}"
    return ("ok", reason) if passed else ("failed_check", reason)


def _measure(adapter, shape, pass_, cfg, device, dtype, timer) -> dict:
    lengths = sample_lengths(shape.batch, shape.seq_len, shape.padding_pct, cfg.seed)
    flops = attention_flops(lengths, shape.heads, shape.head_dim, pass_, causal=adapter.causal)
    note = "causal: FLOPs halved" if adapter.causal else ""
    inputs = None
    try:
        inputs = make_inputs(shape.batch, shape.seq_len, shape.heads, shape.head_dim, lengths,
                             shape.padding_pct, device=device, dtype=dtype, seed=cfg.seed + 1)
        status, reason, stats, extra = time_point(adapter, inputs, pass_, cfg, device, timer)
    except Exception as exc:
        status, reason, stats, extra = ("oom" if _is_oom(exc) else "error"), _short(exc), None, {}
    finally:
        del inputs
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    result = {"status": status, "reason": "; ".join(r for r in (reason, note) if r), **extra}
    if stats is not None:
        result.update(ms_median=stats.ms_median, ms_p20=stats.ms_p20, ms_p80=stats.ms_p80,
                      tflops=tflops(flops, stats.ms_median))
    return result


POINT_KEY = ["impl", "pass", "head_dim", "padding_pct", "seq_len"]


def with_timing_columns(part: pd.DataFrame, name: str = "part") -> tuple[pd.DataFrame, list[str]]:
    """A part with every RESULT_COLUMNS column, and notes on what was filled. A part written
    before LATER_COLUMNS existed gets its do_bench settings from KNOWN_TIMING by the commit in its
    rows (NaN, with a note, for an unknown commit), no host time and no config."""
    missing = [c for c in RESULT_COLUMNS if c not in part.columns]
    unknown_core = [c for c in missing if c not in LATER_COLUMNS]
    if unknown_core:
        raise ValueError(f"benchmark {name} lacks columns {unknown_core}; rerun bench_attention.")
    if not missing:
        return part[RESULT_COLUMNS], []
    part = part.copy()
    notes = []
    if "warmup_ms" in missing or "rep_ms" in missing:
        settings = part["commit"].astype(str).map(KNOWN_TIMING)
        unknown = sorted(set(part.loc[settings.isna(), "commit"].astype(str)))
        if unknown:
            notes.append(f"{name}: do_bench settings of commit(s) {unknown} are not on record "
                         f"(KNOWN_TIMING): warmup_ms/rep_ms left NaN for {int(settings.isna().sum())} rows")
        known = settings.dropna()
        for column, i in (("warmup_ms", 0), ("rep_ms", 1)):
            if column in missing:
                part[column] = float("nan")
                part.loc[known.index, column] = [s[i] for s in known]
        if len(known):
            notes.append(f"{name}: warmup_ms/rep_ms of {len(known)} rows from KNOWN_TIMING "
                         f"({', '.join(sorted(set(part.loc[known.index, 'commit'].astype(str))))})")
    for column in ("host_ms", "sm_mhz", "power_capped"):
        if column in missing:
            part[column] = float("nan")
    if "config" in missing:
        part["config"] = ""
    return part[RESULT_COLUMNS], notes


def merge_parts(parts: Iterable[pd.DataFrame], *, replace_points: bool = False,
                notes: list[str] | None = None) -> pd.DataFrame:
    """Concatenate per-(head_dim, pass) parts. A repeated point is an error, unless
    ``replace_points``: then a later part's row replaces an earlier part's row of the same point
    (a re-measurement), and ``notes`` gets how many were replaced."""
    parts = list(parts)
    if not parts:
        raise ValueError("no benchmark parts to merge; run the bench_attention rule first.")
    notes = [] if notes is None else notes
    filled = []
    for i, part in enumerate(parts):
        part, part_notes = with_timing_columns(part, f"part {i}")
        filled.append(part.assign(_part=i))
        notes.extend(part_notes)
    merged = pd.concat(filled, ignore_index=True)
    dup = merged.duplicated(POINT_KEY, keep=False)
    if dup.any() and not replace_points:
        raise ValueError(f"benchmark parts repeat points: {merged.loc[dup, POINT_KEY].head().to_dict('records')}"
                         "; pass the superseded parts first and replace_points (--replace) to keep the later rows")
    if dup.any():
        before = len(merged)
        merged = merged.sort_values("_part", kind="stable").drop_duplicates(POINT_KEY, keep="last")
        notes.append(f"{before - len(merged)} rows replaced by later parts' rows of the same point")
    merged = merged.drop(columns="_part")
    return merged.sort_values(POINT_KEY, kind="stable").reset_index(drop=True)


def fill_unmeasured(merged: pd.DataFrame, cfg: BenchConfig, head_dims: Iterable[int],
                    passes: Iterable[str], reason: str, provenance: dict[str, str]) -> pd.DataFrame:
    """Add a ``not_measured`` row for every grid point of every implementation in ``merged`` that
    has no row: a run cut short leaves no silent gaps in the merged table. The reason is
    ``reason``, except for an implementation whose every row is ``unavailable`` (it cannot run
    on this machine: flash-attn package, FlashSigmoid build): its rows say why, from those rows."""
    grid = pd.MultiIndex.from_product(
        [sorted(merged["impl"].unique()), list(passes), list(head_dims), list(cfg.paddings), list(cfg.seq_lens)],
        names=POINT_KEY).to_frame(index=False)
    have = merged[POINT_KEY].drop_duplicates()
    missing = grid.merge(have, on=POINT_KEY, how="left", indicator=True).query("_merge == 'left_only'")[POINT_KEY]
    if missing.empty:
        return merged
    cannot_run = {impl: f"cannot run on {provenance.get('device', 'this machine')}: {rows['reason'].iloc[0]}"
                  for impl, rows in merged.groupby("impl") if (rows["status"] == "unavailable").all()}
    shapes = [derive_shape(cfg.tokens_per_batch, cfg.hidden, int(r.seq_len), int(r.head_dim))
              for r in missing.itertuples()]
    extra = missing.assign(batch=[sh.batch for sh in shapes], heads=[sh.heads for sh in shapes],
                           status="not_measured", reason=missing["impl"].map(cannot_run).fillna(reason),
                           config="",
                           **{k: provenance.get(k, "") for k in PROVENANCE_COLUMNS})
    out = pd.concat([merged, extra.reindex(columns=RESULT_COLUMNS)], ignore_index=True)
    return out.sort_values(POINT_KEY, kind="stable").reset_index(drop=True)
