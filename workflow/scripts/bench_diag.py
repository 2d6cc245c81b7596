"""Issue #15's short-sequence anomaly, measured both ways in one process.

At L <= 1K the session-2 benchmark timed our dense kernel at the same time as twice its work
(hd128 forward: 0.348 ms at L = 512 and at L = 1024) and slower than our padded kernel at the same
L, which runs the *same compiled kernel* (one autotune key) on less work. do_bench times a call
between two events after an L2 flush; when the host needs longer to issue a call than the GPU
needs for flush + kernel, the GPU waits and the median is host time plus kernel. This script
times each point in two modes, alternating their order over rounds:

- ``before``: the session-2 host path (custom-op dispatch, a new sequence table per dense call,
  the autotuner's launch path with SIGATTN_AUTOTUNE=full);
- ``after``: the current eager path (autograd.Function, cached dense table, tuned-table launch);

and records for each: the do_bench median (the protocol), ``host_ms`` (host time of one call,
calls issued back to back) and, forward calls of the current path only, ``ms_graph`` (p20 / p80
beside it): the same call replayed from a CUDA graph under the same do_bench protocol, i.e. the
GPU time without the host.

``--graph-order before`` times the graph before do_bench (``alternate``: before in odd rounds,
after in even ones; ``graph_order`` column), and ``--scratch fixed`` gives Triton one caller-set
allocator (``triton.set_allocator``) for the whole process whose buffer, made once, holds the
tensor-descriptor scratch of every launch, eager or replayed (``scratch`` column; ``torch``: our
launch path's own, the caching allocator's in eager calls, the graph pool's in a capture): the
two candidates of gpu/README item 15 for a graph replay slower than the eager call. ``sm_mhz`` /
``sm_mhz_graph``: the mean SM clock while do_bench / the graph replays ran (NVML sampled every
10 ms; NaN where ``pynvml`` is missing: carry the nvidia-ml-py wheel). ``power_w``,
``power_capped`` (the share of samples in which NVML named the power cap among the clocks' event
reasons) and ``power_limit_w``: the same while do_bench ran, less its first ``POWER_SETTLE_S``
(NVML's power is a one-second average on Hopper): NaN unless the do_bench window is longer, so
time with ``--warmup-ms`` + ``--rep-ms`` of 2 s or more where power is the question (is a kernel
power-bound: gpu/README item 19).

``--variant`` runs our kernel's variant of that name (sigattn.triton_kernels.variant_env, e.g.
``ws_bf16x2``: the Gluon forward at every length) in place of the default; ``--modes after``
times the current path only; ``--profile-dir`` writes, a point each, a cProfile of calls issued
back to back as for ``host_ms`` (the functions by own time): where a launch's host time goes.

    python workflow/scripts/bench_diag.py --out diag.csv [--points ours_dense:128:fwd:512 ...]

Shapes (tokens, hidden) and do_bench settings default to config/config.yaml's bench: section.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import pstats
from pathlib import Path

import pandas as pd
import torch

from scsigmoid.bench.harness import Point, host_ms, timed_call
from scsigmoid.bench.protocol import attention_flops, tflops
from scsigmoid.bench.timing import (
    POWER_SETTLE_S,
    ClockSampler,
    nvml_readers,
    time_callable,
    time_graph_replay,
    wall_clock_timer,
)
from scsigmoid.config import config_parser
from scsigmoid.io import write_csv
from scsigmoid.provenance import provenance

DEFAULT_POINTS = [
    "ours_dense:128:fwd:512", "ours_padded:128:fwd:512", "ours_dense:128:fwd:1024",
    "ours_varlen:128:fwd:1024", "ours_dense:64:fwd:512", "ours_padded:64:fwd:512",
    "ours_dense:64:fwd:1024", "ours_dense:64:bwd:512",
]
MODES = ("before", "after")
GRAPH_ORDERS = ("after", "before", "alternate")
SCRATCH = ("torch", "fixed")
FIXED_SCRATCH_BYTES = 64 << 20  # --scratch fixed: the buffer (a descriptor is 128 B; 3 a program)
COLUMNS = ["mode", "variant", "round", "impl", "pass", "head_dim", "padding_pct", "seq_len", "batch", "heads",
           "ms_median", "ms_p20", "ms_p80", "tflops", "ms_graph", "ms_graph_p20", "ms_graph_p80", "host_ms",
           "graph_order", "scratch", "sm_mhz", "sm_mhz_graph", "power_w", "power_capped", "power_limit_w", "config",
           "status", "reason", "warmup_ms", "rep_ms", "device", "torch", "triton", "commit", "date"]
PROFILE_LINES = 40  # functions listed a profile
GRAPH_IMPLS = ("ours_", "fa2_dense", "cudnn_sdpa")  # capturable forward calls (no host sync)
POWER_COLUMNS = ("power_w", "power_capped", "power_limit_w")


def set_mode(mode: str) -> None:
    from sigattn import ops, triton_kernels

    ops.EAGER_CUSTOM_OP = mode == "before"
    ops.CACHE_SHAPE_TABLES = mode != "before"
    triton_kernels.TUNING = "full" if mode == "before" else "table"


def set_fixed_scratch(device: str, nbytes: int = FIXED_SCRATCH_BYTES) -> None:
    """Triton's allocator for the rest of the process: slices of one buffer made now, so that every
    launch's descriptor scratch lies at the same address whether the call is eager or captured
    (our launch path keeps a caller-set allocator: triton_kernels._descriptor_scratch)."""
    import triton

    buffer = torch.empty(nbytes, dtype=torch.int8, device=device)

    def alloc(size: int, alignment: int, stream):
        if size > buffer.numel():
            raise RuntimeError(f"--scratch fixed: a launch asks {size} B of scratch, the buffer has {buffer.numel()} B")
        return buffer[:size]  # the buffer's start: aligned for any alignment Triton asks (<= 256 B)

    triton.set_allocator(alloc)


def graph_first(order: str, rnd: int) -> bool:
    """Whether a round times the graph replay before do_bench (--graph-order)."""
    return order == "before" or (order == "alternate" and rnd % 2 == 1)


def profile_host(fn, device: str, path: Path, title: str, calls: int) -> None:
    """A cProfile of ``calls`` calls of ``fn`` issued back to back (as host_ms issues them), the
    functions by own time, written to ``path``."""
    profiler = cProfile.Profile()
    profiler.enable()
    calls_ms = host_ms(fn, device, calls=calls)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(PROFILE_LINES)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{title}: host time {calls_ms:.4f} ms a call under the profiler\n{text.getvalue()}")


def time_graph(prepared, row: dict, args, timer) -> None:
    """The point's call replayed from a CUDA graph, into ``row`` (a refused capture: its reason)."""
    try:
        with ClockSampler(args.clock) as clock:
            graph = time_graph_replay(prepared.run, args.warmup_ms, args.rep_ms, timer)
        row.update(ms_graph=graph.ms_median, ms_graph_p20=graph.ms_p20, ms_graph_p80=graph.ms_p80,
                   sm_mhz_graph=clock.mean)
    except Exception as exc:  # capture refused: keep the row, say why
        row["reason"] = f"graph: {type(exc).__name__}: {exc}"[:200]


