"""Run benchmark points for a profiler: each point's call made ready (inputs, one untimed call:
compile, autotune or tuned-table lookup), then ``--calls`` calls inside a CUDA profiler range, so
that ``ncu --profile-from-start off`` records only the kernels of the timed call (gpu/profile_points.sh).
``--graph``: the call captured in a CUDA graph outside the range and replayed inside it (ncu
profiles a graph's kernel nodes one by one): the kernel as a replay launches it (gpu/README item 15).

    python workflow/scripts/bench_profile.py --points ours_padded:128:bwd:16384 ours_dense:128:bwd:16384 \
        [--calls 1] [--log launches.csv]
    python workflow/scripts/bench_profile.py --summarize ncu_*.log
    python workflow/scripts/bench_profile.py --tidy ncu_*.log --points-csv points.csv --out-dir OUT

Points are ``impl:head_dim:pass:seq_len`` at the protocol's shapes (config/config.yaml, bench:),
padded and packed implementations at 25 % padding, as the benchmark times them. ``--log`` writes
one row a point: its shape, the launch config of our kernel (the tuned table's or the
autotuner's) and the seconds the ready call took, so a profile names what it profiled.
``--summarize`` prints the launch and occupancy metrics (``NCU_METRICS``) of each kernel in ncu's
logs (``--csv --page details``, written with ``--log-file``: ncu's own lines, then the table).
``--tidy`` writes each log's table as ``ncu_<point>.csv`` (``ncu_<point>_graph.csv`` for ``--graph``
rows) with the point and the provenance of the
process that ran it (its row of ``--log``'s CSV), the form results/ keeps.
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
from scsigmoid.bench.timing import capture_graph
from scsigmoid.config import config_parser
from scsigmoid.io import write_csv
from scsigmoid.provenance import PROVENANCE_COLUMNS, provenance


def run_point(text: str, pt: Point, args, device: str) -> dict:
    start = time.perf_counter()
    fn, prepared = timed_call(pt.adapter, pt.inputs(device), pt.pass_)
    if args.graph:
        fn = capture_graph(prepared.run).replay
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
           "launch": "graph" if args.graph else "eager",
           "config": pt.adapter.launch_config(), "ready_s": round(ready_s, 2)}
    print(f"[profile] {text}: {args.calls} {row['launch']} call(s) in the profiler range; config {row['config']}",
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
    """The table of an ncu details page (ncu's log, ``--csv --page details --log-file``: its own
    lines first; or a ``--tidy`` CSV), every cell a string as ncu wrote it ("3,725,120"); or, when
    ncu wrote no table, the last line it printed."""
    lines = path.read_text(errors="replace").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(('"ID"', "ID,"))), None)
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


def tidy(logs: list[Path], points_csv: Path, out_dir: Path) -> list[str]:
    """Write each ncu log ``ncu_<point>.log`` (the point's colons as underscores) as
    ``out_dir/ncu_<point>.csv``: ncu's table, then the point and the provenance columns of its row in
    ``points_csv`` (what bench_profile --log wrote in the profiled process). Returns what it could
    not write (no table, no row of the point), one line each."""
    points = pd.read_csv(points_csv, dtype=str, keep_default_na=False)
    graph = points["launch"].eq("graph") if "launch" in points else False  # --graph's logs: ncu_<point>_graph
    points = points.set_index(points["point"].str.replace(":", "_") + graph.map({True: "_graph", False: ""}) if
                              "launch" in points else points["point"].str.replace(":", "_"))
    problems = []
    for log in logs:
        name = log.stem.removeprefix("ncu_")
        table = ncu_table(log)
        if isinstance(table, str):
            problems.append(f"{log.name}: no ncu table ({table})")
        elif name not in points.index:
            problems.append(f"{log.name}: no row of its point in {points_csv.name}")
        else:
            row = points.loc[name]
            write_csv(table.assign(point=row["point"], **{c: row[c] for c in PROVENANCE_COLUMNS}),
                      out_dir / f"ncu_{name}.csv")
    return problems


def main(argv=None) -> None:
    config, p = config_parser(argv, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench = config["bench"]
    p.add_argument("--points", nargs="+", help="impl:head_dim:pass:seq_len")
    p.add_argument("--summarize", nargs="+", type=Path, metavar="NCU_LOG", help="print what ncu measured, run nothing")
    p.add_argument("--tidy", nargs="+", type=Path, metavar="NCU_LOG", help="ncu's tables with provenance, run nothing")
    p.add_argument("--points-csv", type=Path, help="--tidy: the points' --log CSV (provenance)")
    p.add_argument("--out-dir", type=Path, help="--tidy: where the ncu_<point>.csv files go")
    p.add_argument("--calls", type=int, default=1, help="calls inside the profiler range (each point)")
    p.add_argument("--graph", action="store_true",
                   help="replay the call from a CUDA graph in the range (forward points; GPU only)")
    p.add_argument("--log", type=Path, help="CSV of what ran (shape, launch config)")
    p.add_argument("--tokens", type=int, default=bench["tokens_per_batch"])
    p.add_argument("--hidden", type=int, default=bench["hidden"])
    p.add_argument("--allow-cpu", action="store_true", help="smoke test (TRITON_INTERPRET=1, tiny shapes)")
    args = p.parse_args(argv)
    if args.summarize:
        for path in args.summarize:
            print("\n".join(ncu_summary(path)))
        return
    if args.tidy:
        if not (args.points_csv and args.out_dir):
            p.error("--tidy needs --points-csv and --out-dir")
        for line in tidy(args.tidy, args.points_csv, args.out_dir):
            print(f"bench_profile --tidy: {line}", file=sys.stderr)
        return
    if not args.points:
        p.error("give --points to run (or --summarize to read ncu's CSV files)")
    if args.calls < 1:
        p.error("--calls must be at least 1")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not args.allow_cpu:
        raise SystemExit("bench_profile: no CUDA GPU visible (--allow-cpu runs a smoke test)")
    if args.graph and device != "cuda":
        raise SystemExit("bench_profile: --graph needs a CUDA GPU (a CUDA graph)")
    try:  # a bad point fails before anything runs
        points = [Point.parse(text, args.tokens, args.hidden, int(bench["seed"])) for text in args.points]
    except (ValueError, KeyError) as err:
        raise SystemExit(f"bench_profile: {err}") from None
    rows = [{**run_point(text, pt, args, device), **provenance()} for text, pt in zip(args.points, points, strict=True)]
    if args.log:
        write_csv(pd.DataFrame(rows), args.log)


if __name__ == "__main__":
    main()
