"""How much of a tiled kernel's work on ragged lengths is useful: the ceiling of padded ÷ dense.

The benchmark credits a padded or packed call with the FLOPs of its valid tokens only
(:func:`scsigmoid.bench.protocol.attention_flops`). A kernel that tiles each sequence into
``BLOCK_M`` query rows × ``BLOCK_N`` key columns computes whole tiles, so a sequence of length
``l`` costs ``ceil(l/BLOCK_M)·BLOCK_M × ceil(l/BLOCK_N)·BLOCK_N`` score entries for ``l²``
useful ones (non-causal). At equal time per tile, the padded row's TFLOPS ÷ the dense row's
(whose L is a multiple of every tile) is at most

    ceiling = Σ lᵢ² / Σ ceil(lᵢ/BM)·BM · ceil(lᵢ/BN)·BN

which is what ``padded/dense ≥ 0.9`` (issue #15) has to clear. With the benchmark's 25 % padding
(lengths uniform in [0.75·L, L]) the ceiling falls as L shrinks: a partial tile is a larger share
of a short sequence.

The *schedule model* adds the grid's waves: the kernel's programs (one per row block of a
(sequence, head) for the forward and dQ, one per key block for dK/dV; a block wholly in the
padding costs nothing) each take time in proportion to the tiles it loops over, and the GPU runs
``SMs × CTAs per SM`` of them at once (CTAs per SM from the compiled config's registers, warps
and shared memory: ``results/kernels/resources_sm90.csv``). Programs start in program-id order
on the first free slot; the model's ratio is the padded call's useful entries per slot-time over
the dense call's. At few programs (batch 1 at L = 16K: 1.6–4.1K programs over 132–396 slots,
10–16 waves) a partial last wave is a few per cent of the time, which the tile ceiling does not
see. It is an estimate, not a bound: it prices every slot alike, while a CTA left alone on an SM
that holds two runs faster than one sharing it, so where configs fit 2+ CTAs an SM it
over-states the loss of a partial wave.

    python -m scsigmoid.bench.ceiling results/bench/attention_h200.csv [--config config/config.yaml] \
        [--resources results/kernels/resources_sm90.csv --sms 132]

prints, for every padded / packed row of our kernel with a ``config`` column naming its tiles,
the measured ratio to the dense row of the same point beside the ceiling of the tiles of each
kernel of that pass (forward: ``fwd``; backward: ``dq`` and ``dkdv``).

    python -m scsigmoid.bench.ceiling --tiles 128x128 128x64 64x64 64x32 [--padding 25]

prints instead the ceiling of each tile at each of the config's lengths (``bench.seq_lens``) on
the benchmark's own lengths: which ``padded ÷ dense`` target a tile size can reach at all.
"""

from __future__ import annotations

import heapq
import math
import re

import numpy as np
import pandas as pd
from sigattn.tuned import parse_config

from scsigmoid.bench.protocol import derive_shape, sample_lengths

#: the kernels whose time a pass's row measures (a backward row's config also names its forward)
PASS_KERNELS = {"fwd": ("fwd",), "bwd": ("dq", "dkdv")}


def bench_lengths(bench_cfg: dict, seq_len: int, head_dim: int, padding_pct: int):
    """(shape, lengths) of the benchmark's call at this point: its batch shape and the sequence
    lengths it samples (same tokens a batch, hidden size and seed as the measured calls)."""
    shape = derive_shape(bench_cfg["tokens_per_batch"], bench_cfg["hidden"], seq_len, head_dim, padding_pct)
    return shape, sample_lengths(shape.batch, shape.seq_len, shape.padding_pct, bench_cfg["seed"])


def tile_ceiling(lengths, block_m: int, block_n: int) -> float:
    """Useful ÷ computed score entries of a non-causal kernel tiling each sequence in
    ``block_m`` × ``block_n`` tiles (1.0 when every length is a multiple of both)."""
    lengths = np.asarray(lengths, dtype=np.float64)
    if block_m <= 0 or block_n <= 0:
        raise ValueError(f"tile sizes must be positive; got {block_m} x {block_n}.")
    if lengths.size == 0 or (lengths < 0).any():
        raise ValueError("lengths must be a non-empty list of non-negative sequence lengths.")
    computed = np.sum(np.ceil(lengths / block_m) * block_m * np.ceil(lengths / block_n) * block_n)
    return float(np.sum(lengths ** 2) / computed) if computed else 1.0


#: sm_90 limits per SM: registers, shared memory (bytes; each CTA also takes 1 KB the runtime
#: reserves), resident warps and CTAs; registers are allocated per warp in units of 256
SM90 = {"registers": 65536, "shared": 233472, "reserved_shared": 1024, "warps": 64, "ctas": 32, "reg_unit": 256}


