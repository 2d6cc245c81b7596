"""The 4 x 2 kernel-benchmark grid shared by Fig 2 (TFLOPS) and Fig 8 (latency): rows head dim
64/128 x padding 0%/25%, columns forward/backward, x = sequence length (log2)."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FormatStrFormatter

from scsigmoid.bench.reference import with_reference
from scsigmoid.bench.timing import MIXED, PAPER_TIMING, row_timing, select_timing, timing_label
from scsigmoid.plots import style

GRID_ROWS = [(64, 0), (128, 0), (64, 25), (128, 25)]  # (head_dim, padding_pct)
GRID_COLS = ["fwd", "bwd"]
PASS_TITLES = {"fwd": "forward", "bwd": "backward"}
FIGURE_IMPLS = [
    "ours_dense", "ours_padded", "ours_varlen", "tritonsigmoid_dense", "tritonsigmoid_padded",
    "flashsigmoid", "flashsigmoid_ref", "fa2_dense", "fa2_varlen", "flash_attn_dense",
    "flash_attn_varlen", "cudnn_sdpa", "eager_sigmoid",
]
# names in the paper's Fig 2 CSV -> our implementation names
REPORTED_IMPLS = {
    "pytorch_sigmoid_eager": "eager_sigmoid", "flashattention2": "fa2_dense",
    "flashattention2_varlen": "fa2_varlen", "flashsigmoid": "flashsigmoid",
    "tritonsigmoid": "tritonsigmoid_dense", "tritonsigmoid_padded": "tritonsigmoid_padded",
}
MEASURED_COLUMNS = ["impl", "pass", "head_dim", "padding_pct", "seq_len", "ms_median", "ms_p20",
                    "ms_p80", "tflops", "status"]


def require_columns(df: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} lacks columns {missing}; expected at least {list(columns)}.")


def with_flashsigmoid_reference(measured: pd.DataFrame, reference: pd.DataFrame | None) -> pd.DataFrame:
    """Add the external FlashSigmoid rows as impl 'flashsigmoid_ref' unless FlashSigmoid was
    measured here (any ok row); also from another GPU than the benchmark's: the figure draws them
    dashed, their legend naming their GPU, and compares nothing."""
    if reference is not None:
        reference = reference[reference["impl"] == "flashsigmoid"]
    return with_reference(measured, reference, same_device=False)


def metric_band(df: pd.DataFrame, metric: str):
    """(value, low, high) columns for 'tflops' (from the p80/p20 times) or 'ms'."""
    if metric == "ms":
        return df["ms_median"], df["ms_p20"], df["ms_p80"]
    if metric == "tflops":
        flops_per_ms = df["tflops"] * df["ms_median"]
        return df["tflops"], flops_per_ms / df["ms_p80"], flops_per_ms / df["ms_p20"]
    raise ValueError(f"metric must be 'tflops' or 'ms'; got {metric!r}.")


def ours_commit_text(measured: pd.DataFrame, width: int = 110) -> str:
    """'code that ran (ours): <commit> (N points: hd64 fwd, ...); ...' when our measured rows ran
    more than one commit (a table merged from several calls), else "": a reader sees on the
    figure's face which points ran which kernel version (as Fig 3's face does for its points)."""
    if "commit" not in measured:
        return ""
    ours = measured[(measured["status"] == "ok") & measured["impl"].str.startswith("ours")]
    if ours["commit"].nunique() < 2:
        return ""
    parts = []
    for commit, rows in sorted(ours.groupby("commit"), key=lambda kv: (-len(kv[1]), str(kv[0]))):
        where = ", ".join(f"hd{hd} {pass_}" for (hd, pass_), _ in rows.groupby(["head_dim", "pass"]))
        parts.append(f"{commit} ({len(rows)} points: {where})")
    return "\n".join(textwrap.wrap("code that ran (ours): " + "; ".join(parts), width))


def draw_kernel_grid(measured: pd.DataFrame, metric: str, *, reported: pd.DataFrame | None = None,
                     exclude: tuple[str, ...] = (), title: str = "",
                     timing: str | None = None) -> plt.Figure:
    """Lines (median, p20-p80 error bars) per implementation; paper H100 values, when given
    (TFLOPS only), as hollow markers of the same colour. ``timing``: which do_bench settings to
    draw when the rows carry several (see bench.timing.select_timing; an error otherwise); with
    'mixed', points not at the paper's settings get a white-filled marker and the title says so."""
    require_columns(measured, MEASURED_COLUMNS, "benchmark table")
    measured, timing_text = select_timing(measured, timing)
    paper = timing_label(*PAPER_TIMING)
    off_paper = (row_timing(measured) != paper) if timing == MIXED else pd.Series(False, index=measured.index)
    if timing == MIXED and off_paper[measured["status"] == "ok"].any():
        timing_text += f"; white-filled markers: not at the paper's {paper} ms"
    style.apply_style()
    ok = measured[(measured["status"] == "ok") & ~measured["impl"].isin(exclude)]
    fig, axes = plt.subplots(len(GRID_ROWS), len(GRID_COLS), figsize=(8.5, 11), squeeze=False)
    handles = {}
    for r, (head_dim, padding) in enumerate(GRID_ROWS):
        for c, pass_ in enumerate(GRID_COLS):
            ax = axes[r][c]
            panel = ok[(ok["head_dim"] == head_dim) & (ok["padding_pct"] == padding)
                       & (ok["pass"] == pass_)]
            for impl in [i for i in FIGURE_IMPLS if i in set(panel["impl"])] + sorted(
                    set(panel["impl"]) - set(FIGURE_IMPLS)):
                rows = panel[panel["impl"] == impl].sort_values("seq_len")
                value, low, high = metric_band(rows, metric)
                err = np.vstack([(value - low).clip(lower=0).fillna(0),
                                 (high - value).clip(lower=0).fillna(0)])
                line = ax.errorbar(rows["seq_len"], value, yerr=err, color=style.color(impl),
                                   marker="o", ms=3, lw=1.2, capsize=2,
                                   ls="--" if impl.endswith("_ref") else "-")
                handles.setdefault(style.label(impl), line)
                off = off_paper.loc[rows.index].to_numpy()
                if off.any():
                    ax.plot(rows["seq_len"][off], value[off], ls="none", marker="o", ms=4,
                            mfc="white", mec=style.color(impl), zorder=4)
            if reported is not None and metric == "tflops":
                _draw_reported(ax, reported, head_dim, padding, pass_, exclude, handles)
            in_table = measured[(measured["head_dim"] == head_dim) & (measured["pass"] == pass_)
                                & (measured["padding_pct"] == padding)
                                & ~measured["impl"].str.endswith("_ref")]
            if not any(impl.startswith("ours") for impl in panel["impl"]):
                ours_rows = in_table[in_table["impl"].str.startswith("ours")]
                if in_table.empty or (len(ours_rows) and (ours_rows["status"] == "not_measured").all()):
                    note = "ours not measured on this device"
                else:
                    note = "no successful run of ours"
                ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center",
                        fontsize=8, color="0.4")
            ax.set_xscale("log", base=2)
            if metric == "ms":
                ax.set_yscale("log")
                ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
                ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
            else:
                ax.set_ylim(bottom=0)
            ax.set_title(f"{PASS_TITLES[pass_]}, head dim {head_dim}, padding {padding}%")
            ax.set_xlabel("sequence length")
            ax.set_ylabel("TFLOPS" if metric == "tflops" else "latency (ms)")
    fig.legend(list(handles.values()), list(handles.keys()), loc="lower center", ncol=3,
               frameon=False, bbox_to_anchor=(0.5, -0.01))
    title = "\n".join(t for t in (title, timing_text, ours_commit_text(measured)) if t)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 0.97 if title else 1))
    return fig


def _draw_reported(ax, reported, head_dim, padding, pass_, exclude, handles):
    require_columns(reported, ["pass", "head_dim", "padding_pct", "seq_len", "impl",
                               "tflops_reported"], "paper Fig 2 table")
    panel = reported[(reported["head_dim"] == head_dim) & (reported["padding_pct"] == padding)
                     & (reported["pass"] == pass_)]
    for paper_impl, rows in panel.groupby("impl"):
        impl = REPORTED_IMPLS.get(paper_impl, paper_impl)
        if impl in exclude:
            continue
        marker = ax.scatter(rows["seq_len"], rows["tflops_reported"], facecolors="none",
                            edgecolors=style.color(impl), marker="D", s=18, lw=0.9, zorder=3)
        handles.setdefault(f"{style.label(impl)}: paper, H100 (hollow)", marker)