def measure(point: str, mode: str, rnd: int, args, device: str, timer) -> dict:
    pt = Point.parse(point, args.tokens, args.hidden, args.seed)
    adapter, impl, pass_ = pt.adapter, pt.adapter.name, pt.pass_
    row = dict(mode=mode, variant=args.variant, round=rnd, impl=adapter.name, **{"pass": pass_},
               head_dim=pt.head_dim, padding_pct=pt.padding, seq_len=pt.seq_len, batch=pt.batch, heads=pt.heads,
               warmup_ms=args.warmup_ms, rep_ms=args.rep_ms, ms_graph=math.nan, ms_graph_p20=math.nan,
               ms_graph_p80=math.nan, host_ms=math.nan, scratch=args.scratch, sm_mhz=math.nan,
               sm_mhz_graph=math.nan, status="ok", reason="", **dict.fromkeys(POWER_COLUMNS, math.nan))
    # the graph in the current path only: the kernels are the same in both, and the session-2
    # path builds a table on the host per call, which a capture refuses, leaving every later
    # capture of the process failed (session 23's H100 call)
    graphed = pass_ == "fwd" and mode == "after" and device == "cuda" and impl.startswith(GRAPH_IMPLS)
    first = graphed and graph_first(args.graph_order, rnd)
    row["graph_order"] = ("before" if first else "after") if graphed else ""
    set_mode(mode)
    try:
        fn, prepared = timed_call(adapter, pt.inputs(device), pass_)
        if first:
            time_graph(prepared, row, args, timer)
        settle = dict.fromkeys(POWER_COLUMNS, POWER_SETTLE_S)
        with ClockSampler(args.readers, settle_s=settle) as sampler:
            stats = time_callable(fn, args.warmup_ms, args.rep_ms, timer)
        row.update(sampler.means)
        flops = attention_flops(list(pt.lengths), pt.heads, pt.head_dim, pass_, causal=adapter.causal)
        row.update(ms_median=stats.ms_median, ms_p20=stats.ms_p20, ms_p80=stats.ms_p80,
                   tflops=tflops(flops, stats.ms_median), host_ms=host_ms(fn, device),
                   config=adapter.launch_config())
        if args.profile_dir is not None:
            name = f"{args.variant}_{mode}_r{rnd}_{point.replace(':', '_')}.txt"
            profile_host(fn, device, args.profile_dir / name, f"{point} ({args.variant}, {mode})",
                         args.profile_calls)
        if graphed and not first:
            time_graph(prepared, row, args, timer)
    except Exception as exc:
        row.update(status="error", reason=f"{type(exc).__name__}: {exc}"[:300])
    finally:
        set_mode("after")
        if device == "cuda":
            torch.cuda.empty_cache()
    print(f"[diag] {mode:6s} r{rnd} {point}: {row.get('ms_median', math.nan):.4g} ms "
          f"graph {row['ms_graph']:.4g} host {row['host_ms']:.3g} {row.get('config', '')} {row['reason']}",
          flush=True)
    return row


