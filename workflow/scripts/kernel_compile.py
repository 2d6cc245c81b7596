"""Compile step: compile/autotune the sigattn kernels for configured shapes, self-check them against
the reference, write a JSON report with provenance; exit non-zero if any shape fails.

Snakemake: ``params.shapes`` (GPU shape dicts, see sigattn.selfcheck), ``output[0]`` (JSON),
``log[0]``. Under the CPU interpreter the configured (GPU-sized) shapes are replaced by tiny ones.
Command line: ``python workflow/scripts/kernel_compile.py --out FILE.json [--shapes cpu|gpu|FILE.json]``.
Without a GPU it runs Triton's CPU interpreter at tiny shapes.
"""


import argparse
import json
import os
import sys

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")  # before sigattn defines its kernels
# the compile step measures the autotuner's choices (sigattn.tuned's source), not the table's
os.environ.setdefault("SIGATTN_AUTOTUNE", "full")

import sigattn  # noqa: E402
import sigattn.selfcheck  # noqa: E402

from scsigmoid.io import write_json  # noqa: E402
from scsigmoid.provenance import provenance  # noqa: E402
from scsigmoid.script import log_to_file  # noqa: E402

DEFAULT_SHAPES = {
    "cpu": [
        dict(batch=2, seq_len=40, heads=2, head_dim=16, dtype="fp32", padding=25),
        dict(batch=2, seq_len=33, heads=2, kv_heads=1, head_dim=64, dtype="fp16", causal=True),
        dict(batch=3, seq_len=24, heads=2, head_dim=32, dtype="fp32", padding=50, layout="packed"),
    ],
    "gpu": [  # the paper's protocol (bf16, 16K tokens a batch, 2048 hidden) + features, 8 tuning keys
        dict(batch=32, seq_len=512, heads=32, head_dim=64, dtype="bf16", padding=0),
        dict(batch=32, seq_len=512, heads=32, head_dim=64, dtype="bf16", padding=25),
        dict(batch=8, seq_len=2048, heads=16, head_dim=128, dtype="bf16", padding=0),
        dict(batch=8, seq_len=2048, heads=16, head_dim=128, dtype="bf16", padding=25),
        dict(batch=1, seq_len=8192, heads=8, head_dim=128, dtype="bf16", padding=25),
        dict(batch=4, seq_len=1024, heads=8, kv_heads=2, head_dim=64, dtype="bf16", causal=True),
        dict(batch=8, seq_len=1024, heads=8, head_dim=128, dtype="bf16", padding=25, layout="packed"),
        dict(batch=2, seq_len=1024, heads=4, head_dim=256, dtype="bf16"),
        dict(batch=2, seq_len=1024, heads=4, head_dim=32, dtype="fp16"),
        dict(batch=2, seq_len=1024, heads=4, head_dim=64, dtype="fp32", padding=25),
    ],
}


def _shapes(arg: str | None) -> list[dict]:
    if arg is None:
        return DEFAULT_SHAPES["gpu" if torch.cuda.is_available() else "cpu"]
    if arg in DEFAULT_SHAPES:
        return DEFAULT_SHAPES[arg]
    try:
        with open(arg) as fh:
            return json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"--shapes must be 'cpu', 'gpu' or a JSON file with a list of shape dicts; "
                         f"could not read {arg!r}: {exc}") from exc


def main(shapes: list[dict], out: str, log=sys.stdout) -> int:
    if sigattn.INTERPRETER:  # the interpreter is far too slow for GPU-sized shapes
        shapes = DEFAULT_SHAPES["cpu"]
    report = {**provenance(), **sigattn.selfcheck.run(shapes)}
    write_json(report, out)
    for r in report["shapes"]:
        print(("PASS" if r["passed"] else "FAIL"), r["shape"], r["rel_error"], file=log, flush=True)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    if "snakemake" in globals():
        sm = globals()["snakemake"]
        with log_to_file(sm):
            code = main(list(sm.params.shapes), str(sm.output[0]))
        sys.exit(code)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="JSON report to write")
    parser.add_argument("--shapes", default=None, help="'cpu', 'gpu' or a JSON file (default: by device)")
    args = parser.parse_args()
    sys.exit(main(_shapes(args.shapes), args.out))
