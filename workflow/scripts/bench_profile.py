"""Run benchmark points for a profiler: each point's call made ready (inputs, one untimed call:
compile, autotune or tuned-table lookup), then ``--calls`` calls inside a CUDA profiler range, so
that ``ncu --profile-from-start off`` records only the kernels of the timed call (gpu/profile_points.sh).

    python workflow/scripts/bench_profile.py --points ours_padded:128:bwd:16384 ours_dense:128:bwd:16384 \
        [--calls 1] [--log launches.csv]
    python workflow/scripts/bench_profile.py --summarize ncu_*.csv

Points are ``impl:head_dim:pass:seq_len`` at the protocol's shapes (config/config.yaml, bench:),
padded and packed implementations at 25 % padding, as the benchmark times them. ``--log`` writes
one row a point: its shape, the launch config of our kernel (the tuned table's or the
autotuner's) and the seconds the ready call took, so a profile names what it profiled.
``--summarize`` prints the launch and occupancy metrics (``NCU_METRICS``) of each kernel in ncu's
CSV files (``--csv --page details``, written with ``--log-file``).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from scsigmoid.bench.harness import Point, timed_call
from scsigmoid.config import config_parser
from scsigmoid.io import write_csv
from scsigmoid.provenance import provenance


def run_point(text: str, pt: Point, args, device: str) -> dict:
    start = time.perf_counter()
    fn, _ = timed_call(pt.adapter, pt.inputs(device), pt.pass_)
    ready_s = time.perf_counter() - start
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.profiler.start()
    for _ in range(args.calls):
        fn()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.profiler.stop()
    row = {"point": text, "impl": pt.adapter.name, "pass": pt.pass_, "head_dim": pt.head_dim, "seq_len": pt.seq_len,
           "padding_pct": pt.padding, "batch": pt.batch, "heads": pt.heads,
           "lengths": " ".join(map(str, pt.lengths)), "calls": args.calls,
           "config": pt.adapter.launch_config(), "ready_s": round(ready_s, 2)}
    print(f"[profile] {text}: {args.calls} call(s) in the profiler range; config {row['config']}",
          file=sys.stderr, flush=True)
    return row


#: what the summary keeps of ncu's details page: the duration and throughputs (SpeedOfLight), the
#: launch and occupancy (LaunchStats, Occupancy), how busy the issue slots are (ComputeWorkloadAnalysis)
#: and how long a warp waits between instructions (WarpStateStats): enough to set our kernel beside
#: TritonSigmoid and cuDNN at one point (gpu/profile_points.sh's default points)
NCU_METRICS = ("Duration", "Compute (SM) Throughput", "Memory Throughput", "Grid Size", "Registers Per Thread",
               "Waves Per SM", "Theoretical Occupancy", "Achieved Occupancy", "Block Limit Registers",
               "Block Limit Shared Mem", "SM Busy", "Issue Slots Busy", "Executed Ipc Active",
               "Warp Cycles Per Issued Instruction")


def ncu_table(path: Path) -> pd.DataFrame | str:
    """The table of an ncu details-page CSV (``--csv --page details --log-file``: ncu's own lines
    first), every cell a string as ncu wrote it ("3,725,120"); or, when ncu wrote no table, the
    last line it printed."""
    lines = path.read_text(errors="replace").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith('"ID"')), None)
    if start is None:
        return lines[-1][:200] if lines else "empty file"
    return pd.read_csv(io.StringIO("\n".join(lines[start:])), dtype=str, keep_default_na=False)


def ncu_summary(path: Path) -> list[str]:
    """One line a kernel of an ncu details-page CSV: the NCU_METRICS it reports, in its units."""
    table = ncu_table(path)
    if isinstance(table, str):  # ncu printed no table: say what it printed last
        return [f"{path.name}: no ncu table ({table})"]
    table = table[table["Metric Name"].isin(NCU_METRICS)]
    out = [f"{path.name}:"]
    for (_, kernel), rows in table.groupby(["ID", "Kernel Name"], sort=False):
        cells = ", ".join(f"{r['Metric Name']} {r['Metric Value']}" + (f" {r['Metric Unit']}" if r["Metric Unit"]
                                                                         else "") for _, r in rows.iterrows())
        out.append(f"  {kernel[:48]}: {cells}")
    return out


def main(argv=None) -> None:
    config, p = config_parser(argv, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench = config["bench"]
    p.add_argument("--points", nargs="+", help="impl:head_dim:pass:seq_len")
    p.add_argument("--summarize", nargs="+", type=Path, metavar="NCU_CSV", help="print what ncu measured, run nothing")
    p.add_argument("--calls", type=int, default=1, help="calls inside the profiler range (each point)")
    p.add_argument("--log", type=Path, help="CSV of what ran (shape, launch config)")
    p.add_argument("--tokens", type=int, default=bench["tokens_per_batch"])
    p.add_argument("--hidden", type=int, default=bench["hidden"])
    p.add_argument("--allow-cpu", action="store_true", help="smoke test (TRITON_INTERPRET=1, tiny shapes)")
    args = p.parse_args(argv)
    if args.summarize:
        for path in args.summarize:
            print("\n".join(ncu_summary(path)))
        return
    if not args.points:
        p.error("give --points to run (or --summarize to read ncu's CSV files)")
    if args.calls < 1:
        p.error("--calls must be at least 1")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not args.allow_cpu:
        raise SystemExit("bench_profile: no CUDA GPU visible (--allow-cpu runs a smoke test)")
    try:  # a bad point fails before anything runs
        points = [Point.parse(text, args.tokens, args.hidden, int(bench["seed"])) for text in args.points]
    except (ValueError, KeyError) as err:
        raise SystemExit(f"bench_profile: {err}") from None
    rows = [{**run_point(text, pt, args, device), **provenance()} for text, pt in zip(args.points, points, strict=True)]
    if args.log:
        write_csv(pd.DataFrame(rows), args.log)


if __name__ == "__main__":
    main()