def parse_args(argv=None):
    config, p = config_parser(argv, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench = config["bench"]  # the benchmark protocol's settings (config/config.yaml, bench:)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--points", nargs="+", default=DEFAULT_POINTS, help="impl:head_dim:pass:seq_len")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--first-round", type=int, default=0,
                   help="number of the first round (a call's repeats in separate processes: 1, 2, ...)")
    p.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES),
                   help="host paths timed (default both; 'after': the current path only)")
    p.add_argument("--variant",
                   help="our kernel's variant (sigattn variant_env name, e.g. ws_bf16x2, or default); without "
                        "it, the variant SIGATTN_* select as for any import of sigattn")
    p.add_argument("--graph-order", choices=GRAPH_ORDERS, default="after",
                   help="time the graph replay after do_bench, before it, or before in odd rounds (alternate)")
    p.add_argument("--scratch", choices=SCRATCH, default="torch",
                   help="tensor-descriptor scratch: our launch path's own (torch) or one fixed buffer (fixed)")
    p.add_argument("--profile-dir", type=Path, help="write a cProfile of each point's host-time calls here")
    p.add_argument("--profile-calls", type=int, default=200,
                   help="calls profiled a point (cProfile's times have millisecond resolution)")
    p.add_argument("--warmup-ms", type=float, default=bench["warmup_ms"])
    p.add_argument("--rep-ms", type=float, default=bench["rep_ms"])
    p.add_argument("--tokens", type=int, default=bench["tokens_per_batch"])
    p.add_argument("--hidden", type=int, default=bench["hidden"])
    p.add_argument("--allow-cpu", action="store_true", help="smoke test (TRITON_INTERPRET=1, tiny shapes)")
    p.set_defaults(seed=int(bench["seed"]))  # the grid's lengths and inputs
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not args.allow_cpu:
        raise SystemExit("bench_diag: no CUDA GPU visible (--allow-cpu runs a smoke test)")
    timer = None if device == "cuda" else wall_clock_timer
    from sigattn import triton_kernels

    if args.variant is not None:
        try:
            triton_kernels.select_variant(args.variant)
        except ValueError as exc:
            raise SystemExit(f"bench_diag: --variant: {exc}") from None
    args.variant = triton_kernels.variant_suffix().lstrip("_") or "default"  # the rows' name of what runs
    args.readers = nvml_readers(device)  # clock and power; {} off the GPU or without NVML: NaN columns
    args.clock = args.readers.get("sm_mhz")
    if args.scratch == "fixed":
        if device != "cuda":
            raise SystemExit("bench_diag: --scratch fixed needs a CUDA GPU (the scratch is device memory)")
        set_fixed_scratch(device)
    prov = provenance()
    rows = []
    modes = [m for m in MODES if m in args.modes]
    for rnd in range(args.first_round, args.first_round + args.rounds):
        for mode in (modes if rnd % 2 == 0 else modes[::-1]):
            for point in args.points:
                rows.append({**measure(point, mode, rnd, args, device, timer), **prov})
                write_csv(pd.DataFrame(rows, columns=COLUMNS), args.out)  # kept if cut short


if __name__ == "__main__":
    main()
