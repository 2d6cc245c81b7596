"""Replication scorecard: one row per measurable part of the paper's four claims, with the
paper's value, ours, the scale we ran at and a verdict. A missing or unreadable input makes its
rows 'untestable here: <reason>' instead of failing the whole card."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from scsigmoid.bench.reference import with_reference
from scsigmoid.train.sweep import stability_frontier

REPRODUCED, NOT_REPRODUCED = "reproduced", "not reproduced"
PAPER_DIVERGENCE_STEP = 55_600  # softmax diverged here in the paper's stress test (Fig 6)
COLUMNS = ("claim", "part", "paper", "ours", "scale", "verdict", "source")


def _row(claim, part, paper, ours, scale, verdict, source) -> dict:
    return dict(zip(COLUMNS, (claim, part, paper, ours, scale, verdict, source), strict=True))


def _verdict(ok: bool) -> str:
    return REPRODUCED if ok else NOT_REPRODUCED


def _read(path) -> pd.DataFrame:
    if path is None:
        raise FileNotFoundError("no input configured for this claim")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} missing")
    return pd.read_csv(path)


def _wins(sig: pd.Series, soft: pd.Series, higher_is_better: bool) -> tuple[int, int, float]:
    """(datasets where sigmoid is better, datasets compared, relative change of the across-dataset
    means, sigmoid vs softmax; a ratio of means stays stable where one dataset's value is near 0)."""
    both = pd.concat([sig, soft], axis=1, keys=["sig", "soft"]).dropna()
    better = both["sig"] > both["soft"] if higher_is_better else both["sig"] < both["soft"]
    base = both["soft"].mean()
    rel = (both["sig"].mean() - base) / abs(base) if len(both) and base != 0 else np.nan
    return int(better.sum()), len(both), float(rel)


def separation_rows(mmd_csv, scale: str) -> list[dict]:
    mmd = _read(mmd_csv)
    soft, sig = mmd.set_index("dataset")["X_softmax_mean"], mmd.set_index("dataset")["X_sigmoid_mean"]
    won, n, rel = _wins(sig, soft, True)
    ok = rel > 0 and won * 2 >= n
    return [_row("1", "cell-type separation (mean pairwise RBF MMD², mean-pool embedding)", "+25%",
                 f"{rel:+.1%} (mean over datasets); sigmoid higher in {won}/{n}", scale,
                 _verdict(ok) + ("" if rel >= 0.25 or not ok else " (direction only; smaller than +25%)"),
                 str(mmd_csv))]


def scib_rows(scib_csv, scale: str) -> list[dict]:
    scib = _read(scib_csv)
    rows = []
    for metric, label in (("nmi", "Leiden NMI"), ("ari", "Leiden ARI"),
                          ("silhouette_label", "silhouette label"), ("bio_conservation", "bio conservation")):
        wide = scib.pivot_table(index="dataset", columns="embedding", values=metric)
        won, n, rel = _wins(wide["X_sigmoid_mean"], wide["X_softmax_mean"], True)
        base = wide.get("X_pca_baseline")
        beat_base = "" if base is None else (
            f"; sigmoid above PCA baseline in {int((wide['X_sigmoid_mean'] > base).sum())}/{n}")
        rows.append(_row("1", f"scIB {label} (4K, PCA 95%)", "sigmoid higher than softmax",
                         f"sigmoid higher in {won}/{n} datasets, mean {rel:+.1%}{beat_base}", scale,
                         _verdict(won * 2 > n), str(scib_csv)))
    return rows


def val_loss_rows(val_csv, scale: str) -> list[dict]:
    tidy = _read(val_csv)
    rows = []
    for context, part in tidy.groupby("context"):
        wide = part.pivot_table(index="dataset", columns="attention", values="loss_mean")
        won, n, rel = _wins(wide["sigmoid"], wide["softmax"], False)
        rows.append(_row("1", f"validation MLM loss, context {context}", "sigmoid lower on the 6 datasets",
                         f"sigmoid lower in {won}/{n}, mean {rel:+.2%}", scale, _verdict(won * 2 > n),
                         str(val_csv)))
    return rows


def _throughput_column(df: pd.DataFrame) -> str:
    for col in ("tokens_per_s", "samples_per_s", "cells_per_s", "throughput"):
        if col in df:
            return col
    hits = [c for c in df.columns if c.endswith("_per_s")]
    if not hits:
        raise ValueError(f"no throughput column (…_per_s) among {list(df.columns)}")
    return hits[0]


def speed_rows(throughput_csv, scale: str) -> list[dict]:
    df = _read(throughput_csv)
    if "status" in df:
        df = df[df["status"].astype(str) == "ok"]
    col = _throughput_column(df)
    keys = [k for k in ("size", "context") if k in df]
    wide = df.pivot_table(index=keys, columns="attention", values=col, aggfunc="median")
    speedup = (wide["sigmoid"] / wide["softmax"] - 1).dropna()
    rows = []
    paper = {2048: 0.021, 4096: 0.040, 8192: 0.075}  # the paper's 1.4B gaps (Fig 3)
    for idx, gain in speedup.items():
        idx = idx if isinstance(idx, tuple) else (idx,)
        where = dict(zip(keys, idx, strict=True))
        ctx, size = int(where.get("context", 0)), str(where.get("size", ""))
        claim = paper.get(ctx) if size == "1.4B" else None
        rows.append(_row("2", f"training speed, {', '.join(f'{k} {v}' for k, v in where.items())}",
                         f"{claim:+.1%}" if claim is not None else "sigmoid faster (Fig 3)",
                         f"{gain:+.1%} ({col})", f"{size}, {ctx} context, {scale}",
                         _speed_verdict(gain, claim), str(throughput_csv)))
    best = speedup.max() if len(speedup) else float("nan")
    rows.append(_row("2", "training speed, best case", "up to +10%", f"{best:+.1%}", scale,
                     _speed_verdict(best, 0.10), str(throughput_csv)))
    return rows


def _speed_verdict(gain: float, claim: float | None) -> str:
    """Reproduced when sigmoid is faster and, where the paper gives a number, within a factor of
    two of it; a much larger or smaller gap reproduces the direction only."""
    if not gain > 0:
        return NOT_REPRODUCED
    if claim is None or claim / 2 <= gain <= claim * 2:
        return REPRODUCED
    return f"{REPRODUCED} in direction only (gap {gain / claim:.1f}x the paper's)"


def _diverged(losses: pd.Series, grad: pd.Series | None) -> bool:
    losses = losses.astype(float)
    if not np.isfinite(losses).all():
        return True
    lowest = losses.cummin()
    jump = (losses - lowest).max()
    grad_jump = False
    if grad is not None and len(grad.dropna()) > 10:
        g = grad.astype(float).replace([np.inf], np.nan)
        early = g.iloc[: max(1, len(g) // 4)].median()
        grad_jump = bool(not np.isfinite(g).all() or g.max() > 1e3 * early)
    return bool(jump > 2.0 or grad_jump)


def stress_rows(stress_csv, scale: str) -> list[dict]:
    df = _read(stress_csv)
    grad_col = next((c for c in ("grad_norm", "gradient_norm") if c in df), None)
    status = {}
    for att, part in df.sort_values("step").groupby("attention"):
        if "diverged_step" in part:  # the trainer's own divergence detection, when recorded
            status[att] = bool(pd.to_numeric(part["diverged_step"], errors="coerce").notna().any())
        else:
            status[att] = _diverged(part["loss"], part[grad_col] if grad_col else None)
    steps = int(df["step"].max())
    ours = ", ".join(f"{a}: {'diverged' if d else 'stable'}" for a, d in sorted(status.items()))
    ours += f" over {steps} steps"
    if grad_col:  # the largest gradient norm per arm: instability short of divergence
        peaks = df.groupby("attention")[grad_col].max()
        ours += "; largest gradient norm " + ", ".join(f"{a} {peaks[a]:.3g}" for a in sorted(peaks.index))
    if "sigmoid" not in status:
        verdict = "untestable here: no sigmoid run in stress CSV"
    elif status.get("softmax") is True and status["sigmoid"] is False:
        verdict = REPRODUCED
    elif not any(status.values()) and steps < PAPER_DIVERGENCE_STEP:
        verdict = (f"untestable here: neither diverged within {steps} steps; the paper's softmax "
                   f"diverged at step {PAPER_DIVERGENCE_STEP:,}")
    else:
        verdict = NOT_REPRODUCED
    return [_row("3", "stress test without clipping", "softmax diverges (55.6K steps), sigmoid stable 80K",
                 ours, scale, verdict, str(stress_csv))]


def lr_sweep_rows(sweep_csv, scale: str) -> list[dict]:
    df = _read(sweep_csv)
    missing = {"diverged", "stable", "lr", "attention"} - set(df)
    if missing:
        raise ValueError(f"lr sweep CSV lacks {sorted(missing)}; rebuild it with "
                         "`python -m scsigmoid.train.experiments lr_sweep_summary --out R`")
    frontier = stability_frontier(df)
    div = df.groupby("attention")["diverged"].apply(lambda s: int(s.astype(bool).sum()))
    tot = df.groupby("attention")["diverged"].size()
    ours = "; ".join(f"{a}: frontier {frontier[a]:g}, {div[a]}/{tot[a]} LRs diverged" for a in sorted(div.index))
    ladder_max = float(df["lr"].max())
    sig, soft = frontier.get("sigmoid", np.nan), frontier.get("softmax", np.nan)
    if sig == ladder_max and soft == ladder_max:
        verdict = f"untestable here: both arms stable up to the ladder's largest LR {ladder_max:g}"
    else:
        verdict = _verdict(bool(sig > soft))
    return [_row("3", "stability across learning rates (supplement)", "sigmoid more stable", ours, scale,
                 verdict, str(sweep_csv))]


def jacobian_rows(jacobian_csv, scale: str) -> list[dict]:
    df = _read(jacobian_csv)
    sig_max = float(df["sigmoid_norm_max"].max())
    soft_max = float(df["softmax_norm_max"].max())
    offdiag = float(df["softmax_offdiag_share"].max())
    return [
        _row("3", "sigmoid derivative bound 0.25 (diagonal Jacobian)", "≤ 0.25",
             f"max ‖diag σ'(αS)‖₂ = {sig_max:.4f} over {df['alpha'].nunique()} scales", scale,
             _verdict(sig_max <= 0.25 + 1e-12), str(jacobian_csv)),
        _row("3", "softmax Jacobian dense", "diag(p) - ppᵀ dense",
             f"off-diagonal share of ‖J‖²_F up to {offdiag:.2f}; max ‖J‖₂ = {soft_max:.3f}", scale,
             _verdict(offdiag > 0), str(jacobian_csv)),
    ]


def _ok_bench(bench_csv) -> pd.DataFrame:
    df = _read(bench_csv)
    if "status" in df:
        df = df[df["status"].astype(str) == "ok"]
    return df


def _compare(df: pd.DataFrame, ours: dict[int, str], theirs: dict[int, str]) -> tuple[int, int]:
    """Cells (pass, head_dim, padding, seq_len) where our impl beats theirs / cells compared."""
    won = total = 0
    keys = ["pass", "head_dim", "seq_len"]
    for pad, impl in ours.items():
        a = df[(df["impl"] == impl) & (df["padding_pct"] == pad)].set_index(keys)["tflops"]
        b = df[(df["impl"] == theirs.get(pad)) & (df["padding_pct"] == pad)].set_index(keys)["tflops"]
        both = pd.concat([a, b], axis=1, keys=["a", "b"]).dropna()
        won += int((both["a"] > both["b"]).sum())
        total += len(both)
    return won, total


def kernel_rows(bench_csv, scale: str, reference_csv=None) -> list[dict]:
    """Claim 4 rows; ``reference_csv``: external baselines (FlashSigmoid) joined as '<impl>_ref'."""
    reference = None if reference_csv is None else _read(reference_csv)
    df = _ok_bench(bench_csv)
    df = with_reference(df, reference) if "status" in df else df
    rows = []
    for label, dense, padded in (("TritonSigmoid (authors')", "tritonsigmoid_dense", "tritonsigmoid_padded"),
                                 ("our kernel", "ours_dense", "ours_padded")):
        mine = df[df["impl"].isin([dense, padded])]
        if mine.empty:
            rows.append(_row("4", f"{label}: peak TFLOPS", "515 (H100)", "", scale,
                             f"untestable here: no {dense} rows in the benchmark", str(bench_csv)))
            continue
        peak = mine.loc[mine["tflops"].idxmax()]
        rows.append(_row("4", f"{label}: peak TFLOPS", "515 (H100; FA2 361, FlashSigmoid 440)",
                         f"{peak['tflops']:.0f} ({peak['pass']}, hd{peak['head_dim']}, L={peak['seq_len']})",
                         scale, _verdict(peak["tflops"] >= 515) + " (different GPU)", str(bench_csv)))
        won, total = _compare(df, {0: dense, 25: padded}, {0: "fa2_dense", 25: "fa2_varlen"})
        rows.append(_row("4", f"{label}: beats FlashAttention-2 everywhere", "all cells",
                         f"{won}/{total} cells", scale,
                         _verdict(total > 0 and won == total) if total else "untestable here: no FA2 rows",
                         str(bench_csv)))
        fs = "flashsigmoid" if (df["impl"] == "flashsigmoid").any() else "flashsigmoid_ref"
        won, total = _compare(df, {0: dense}, {0: fs})
        rows.append(_row("4", f"{label}: beats FlashSigmoid without padding", "all cells",
                         f"{won}/{total} cells (vs {fs})", scale,
                         _verdict(won == total) if total else "untestable here: no FlashSigmoid rows",
                         str(bench_csv)))
        padded_ok = (df["impl"] == padded).any() and (df.loc[df["impl"] == padded, "padding_pct"] > 0).any()
        rows.append(_row("4", f"{label}: native padding support", "yes (FlashSigmoid: no)",
                         "padded runs completed" if padded_ok else "no padded rows", scale,
                         _verdict(bool(padded_ok)), str(bench_csv)))
    return rows


def build_scorecard(inputs: dict[str, str | os.PathLike | None], scales: dict[str, str]) -> pd.DataFrame:
    """``inputs`` keys: mmd, scib, val_loss, throughput, stress, lr_sweep, jacobian, bench,
    bench_reference (paths or None); ``scales`` gives the 'scale we ran at' text per key."""
    sections: list[tuple[str, Callable, str, str]] = [
        ("mmd", separation_rows, "1", "cell-type separation +25%"),
        ("scib", scib_rows, "1", "scIB NMI / ARI / silhouette / bio conservation"),
        ("val_loss", val_loss_rows, "1", "lower validation loss"),
        ("throughput", speed_rows, "2", "training speed 2.1 / 4.0 / 7.5%, up to 10%"),
        ("stress", stress_rows, "3", "stress-test divergence"),
        ("lr_sweep", lr_sweep_rows, "3", "stability across learning rates"),
        ("jacobian", jacobian_rows, "3", "derivative bound / Jacobian structure"),
        ("bench", partial(kernel_rows, reference_csv=inputs.get("bench_reference")), "4",
         "kernel 515 TFLOPS, beats FA2 and FlashSigmoid, padding"),
    ]
    rows = []
    for key, fn, claim, part in sections:
        path = inputs.get(key)
        scale = scales.get(key, "")
        try:
            rows.extend(fn(path, scale))
        except Exception as err:  # a missing/odd input must not hide the other claims
            rows.append(_row(claim, part, "", "", scale, f"untestable here: {err}",
                             "" if path is None else str(path)))
    return pd.DataFrame(rows, columns=list(COLUMNS))