def ctas_per_sm(registers: int, num_warps: int, shared_bytes: int, limits=None) -> int:
    """Resident CTAs of one config per SM, the least of what registers, shared memory, warps and
    the CTA limit allow."""
    lim = SM90 if limits is None else limits
    per_warp = math.ceil(registers * 32 / lim["reg_unit"]) * lim["reg_unit"]
    by_regs = lim["registers"] // (per_warp * num_warps)
    by_shared = lim["shared"] // (shared_bytes + lim["reserved_shared"])
    return int(min(by_regs, by_shared, lim["warps"] // num_warps, lim["ctas"]))


def _program_costs(lengths, slot_len: int, heads: int, kernel: str, block_m: int, block_n: int) -> list[int]:
    """Score entries each program of one launch computes, in program-id order (non-causal, one
    query head per key head). ``slot_len``: the rows each sequence's slot has (L; padding rows
    included), which fixes the grid."""
    own, loop = (block_n, block_m) if kernel.startswith("dkdv") else (block_m, block_n)
    costs = []
    for length in lengths:
        per = math.ceil(length / loop) * loop * own  # a live block's loop over the other side
        blocks = [per if b * own < length else 0 for b in range(math.ceil(slot_len / own))]
        costs += blocks * heads
    return costs


def makespan(costs, slots: int) -> int:
    """Finish time of programs started in order, each on the first slot to come free."""
    free = [0] * max(1, min(slots, len(costs)))
    for cost in costs:
        heapq.heapreplace(free, free[0] + cost)
    return max(free)


def strided_makespan(costs, slots: int) -> int:
    """Finish time of programs handed out by stride (a persistent kernel's static schedule: slot p
    runs programs p, p + slots, p + 2·slots, ... one after another)."""
    slots = max(1, min(slots, len(costs)))
    return max(sum(costs[p::slots]) for p in range(slots))


def persistent_balance(lengths, slot_len: int, heads: int, kernel: str, block_m: int, block_n: int,
                       programs: int) -> tuple[float, float]:
    """(strided, in order): the busiest of ``programs`` persistent programs over the mean, when
    the launch's work items (its one-item programs, _program_costs) are handed out by stride, and
    when each free program takes the next item (a counter; what the hardware does with a grid of
    one-item programs). 1.0 is a perfect balance (kernels/PERF.md "Session 35": v1.14 / v1.15)."""
    costs = _program_costs([int(x) for x in lengths], slot_len, heads, kernel, block_m, block_n)
    mean = sum(costs) / max(1, min(programs, len(costs)))
    if mean == 0:
        return 1.0, 1.0
    return strided_makespan(costs, programs) / mean, makespan(costs, programs) / mean


def schedule_model(lengths, slot_len: int, heads: int, kernel: str, block_m: int, block_n: int,
                   slots: int) -> float:
    """Useful entries per slot-time of the padded launch ÷ the dense launch's (every sequence
    ``slot_len`` long, same batch): tiles and waves together (module doc)."""
    lengths = [int(x) for x in lengths]
    dense = [slot_len] * len(lengths)
    eff = [sum(x * x for x in ls) * heads / makespan(_program_costs(ls, slot_len, heads, kernel, block_m, block_n), slots)
           for ls in (lengths, dense)]
    return eff[0] / eff[1]


def sigmoid_of(pass_: str, head_dim: int) -> str:
    """The sigmoid our default kernel launches in this pass at this head dim, as the kernel module
    names it now (TUNED_VARIANTS; rows of an older default may have run another)."""
    from sigattn import triton_kernels as tk

    return tk.variant_env(tk.TUNED_VARIANTS[pass_][tk.head_dim_class(head_dim)])["SIGATTN_SIGMOID"]


def _occupancy(resources: pd.DataFrame, kernel: str, head_dim: int, sigmoid: str, config) -> int | None:
    """CTAs per SM of a launched config by its compiled resources, or None when the table lacks it."""
    bm, bn, warps, stages = config
    rows = resources[(resources["kernel"] == kernel) & (resources["head_dim"] == head_dim)
                     & (resources["dtype"] == "bf16") & (resources["sigmoid"] == sigmoid)
                     & (resources["block_m"] == bm) & (resources["block_n"] == bn)
                     & (resources["num_warps"] == warps) & (resources["num_stages"] == stages)]
    if rows.empty:
        return None
    r = rows.iloc[0]
    return ctas_per_sm(int(r["registers"]), warps, int(r["shared_bytes"]))


def ceilings(bench: pd.DataFrame, bench_cfg: dict, resources: pd.DataFrame | None = None,
             sms: int = 132) -> pd.DataFrame:
    """One row per (padded or packed row of ours, kernel it launched): the measured TFLOPS ÷ the
    dense row of the same pass, head dim and L, and the ceiling of that kernel's tiles on the
    benchmark's own lengths (same seed, batch and padding as the measured call); with the
    compiled configs' ``resources``, each kernel's CTAs per SM and the schedule model's ratio on
    ``sms`` SMs too (NaN where the table lacks the config)."""
    if "repeat" not in bench:  # a variant call's repeats (bench_variants collect): each against its own dense row
        bench = bench.assign(repeat=1)
    ok = bench[(bench["status"] == "ok") & bench["impl"].isin(["ours_dense", "ours_padded", "ours_varlen"])]
    dense = ok[ok["impl"] == "ours_dense"].set_index(["pass", "head_dim", "seq_len", "repeat"])["tflops"]
    rows = []
    for rec in ok[ok["impl"] != "ours_dense"].to_dict("records"):
        point = (rec["pass"], rec["head_dim"], rec["seq_len"], rec["repeat"])
        shape, lengths = bench_lengths(bench_cfg, int(rec["seq_len"]), int(rec["head_dim"]), int(rec["padding_pct"]))
        ratio = rec["tflops"] / dense[point] if point in dense.index else np.nan
        for kernel, _, config, _ in parse_config(rec["config"]):
            bm, bn = config[:2]
            if kernel.split("_")[0] not in PASS_KERNELS[rec["pass"]]:  # dkdv_fused_tma -> dkdv
                continue
            row = {"impl": rec["impl"], "pass": rec["pass"], "head_dim": int(rec["head_dim"]),
                   "seq_len": int(rec["seq_len"]), "repeat": int(rec["repeat"]), "padded_over_dense": round(float(ratio), 3),
                   "kernel": kernel, "block_m": bm, "block_n": bn,
                   "ceiling": round(tile_ceiling(lengths, bm, bn), 3)}
            if resources is not None:
                sigmoid = sigmoid_of(rec["pass"], int(rec["head_dim"]))
                ctas = _occupancy(resources, kernel, int(rec["head_dim"]), sigmoid, config)
                row["ctas_per_sm"] = ctas if ctas is not None else np.nan
                row["schedule_model"] = np.nan if ctas is None else round(schedule_model(
                    lengths, shape.seq_len, shape.heads, kernel, bm, bn, sms * ctas), 3)
            rows.append(row)
    return pd.DataFrame(rows)


def parse_tile(text: str) -> tuple[int, int]:
    """``"128x64"`` -> (128, 64): a tile's query rows × key columns."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not m or not all(int(g) > 0 for g in m.groups()):
        raise ValueError(f"a tile is ROWSxCOLUMNS of positive integers, e.g. 128x64; got {text!r}.")
    return int(m.group(1)), int(m.group(2))


def tile_table(bench_cfg: dict, tiles, padding_pct: int = 25, head_dim: int = 64) -> pd.DataFrame:
    """The ceiling of each tile (rows × columns) at each of ``bench_cfg["seq_lens"]``, on the
    lengths the benchmark samples for a padded call at ``padding_pct`` (same seed and batch as
    the measured calls; the head dim only sets the batch's heads, not the lengths)."""
    rows = []
    for seq_len in bench_cfg["seq_lens"]:
        _, lengths = bench_lengths(bench_cfg, int(seq_len), head_dim, padding_pct)
        rows.append({"seq_len": int(seq_len), "sequences": len(lengths),
                     "shortest": int(min(lengths)), "longest": int(max(lengths)),
                     **{f"{bm}x{bn}": round(tile_ceiling(lengths, bm, bn), 3) for bm, bn in tiles}})
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    from scsigmoid.config import config_parser

    config, p = config_parser(argv, description=__doc__.split("\n\n")[0])
    p.add_argument("bench_csv", nargs="?", help="a benchmark CSV (the measured mode; not with --tiles)")
    p.add_argument("--tiles", nargs="+", metavar="RxC", help="print each tile's ceiling at each of "
                   "bench.seq_lens instead (e.g. 128x64 64x64)")
    p.add_argument("--padding", type=int, default=25, help="with --tiles: the padding per cent (default 25)")
    p.add_argument("--resources", help="the compiled configs' resources (python -m sigattn.resources's CSV): "
                   "adds CTAs per SM and the schedule model's ratio")
    p.add_argument("--sms", type=int, default=132, help="the GPU's SMs (H100 SXM and H200: 132)")
    args = p.parse_args(argv)
    if args.tiles:
        if args.bench_csv:
            p.error("give either a benchmark CSV or --tiles, not both")
        try:
            tiles = [parse_tile(t) for t in args.tiles]
        except ValueError as err:
            p.error(str(err))
        if not 0 < args.padding < 100:
            p.error(f"--padding is a per cent of each sequence's slot, 1 ... 99; got {args.padding}")
        print(tile_table(config["bench"], tiles, args.padding).to_string(index=False))
        return
    if not args.bench_csv:
        p.error("give a benchmark CSV (or --tiles)")
    resources = pd.read_csv(args.resources) if args.resources else None
    table = ceilings(pd.read_csv(args.bench_csv), config["bench"], resources, args.sms)
    print(table.sort_values(["head_dim", "pass", "seq_len", "impl", "kernel", "repeat"]).to_string(index=False))


if __name__ == "__main__":
    main()
