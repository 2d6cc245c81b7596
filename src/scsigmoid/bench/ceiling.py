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

    python -m scsigmoid.bench.ceiling results/bench/attention_h200.csv [--config config/config.yaml]

prints, for every padded / packed row of our kernel with a ``config`` column naming its tiles,
the measured ratio to the dense row of the same point beside the ceiling of the tiles of each
kernel of that pass (forward: ``fwd``; backward: ``dq`` and ``dkdv``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sigattn.tuned import parse_config

from scsigmoid.bench.protocol import derive_shape, sample_lengths

#: the kernels whose time a pass's row measures (a backward row's config also names its forward)
PASS_KERNELS = {"fwd": ("fwd",), "bwd": ("dq", "dkdv")}


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


def ceilings(bench: pd.DataFrame, bench_cfg: dict) -> pd.DataFrame:
    """One row per (padded or packed row of ours, kernel it launched): the measured TFLOPS ÷ the
    dense row of the same pass, head dim and L, and the ceiling of that kernel's tiles on the
    benchmark's own lengths (same seed, batch and padding as the measured call)."""
    if "repeat" not in bench:  # a variant call's repeats (bench_variants collect): each against its own dense row
        bench = bench.assign(repeat=1)
    ok = bench[(bench["status"] == "ok") & bench["impl"].isin(["ours_dense", "ours_padded", "ours_varlen"])]
    dense = ok[ok["impl"] == "ours_dense"].set_index(["pass", "head_dim", "seq_len", "repeat"])["tflops"]
    rows = []
    for rec in ok[ok["impl"] != "ours_dense"].to_dict("records"):
        point = (rec["pass"], rec["head_dim"], rec["seq_len"], rec["repeat"])
        shape = derive_shape(bench_cfg["tokens_per_batch"], bench_cfg["hidden"], int(rec["seq_len"]),
                             int(rec["head_dim"]), int(rec["padding_pct"]))
        lengths = sample_lengths(shape.batch, shape.seq_len, shape.padding_pct, bench_cfg["seed"])
        ratio = rec["tflops"] / dense[point] if point in dense.index else np.nan
        for kernel, _, (bm, bn, _, _), _ in parse_config(rec["config"]):
            if kernel.split("_")[0] not in PASS_KERNELS[rec["pass"]]:  # dkdv_fused_tma -> dkdv
                continue
            rows.append({"impl": rec["impl"], "pass": rec["pass"], "head_dim": int(rec["head_dim"]),
                         "seq_len": int(rec["seq_len"]), "repeat": int(rec["repeat"]), "padded_over_dense": round(float(ratio), 3),
                         "kernel": kernel, "block_m": bm, "block_n": bn,
                         "ceiling": round(tile_ceiling(lengths, bm, bn), 3)})
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    from scsigmoid.config import config_parser

    config, p = config_parser(argv, description=__doc__.split("\n\n")[0])
    p.add_argument("bench_csv")
    args = p.parse_args(argv)
    table = ceilings(pd.read_csv(args.bench_csv), config["bench"])
    print(table.sort_values(["head_dim", "pass", "seq_len", "impl", "kernel", "repeat"]).to_string(index=False))


if __name__ == "__main__":
    main()
