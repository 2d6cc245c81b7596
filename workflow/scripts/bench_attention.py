"""Attention kernel benchmark, one CSV part per (head_dim, pass) filter.

Under Snakemake: reads config['bench'] and the wildcards. Directly (e.g. on the H200, from the
repository root):
    python workflow/scripts/bench_attention.py --out DIR [--head-dim 64 128] [--pass fwd bwd]
takes every unset option from config/config.yaml's bench: section (--config, --configfile) and
writes DIR/attention_<device>_hd<head_dim>_<pass>.csv for every combination, in one process
(Triton's autotune cache is reused across points). Rows are appended to
``...<pass>.partial.csv`` as they are measured, so a run cut short keeps what it measured."""


import argparse
import sys
from pathlib import Path

import pandas as pd
import torch

from scsigmoid.bench.adapters import default_adapters
from scsigmoid.bench.harness import RESULT_COLUMNS, BenchConfig, done_points, run_benchmark
from scsigmoid.bench.timing import wall_clock_timer
from scsigmoid.config import config_parser
from scsigmoid.io import write_csv
from scsigmoid.provenance import device_slug, provenance
from scsigmoid.script import log_to_file


def part_path(out_dir: Path, device: str, head_dim: int, pass_: str) -> Path:
    return out_dir / f"attention_{device}_hd{head_dim}_{pass_}.csv"


def run_parts(cfg: BenchConfig, head_dims, passes, outputs: dict, impls=None,
              allow_cpu: bool = False, check_shape=None, done: set | None = None) -> None:
    """Run every (head_dim, pass) and write each part to outputs[(head_dim, pass)].
    check_shape: the correctness gate's shape (default: the harness's small one); done: points
    measured earlier (harness.done_points), not measured again."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not allow_cpu:
        sys.exit("bench_attention: no CUDA GPU visible; the benchmark is GPU-only "
                 "(--allow-cpu runs a tiny smoke test of the harness).")
    prov = provenance()
    adapters = default_adapters(impls)
    for head_dim in head_dims:
        for pass_ in passes:
            final = Path(outputs[(head_dim, pass_)])
            partial = final.with_name(final.stem + ".partial.csv")
            partial.unlink(missing_ok=True)
            df = run_benchmark(adapters, cfg, [head_dim], [pass_], prov, device=device,
                               dtype=torch.bfloat16 if device == "cuda" else torch.float32,
                               timer=None if device == "cuda" else wall_clock_timer,
                               log=lambda msg: print(msg, flush=True),
                               on_row=lambda row, path=partial: _append_row(row, path), done=done,
                               **({} if check_shape is None else {"check_shape": check_shape}))
            write_csv(df, final)
            partial.unlink(missing_ok=True)
            print(f"wrote {outputs[(head_dim, pass_)]} ({(df['status'] == 'ok').sum()} ok rows)",
                  flush=True)


def _append_row(row: dict, path: Path) -> None:
    """Append one measured row to a part's partial file (kept if the run is cut short)."""
    header = not path.exists()
    pd.DataFrame([row], columns=RESULT_COLUMNS).to_csv(path, mode="a", header=header, index=False)


def read_done(paths, warmup_ms: float, rep_ms: float) -> set:
    """The points the CSVs (or folders of CSVs, .partial.csv included) at ``paths`` measured at
    these do_bench settings. A path that does not exist is skipped with a note: a resumed call on
    a machine that was given back in between finds nothing and measures everything."""
    frames = []
    for path in map(Path, paths):
        files = sorted(path.rglob("*.csv")) if path.is_dir() else [path] if path.exists() else []
        if not files:
            print(f"skip-done: nothing at {path}; its points are measured", flush=True)
        frames += [pd.read_csv(f) for f in files]
    done = done_points(frames, warmup_ms, rep_ms)
    print(f"skip-done: {len(done)} points measured earlier at {warmup_ms:g}/{rep_ms:g} ms", flush=True)
    return done


def main_snakemake(smk) -> None:
    cfg = BenchConfig.from_config(smk.config["bench"])
    head_dim, pass_ = int(smk.wildcards.head_dim), str(getattr(smk.wildcards, "pass"))
    with log_to_file(smk):
        run_parts(cfg, [head_dim], [pass_], {(head_dim, pass_): smk.output[0]})


def main(argv=None) -> None:
    config, p = config_parser(argv, description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    bench = config["bench"]  # every default below is the configuration's (config/config.yaml, bench:)
    p.add_argument("--out", required=True, type=Path, help="directory for the CSV parts")
    p.add_argument("--head-dim", type=int, nargs="+", default=bench["head_dims"])
    p.add_argument("--pass", dest="passes", nargs="+", choices=["fwd", "bwd"], default=bench["passes"])
    p.add_argument("--seq-lens", type=int, nargs="+", default=bench["seq_lens"])
    p.add_argument("--paddings", type=int, nargs="+", default=bench["paddings"])
    p.add_argument("--impl", nargs="+", default=None, help="only these implementations")
    p.add_argument("--tokens", type=int, default=bench["tokens_per_batch"])
    p.add_argument("--hidden", type=int, default=bench["hidden"])
    p.add_argument("--warmup-ms", type=float, default=bench["warmup_ms"])
    p.add_argument("--rep-ms", type=float, default=bench["rep_ms"])
    p.add_argument("--seed", type=int, default=bench["seed"])
    p.add_argument("--allow-cpu", action="store_true", help="smoke-test the harness on CPU")
    p.add_argument("--warm-only", action="store_true",
                   help="compile and autotune only (cache warm-up): no gate, nothing timed, rows 'skipped'")
    p.add_argument("--skip-done", nargs="*", default=[], metavar="CSV_OR_DIR",
                   help="earlier parts: their points measured (ok or oom) at the same do_bench settings are skipped")
    args = p.parse_args(argv)
    cfg = BenchConfig(tokens_per_batch=args.tokens, hidden=args.hidden,
                      seq_lens=tuple(args.seq_lens), paddings=tuple(args.paddings),
                      warmup_ms=args.warmup_ms, rep_ms=args.rep_ms, seed=args.seed,
                      warm_only=args.warm_only)
    device = device_slug()
    args.out.mkdir(parents=True, exist_ok=True)
    outputs = {(hd, ps): part_path(args.out, device, hd, ps)
               for hd in args.head_dim for ps in args.passes}
    done = read_done(args.skip_done, args.warmup_ms, args.rep_ms) if args.skip_done else None
    run_parts(cfg, args.head_dim, args.passes, outputs, impls=args.impl, allow_cpu=args.allow_cpu, done=done)


if __name__ == "__main__":
    if "snakemake" in globals():
        main_snakemake(snakemake)  # noqa: F821
    else:
        main()
