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
calls issued back to back) and, forward calls of the current path only, ``ms_graph``: the same
call replayed from a CUDA graph under the same do_bench protocol, i.e. the GPU time without the
host.

    python workflow/scripts/bench_diag.py --out diag.csv [--points ours_dense:128:fwd:512 ...]

Shapes (tokens, hidden) and do_bench settings default to config/config.yaml's bench: section.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd
import torch

from scsigmoid.bench.harness import Point, host_ms, timed_call
from scsigmoid.bench.protocol import attention_flops, tflops
from scsigmoid.bench.timing import time_callable, wall_clock_timer
from scsigmoid.config import config_parser
from scsigmoid.io import write_csv
from scsigmoid.provenance import provenance

DEFAULT_POINTS = [
    "ours_dense:128:fwd:512", "ours_padded:128:fwd:512", "ours_dense:128:fwd:1024",
    "ours_varlen:128:fwd:1024", "ours_dense:64:fwd:512", "ours_padded:64:fwd:512",
    "ours_dense:64:fwd:1024", "ours_dense:64:bwd:512",
]
MODES = ("before", "after")
COLUMNS = ["mode", "round", "impl", "pass", "head_dim", "padding_pct", "seq_len", "batch", "heads",
           "ms_median", "ms_p20", "ms_p80", "tflops", "ms_graph", "host_ms", "config", "status",
           "reason", "warmup_ms", "rep_ms", "device", "torch", "triton", "commit", "date"]
GRAPH_IMPLS = ("ours_", "fa2_dense", "cudnn_sdpa")  # capturable forward calls (no host sync)


def set_mode(mode: str) -> None:
    from sigattn import ops, triton_kernels

    ops.EAGER_CUSTOM_OP = mode == "before"
    ops.CACHE_SHAPE_TABLES = mode != "before"
    triton_kernels.TUNING = "full" if mode == "before" else "table"


def graph_stats(fn, warmup_ms, rep_ms, timer):
    """do_bench of fn replayed from a CUDA graph (no host work per call)."""
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
    return time_callable(graph.replay, warmup_ms, rep_ms, timer)


def measure(point: str, mode: str, rnd: int, args, device: str, timer) -> dict:
    pt = Point.parse(point, args.tokens, args.hidden, args.seed)
    adapter, impl, pass_ = pt.adapter, pt.adapter.name, pt.pass_
    row = dict(mode=mode, round=rnd, impl=adapter.name, **{"pass": pass_}, head_dim=pt.head_dim,
               padding_pct=pt.padding, seq_len=pt.seq_len, batch=pt.batch, heads=pt.heads, warmup_ms=args.warmup_ms,
               rep_ms=args.rep_ms, ms_graph=math.nan, host_ms=math.nan, status="ok", reason="")
    set_mode(mode)
    try:
        fn, prepared = timed_call(adapter, pt.inputs(device), pass_)
        stats = time_callable(fn, args.warmup_ms, args.rep_ms, timer)
        flops = attention_flops(list(pt.lengths), pt.heads, pt.head_dim, pass_, causal=adapter.causal)
        row.update(ms_median=stats.ms_median, ms_p20=stats.ms_p20, ms_p80=stats.ms_p80,
                   tflops=tflops(flops, stats.ms_median), host_ms=host_ms(fn, device),
                   config=adapter.launch_config())
        # the graph in the current path only: the kernels are the same in both, and the session-2
        # path builds a table on the host per call, which a capture refuses, leaving every later
        # capture of the process failed (session 23's H100 call)
        if pass_ == "fwd" and mode == "after" and device == "cuda" and impl.startswith(GRAPH_IMPLS):
            try:
                row["ms_graph"] = graph_stats(prepared.run, args.warmup_ms, args.rep_ms, timer).ms_median
            except Exception as exc:  # capture refused: keep the row, say why
                row["reason"] = f"graph: {type(exc).__name__}: {exc}"[:200]
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
    prov = provenance()
    rows = []
    for rnd in range(args.rounds):
        for mode in (MODES if rnd % 2 == 0 else MODES[::-1]):
            for point in args.points:
                rows.append({**measure(point, mode, rnd, args, device, timer), **prov})
                write_csv(pd.DataFrame(rows, columns=COLUMNS), args.out)  # kept if cut short


if __name__ == "__main__":
    main()
