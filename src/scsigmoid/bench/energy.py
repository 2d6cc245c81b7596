"""Energy a call of the attention kernels at the board's power cap, and what it is made of.

At the cap (kernels/PERF.md "Session 32": every hd128 arm of the power diagnosis held by the
software power cap in every sample) a call's time is its energy over the cap's watts, so the
question "which kernel is faster" becomes "which spends less energy a call". This module puts two
measurements of the same point side by side and fits the simplest model that separates tensor
work from everything else:

    energy a call (mJ) = a · matmuls + b · instructions (10⁹)

``matmuls``: the L×L×d matrix products a backward runs (:data:`MATMULS`: ours and TritonSigmoid
recompute S and dP in both of their kernels, seven; cuDNN's FlashAttention-style backward five);
``instructions``: the warp instructions ncu counted over the call's kernels
(``Executed Instructions``, gpu/profile_points.sh); energy: board power × do_bench median of the
power diagnosis (``bench_diag.py`` rows with ``power_w``, medians over rounds). With the fit, the
energy of a design not built yet (five matmuls at a given instruction count) is a prediction that
its run can refute.

    python -m scsigmoid.bench.energy --profiles results/kernels/h100_profile_s32_44bba84/default \\
        results/kernels/h100_profile_s32_44bba84/tma --diag results/bench/power_s32_h100_bwd128/diag.csv \\
        [--point 128:bwd:16384] [--predict 5:3.2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

#: matrix products a backward runs, by the benchmark's impl name: S = QKᵀ and dP = dO·Vᵀ
#: recomputed in the dQ and the dK/dV kernel, dQ, dK, dV (seven: ours and TritonSigmoid's split
#: backward), or each once in one kernel (five: cuDNN's FlashAttention-style backward, and our
#: ``fused`` variants, whose dK/dV kernel adds dQ by reductions)
MATMULS = {"bwd": {"ours": 7, "ours_fused": 5, "tritonsigmoid": 7, "cudnn_sdpa": 5}}
MIN_ARMS = 3  # two parameters: at least one arm more than the fit has unknowns


def matmuls(impl: str, pass_: str) -> int:
    family = ("ours_fused" if "fused" in impl.split("_") else "ours") if impl.startswith("ours_") \
        else impl.split("_")[0] if impl.startswith("tritonsigmoid_") else impl
    try:
        return MATMULS[pass_][family]
    except KeyError:
        raise ValueError(f"no matmul count on record for {impl} ({pass_}); add it to energy.MATMULS") from None


def instructions(profile_dir: Path, point: str) -> dict[str, float]:
    """impl -> warp instructions (10⁹) over every kernel ncu recorded for ``point``
    (``impl:head_dim:pass:seq_len`` of ``points.csv``; the impl name is the row's ``impl``,
    e.g. ``ours_dense_tma`` for a variant run)."""
    points = pd.read_csv(profile_dir / "points.csv")
    out = {}
    for _, row in points.iterrows():
        if row["point"].split(":", 1)[1] != point:
            continue
        ncu = pd.read_csv(profile_dir / f"ncu_{row['point'].replace(':', '_')}.csv")
        executed = ncu[ncu["Metric Name"] == "Executed Instructions"]
        if executed.empty:
            raise ValueError(f"{profile_dir}: no 'Executed Instructions' for {row['point']} "
                             "(profile with the InstructionStats section)")
        values = executed["Metric Value"].astype(str).str.replace(",", "").astype(float)
        out[row["impl"]] = float(values.sum()) / 1e9
    return out


def call_energy_mj(rows: pd.DataFrame) -> pd.Series:
    """Energy a call of each bench_diag row, mJ: the board's mean power while do_bench ran (W)
    times the do_bench median (ms); NaN where the row has no power."""
    return rows["power_w"] * rows["ms_median"]


def energies(diag: pd.DataFrame, point: str) -> dict[str, float]:
    """impl -> median over rounds of :func:`call_energy_mj` at ``point``, rows with power."""
    head_dim, pass_, seq_len = point.split(":")
    rows = diag[(diag["status"] == "ok") & (diag["head_dim"] == int(head_dim)) & (diag["pass"] == pass_)
                & (diag["seq_len"] == int(seq_len))].dropna(subset=["power_w", "ms_median"])
    return {impl: float(call_energy_mj(g).median()) for impl, g in rows.groupby("impl")}


def table(profile_dirs, diag: pd.DataFrame, point: str) -> pd.DataFrame:
    """One row an implementation measured both ways: matmuls, instructions (10⁹), energy (mJ)."""
    instr = {}
    for d in profile_dirs:
        instr.update(instructions(Path(d), point))
    energy = energies(diag, point)
    pass_ = point.split(":")[1]
    rows = [dict(impl=impl, matmuls=matmuls(impl, pass_), instructions_g=instr[impl], energy_mj=energy[impl])
            for impl in sorted(set(instr) & set(energy))]
    return pd.DataFrame(rows, columns=["impl", "matmuls", "instructions_g", "energy_mj"])


def fit(t: pd.DataFrame) -> tuple[float, float, pd.DataFrame]:
    """(a, b, the table with the model's energy and its relative residual): least squares of
    energy_mj = a·matmuls + b·instructions_g over the table's rows."""
    if len(t) < MIN_ARMS:
        raise ValueError(f"the fit has two parameters and needs >= {MIN_ARMS} implementations measured both ways "
                         f"(power diagnosis and ncu); got {len(t)}: {', '.join(t['impl']) or 'none'}")
    design = t[["matmuls", "instructions_g"]].to_numpy(float)
    (a, b), *_ = np.linalg.lstsq(design, t["energy_mj"].to_numpy(float), rcond=None)
    model = design @ np.array([a, b])
    return float(a), float(b), t.assign(model_mj=model, residual=model / t["energy_mj"] - 1)


def lines(profile_dirs, diag: pd.DataFrame, point: str, predict: list[tuple[int, float]]) -> list[str]:
    t = table(profile_dirs, diag, point)
    a, b, t = fit(t)
    out = [f"energy a call at {point} (power diagnosis x ncu): energy = a·matmuls + b·instructions",
           *(f"  {r.impl}: {r.matmuls} matmuls, {r.instructions_g:.3f}e9 instructions, {r.energy_mj:.0f} mJ "
             f"measured, {r.model_mj:.0f} mJ fitted ({r.residual:+.1%})" for r in t.itertuples()),
           f"  a = {a:.0f} mJ a matmul, b = {b:.0f} mJ a 1e9 instructions "
           f"({len(t)} implementations, 2 parameters)"]
    for count, instr in predict:
        energy = a * count + b * instr
        ratios = ", ".join(f"{energy / r.energy_mj:.3f}x {r.impl}'s" for r in t.itertuples())
        out.append(f"  predicted: {count} matmuls at {instr:g}e9 instructions: {energy:.0f} mJ ({ratios})")
    return out


def _prediction(text: str) -> tuple[int, float]:
    count, _, instr = text.partition(":")
    try:
        return int(count), float(instr)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--predict {text!r}: expected MATMULS:INSTRUCTIONS_G, e.g. 5:3.2") from None


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profiles", nargs="+", required=True, type=Path,
                   help="gpu/profile_points.sh output folders (points.csv, ncu_<point>.csv)")
    p.add_argument("--diag", nargs="+", required=True, type=Path, help="bench_diag.py CSVs with power columns")
    p.add_argument("--point", default="128:bwd:16384", help="head_dim:pass:seq_len")
    p.add_argument("--predict", nargs="*", type=_prediction, default=[],
                   help="MATMULS:INSTRUCTIONS_G of a design to price with the fit")
    args = p.parse_args(argv)
    missing = [str(x) for x in [*args.profiles, *args.diag] if not x.exists()]
    if missing:
        raise SystemExit(f"energy: no such file or folder: {', '.join(missing)}")
    diag = pd.concat([pd.read_csv(x) for x in args.diag], ignore_index=True)
    try:
        print("\n".join(lines(args.profiles, diag, args.point, args.predict)))
    except ValueError as err:
        raise SystemExit(f"energy: {err}") from None


if __name__ == "__main__":
    main()
