"""Which launch configs of a forward kernel finish at a shape, and which hang: each (variant, head
dim, config, shape) in a process of its own under a deadline, so one hung kernel costs its own
seconds, not the call's (session 24: the Gluon forward of variant ``ws_bf16x2`` never returned at
the benchmark's shapes while every GPU test of it passed at small ones).

    python workflow/scripts/probe_configs.py --variant ws_bf16x2 --kernel fwd_ws --head-dim 64 128 \
        --shapes 16x1024 16x1000 1x1024 [--heads 16] [--timeout-s 20] [--jobs 4] --out probe.csv

For each head dim, each entry of ``TUNE_TABLE[kernel]`` (forced through
``triton_kernels.FORCED_CONFIGS``) and "auto" (the variant's own choice: the tuned table or the
autotuner) runs one dense bf16 forward of ``batch x length`` tokens, ``--heads`` heads, and
synchronises. A row a run: ``ok`` (with the seconds and the kernel and config that launched),
``error`` (the exception) or ``timeout`` (killed at the deadline; the child's Python stack, dumped
by faulthandler just before, in ``stack``: a CUDA synchronise there is a kernel that never ended).
Shapes test what the small-shape tests do not: sequences whose length is a whole number of key
tiles (1024) against ones that end mid-tile (1000), and a grid of more programs than SMs (16
sequences) against one of fewer (1 sequence).
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

COLUMNS = ["variant", "kernel", "head_dim", "config", "batch", "seq_len", "heads", "status", "seconds",
           "launched", "reason", "stack"]


def parse_shape(text: str) -> tuple[int, int]:
    """``BATCHxLENGTH`` -> (batch, length)."""
    try:
        batch, length = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"shape {text!r}: expected BATCHxLENGTH, e.g. 16x1024") from None
    if batch < 1 or length < 1:
        raise argparse.ArgumentTypeError(f"shape {text!r}: batch and length must be positive")
    return batch, length


def child(spec: dict) -> dict:
    """One forward at spec's shape with spec's config forced (None: the variant's own choice)."""
    faulthandler.dump_traceback_later(spec["stack_after_s"], exit=False)
    import sigattn
    import torch
    from sigattn import triton_kernels as tk

    tk.select_variant(spec["variant"])
    if spec["config"] is not None:
        tk.FORCED_CONFIGS[spec["kernel"]] = tuple(spec["config"])
    gen = torch.Generator(device="cuda").manual_seed(0)
    shape = (spec["batch"], spec["seq_len"], spec["heads"], spec["head_dim"])
    q, k, v = (torch.randn(shape, generator=gen, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    start = time.perf_counter()
    sigattn.sigmoid_attention(q, k, v)
    torch.cuda.synchronize()
    last = tk.LAST_CONFIG.get("forward", {})
    return {"seconds": round(time.perf_counter() - start, 3),
            "launched": f"{last.get('kernel')}:{','.join(map(str, last.get('config', ())))}:{last.get('source')}"}


def probe(spec: dict, timeout_s: float) -> dict:
    """Run one spec in a fresh process under the deadline; its row."""
    row = {c: spec.get(c, "") for c in COLUMNS}
    row["config"] = "auto" if spec["config"] is None else ",".join(map(str, spec["config"]))
    cmd = [sys.executable, __file__, "--child", json.dumps({**spec, "stack_after_s": max(1.0, timeout_s - 3)})]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return {**row, "status": "timeout", "seconds": timeout_s, "stack": " | ".join(err.strip().splitlines()[-8:])}
    if done.returncode != 0:
        return {**row, "status": "error", "reason": " | ".join(done.stderr.strip().splitlines()[-3:])[:400]}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {**row, "status": "ok", **result}


def specs(args) -> list[dict]:
    from sigattn import triton_kernels as tk

    if args.kernel not in tk.TUNE_TABLE:
        raise SystemExit(f"--kernel {args.kernel!r}: not a kernel of TUNE_TABLE (has {sorted(tk.TUNE_TABLE)})")
    out = []
    for hd in args.head_dim:
        entries = tk.TUNE_TABLE[args.kernel].get(tk.head_dim_class(hd))
        if entries is None:
            raise SystemExit(f"--head-dim {hd}: {args.kernel} has no list for it (has {sorted(tk.TUNE_TABLE[args.kernel])})")
        for batch, length in args.shapes:
            for config in [*entries, None]:
                out.append({"variant": args.variant, "kernel": args.kernel, "head_dim": hd, "config": config,
                            "batch": batch, "seq_len": length, "heads": args.heads})
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--variant", default="ws_bf16x2")
    p.add_argument("--kernel", default="fwd_ws")
    p.add_argument("--head-dim", type=int, nargs="+", default=[64, 128])
    p.add_argument("--shapes", type=parse_shape, nargs="+", default=[(16, 1024), (16, 1000), (1, 1024)])
    p.add_argument("--heads", type=int, default=16)
    p.add_argument("--timeout-s", type=float, default=20.0)
    p.add_argument("--jobs", type=int, default=4)
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    if args.out is None:
        p.error("--out is required")
    todo = specs(args)
    from scsigmoid.io import write_csv
    from scsigmoid.provenance import provenance

    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(lambda s: probe(s, args.timeout_s), todo))
    import pandas as pd

    df = pd.DataFrame(rows, columns=COLUMNS).assign(**provenance())
    write_csv(df, args.out)
    for r in rows:
        print(f"[probe] {r['variant']} {r['kernel']} hd{r['head_dim']} {r['config']:>12} "
              f"{r['batch']}x{r['seq_len']}: {r['status']} {r['seconds']} {r['launched']} {r['reason']}")


if __name__ == "__main__":
    main()
