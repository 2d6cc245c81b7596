"""First-call latency of our kernel: what a user waits for on the first forward and backward of a
fresh process, with Triton's cache empty (issue #16: tuned-config table vs full autotuning).

Run it once per mode, each in a fresh process with its own empty TRITON_CACHE_DIR:
    TRITON_CACHE_DIR=$(mktemp -d) SIGATTN_AUTOTUNE=full  python workflow/scripts/bench_first_call.py --out a.csv
    TRITON_CACHE_DIR=$(mktemp -d) SIGATTN_AUTOTUNE=table python workflow/scripts/bench_first_call.py --out b.csv
One row: the mode, the shape, seconds to import, to the first forward's result, to the first
backward's result, the warm forward/backward times, the number of compiled kernels left in the
cache, whether the cache was empty at the start, the configs the launches took, and the worst
relative error of output and gradients against the fp32 reference (the table's configs must be
right, not only fast).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

T0 = time.perf_counter()
import torch  # noqa: E402

IMPORT_TORCH_S = time.perf_counter() - T0

COLUMNS = ["mode", "head_dim", "seq_len", "batch", "heads", "padding_pct", "dtype", "cache_was_empty",
           "import_s", "first_fwd_s", "first_bwd_s", "warm_fwd_ms", "warm_bwd_ms", "compiled_kernels",
           "config", "rel_error", "note", "device", "torch", "triton", "commit", "date"]


def _cache_dir() -> Path:
    return Path(os.environ.get("TRITON_CACHE_DIR") or Path.home() / ".triton" / "cache")


def _compiled(cache: Path) -> int:
    return sum(1 for _ in cache.rglob("*.cubin")) if cache.exists() else 0


def measure(head_dim: int, seq_len: int, batch: int, heads: int, padding_pct: int, device: str,
            dtype: torch.dtype, note: str = "") -> dict:
    cache = _cache_dir()
    was_empty = _compiled(cache) == 0
    t0 = time.perf_counter()
    import sigattn
    from sigattn import triton_kernels, tuned

    from scsigmoid.bench.protocol import sample_lengths
    from scsigmoid.provenance import provenance

    import_s = IMPORT_TORCH_S + time.perf_counter() - t0
    gen = torch.Generator(device=device).manual_seed(0)
    q, k, v = (torch.randn(batch, seq_len, heads, head_dim, generator=gen, device=device).to(dtype)
               .requires_grad_(True) for _ in range(3))
    lens = torch.as_tensor(sample_lengths(batch, seq_len, padding_pct, 0), dtype=torch.int32, device=device)
    grad = torch.randn_like(q)

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    def fwd():
        return sigattn.sigmoid_attention(q, k, v, seq_lens_q=lens)

    sync()
    t = time.perf_counter()
    out = fwd()
    sync()
    first_fwd = time.perf_counter() - t
    t = time.perf_counter()
    grads = torch.autograd.grad(out, (q, k, v), grad)
    sync()
    first_bwd = time.perf_counter() - t
    # the configs this mode picked must give right answers: worst error vs the fp32 reference
    leaves = [x.detach().float().requires_grad_(True) for x in (q, k, v)]
    ref = sigattn.reference.sigmoid_attention_ref(*leaves, seq_lens_q=lens)
    ref_grads = torch.autograd.grad(ref, leaves, grad.float())
    rel_error = max(sigattn.reference.relative_error(a, b)
                    for a, b in zip((out, *grads), (ref, *ref_grads), strict=True))
    del leaves, ref, ref_grads
    config = tuned.format_config(triton_kernels.LAST_CONFIG)
    warm = []
    for step in ("fwd", "bwd"):
        times = []
        for _ in range(3):
            sync()
            t = time.perf_counter()
            o = fwd()
            if step == "bwd":
                sync()
                t = time.perf_counter()
                torch.autograd.grad(o, (q, k, v), grad)
            sync()
            times.append((time.perf_counter() - t) * 1e3)
        warm.append(sorted(times)[1])
    return {"mode": triton_kernels.TUNING, "head_dim": head_dim, "seq_len": seq_len, "batch": batch,
            "heads": heads, "padding_pct": padding_pct, "dtype": str(dtype).replace("torch.", ""),
            "cache_was_empty": was_empty, "import_s": round(import_s, 3), "first_fwd_s": round(first_fwd, 3),
            "first_bwd_s": round(first_bwd, 3), "warm_fwd_ms": round(warm[0], 4),
            "warm_bwd_ms": round(warm[1], 4), "compiled_kernels": _compiled(cache), "config": config,
            "rel_error": round(rel_error, 6),
            "note": note, **provenance()}


def parse_args(argv=None):
    from scsigmoid.config import config_parser

    config, p = config_parser(argv, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench = config["bench"]  # batch and heads follow the benchmark protocol (config/config.yaml, bench:)
    p.add_argument("--out", required=True, type=Path, help="CSV to write (one row)")
    p.add_argument("--head-dim", type=int, default=64)
    p.add_argument("--seq-len", type=int, default=2048)
    p.add_argument("--padding", type=int, default=25)
    p.add_argument("--tokens", type=int, default=bench["tokens_per_batch"], help="batch = tokens / seq-len")
    p.add_argument("--hidden", type=int, default=bench["hidden"], help="heads = hidden / head-dim")
    p.add_argument("--note", default="", help="free text for the row (e.g. what ran beside it)")
    p.add_argument("--allow-cpu", action="store_true", help="smoke test under TRITON_INTERPRET=1")
    return p.parse_args(argv)


def main(argv=None) -> None:
    from scsigmoid.bench.protocol import derive_shape

    args = parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not args.allow_cpu:
        raise SystemExit("bench_first_call: no CUDA GPU visible (--allow-cpu with TRITON_INTERPRET=1 "
                         "runs a smoke test)")
    shape = derive_shape(args.tokens, args.hidden, args.seq_len, args.head_dim, args.padding)
    row = measure(args.head_dim, args.seq_len, shape.batch, shape.heads, args.padding, device,
                  torch.bfloat16 if device == "cuda" else torch.float32, args.note)
    import pandas as pd

    from scsigmoid.io import write_csv

    write_csv(pd.DataFrame([row], columns=COLUMNS), args.out)
    print(" ".join(f"{k}={row[k]}" for k in ("mode", "cache_was_empty", "import_s", "first_fwd_s",
                                              "first_bwd_s", "warm_fwd_ms", "warm_bwd_ms",
                                              "compiled_kernels", "rel_error", "config")), flush=True)


if __name__ == "__main__":
    main()
