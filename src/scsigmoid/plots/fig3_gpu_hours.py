"""Fig 3: projected GPU-hours to process the paper's 131.6M cells, from the measured training
throughput (the long-format CSV of ``scsigmoid.train.throughput``), and the throughput gain beside
the paper's.

GPU-hours of an arm = 131.6M cells × (tokens per cell of the workload) / (the arm's median
tokens/s over repeats) / 3600; hours on 16 GPUs = GPU-hours / 16 (linear data-parallel scaling
assumed). Tokens per cell (tokens per step ÷ cells per step) is the workload's, shared by the
arms, so the hours of two arms differ exactly by their throughput. "Faster" is the throughput gain
(GAIN_DEFINITION of ``scsigmoid.train.throughput``): the plot takes ``gain_table``'s output and
never computes a gain of its own; error bars are median ± IQR over repeats.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scsigmoid.evaluate.tables import context_label
from scsigmoid.plots.style import SIGMOID_COLOR, SOFTMAX_COLOR, apply_style, plt, save_figure

PAPER_CELLS = 131.6e6
GPUS = 16
# the paper's sigmoid speed-up for the 1.4B model by context (Fig 3 text), as fractions
PAPER_GAIN_1P4B = {2048: 0.021, 4096: 0.040, 8192: 0.075}
SIZE_ORDER = ["160M", "400M", "600M", "1.4B"]
ARM_COLORS = {"softmax": SOFTMAX_COLOR, "sigmoid": SIGMOID_COLOR, "sigmoid_tritonsigmoid": "#17becf",
              "sigmoid_fma": "#8c564b", "sigmoid_tma": "#e377c2",
              "sigmoid_tuned": "#bcbd22", "sigmoid_fast": "#7f7f7f"}
ARM_LABELS = {"softmax": "softmax (FA2 varlen)", "sigmoid": "sigmoid (ours)",
              "sigmoid_tritonsigmoid": "sigmoid (authors' TritonSigmoid)",
              "sigmoid_fma": "sigmoid (ours, FMA-pipe sigmoid variant)",
              "sigmoid_tma": "sigmoid (ours, TMA variant)",
              "sigmoid_tuned": "sigmoid (ours, variant per pass)",
              "sigmoid_fast": "sigmoid (ours, single pointer-load kernel, fast sigmoid)"}
#: line style and legend suffix of each sigmoid arm in the gain panel
ARM_LINES = {"sigmoid": ("-", ""), "sigmoid_tritonsigmoid": (":", " (authors' kernel)"),
             "sigmoid_fma": ("--", " (ours, FMA variant)"), "sigmoid_tma": ("-.", " (ours, TMA variant)"),
             "sigmoid_tuned": ((0, (3, 1, 1, 1, 1, 1)), " (ours, variant per pass)"),
             "sigmoid_fast": ((0, (1, 1)), " (ours, single fast kernel)")}
GAIN_COLUMNS = {"size", "context", "workload", "arm", "gain_median", "gain_q25", "gain_q75", "n_repeats",
                "tokens_per_s_median", "softmax_tokens_per_s_median", "tokens_per_step", "cells_per_step"}


def gpu_hours(gains: pd.DataFrame, cells: float = PAPER_CELLS, gpus: int = GPUS) -> pd.DataFrame:
    """One row per size × context × workload × arm (softmax included): tokens/s, projected
    GPU-hours and hours on ``gpus`` GPUs, and the arm's gain (median, median ± IQR) with the
    paper's gain where it states one."""
    missing = GAIN_COLUMNS - set(gains.columns)
    if missing:
        raise ValueError(f"gain table lacks {sorted(missing)}; it comes from scsigmoid.train.throughput.gain_table.")
    keys = ["size", "context", "workload"]
    g = gains.assign(tokens_per_cell=gains["tokens_per_step"] / gains["cells_per_step"])
    soft = (g.groupby(keys, as_index=False)
            .agg(tokens_per_s=("softmax_tokens_per_s_median", "first"), tokens_per_cell=("tokens_per_cell", "first"))
            .assign(arm="softmax"))
    arms = g.rename(columns={"tokens_per_s_median": "tokens_per_s"})
    arms = arms.assign(gain_lo=arms["gain_median"] - (arms["gain_q75"] - arms["gain_q25"]),
                       gain_hi=arms["gain_median"] + (arms["gain_q75"] - arms["gain_q25"]))
    table = pd.concat([soft, arms[[*keys, "arm", "tokens_per_s", "tokens_per_cell", "gain_median", "gain_lo",
                                   "gain_hi", "n_repeats"]]], ignore_index=True)
    table["gpu_hours"] = cells * table["tokens_per_cell"] / table["tokens_per_s"] / 3600
    table[f"hours_{gpus}gpu"] = table["gpu_hours"] / gpus
    table["paper_gain"] = [PAPER_GAIN_1P4B.get(int(c)) if str(s) == "1.4B" and a != "softmax" else np.nan
                           for s, c, a in zip(table["size"], table["context"], table["arm"], strict=True)]
    return table.sort_values([*keys, "arm"], key=_order).reset_index(drop=True)


def _order(col: pd.Series) -> pd.Series:
    if col.name == "size":
        return col.map(lambda s: SIZE_ORDER.index(s) if s in SIZE_ORDER else 99)
    if col.name == "arm":
        return col.map(lambda a: list(ARM_COLORS).index(a) if a in ARM_COLORS else 99)
    return col


def _span(values: pd.Series, fmt: str) -> str:
    lo, hi = values.min(), values.max()
    return fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else f"{fmt.format(lo)}–{fmt.format(hi)}"


def _workload_line(workload: str, gains: pd.DataFrame, long: pd.DataFrame | None) -> str:
    part = gains[gains["workload"] == workload]
    mfu = part["mfu_median"] if "mfu_median" in part else pd.Series(dtype=float)
    text = (f"{workload}: {_span(part['tokens_per_step'], '{:,.0f}')} tokens a step "
            f"({_span(part['cells_per_step'], '{:,.0f}')} cells)")
    if mfu.notna().any():
        text += f", MFU {_span(mfu.dropna(), '{:.0%}')}"
    text += f", {int(part['n_repeats'].min())} repeats"
    if "compile" in part:  # the protocol's train.throughput.compile, per size (and context where mixed)
        for label, flag in (("blocks compiled", True), ("eager", False)):
            names = []
            for size in [s for s in SIZE_ORDER if s in set(part["size"])]:
                of_size = part[part["size"] == size]
                contexts = sorted(set(of_size.loc[of_size["compile"].astype(bool) == flag, "context"]))
                if contexts and len(contexts) == of_size["context"].nunique():
                    names.append(size)
                elif contexts:
                    names.append(f"{size} ({'/'.join(context_label(c) for c in contexts)})")
            if names:
                text += f"; {label}: {', '.join(names)}"
    if long is not None and "timed_steps" in long and long["timed_steps"].notna().any():
        text += f" × {int(long['timed_steps'].max())} timed steps"
    return text


def _device_text(long: pd.DataFrame | None) -> str:
    """' on <GPU>' with the clocks the rounds ran at (power cap, SM MHz) where the CSV has them,
    and how the rates were computed where the parts mix the two statistics."""
    if long is None:
        return ""
    text = f" on {long['device'].dropna().iloc[0]}" if "device" in long and long["device"].notna().any() else ""
    ok = long[long["status"] == "ok"] if "status" in long else long
    if "sm_clock_mhz_median" in ok and ok["sm_clock_mhz_median"].notna().any():
        clock = ok["sm_clock_mhz_median"].dropna()
        text += f" (SM clock {clock.min():.0f}–{clock.max():.0f} MHz, median per round"
        if "power_capped_share" in ok and ok["power_capped_share"].notna().any():
            text += f"; power cap binding in {ok['power_capped_share'].mean():.0%} of clock samples"
        text += ")"
    if "rate_basis" in ok and ok["rate_basis"].nunique() > 1:
        text += "; MIXED rate statistics: " + ", ".join(sorted(ok["rate_basis"].dropna().unique()))
    return text


def _commit_text(long: pd.DataFrame | None) -> str:
    """'code that ran: <commit> (N points); ...': the commits whose code measured the figure's points, each
    point (size × workload × context) named under a commit that measured at most three, so a
    reader sees where points of one figure ran different kernel versions; "" with one commit."""
    if long is None or "commit" not in long:
        return ""
    ok = long[long["status"] == "ok"] if "status" in long else long
    if ok["commit"].nunique() < 2:
        return ""
    points = ok[["commit", "size", "workload", "context"]].drop_duplicates()
    groups = sorted(points.groupby("commit"), key=lambda kv: -len(kv[1]))
    parts = []
    for commit, of_commit in groups:
        if len(of_commit) <= 3:
            names = ", ".join(f"{r.size} {r.workload} {context_label(r.context)}" for r in of_commit.itertuples())
            parts.append(f"{commit} ({names})")
        else:
            parts.append(f"{commit} ({len(of_commit)} points)")
    return "code that ran: " + "; ".join(parts)


def plot_fig3(gains: pd.DataFrame, stem, *, long: pd.DataFrame | None = None, definition: str = "",
              cells: float = PAPER_CELLS, gpus: int = GPUS) -> pd.DataFrame:
    """Draw Fig 3 from ``gain_table``'s output (``gains``); ``long`` (the throughput CSV) adds the
    device and timed steps to the figure's face. Returns :func:`gpu_hours`' table."""
    table = gpu_hours(gains, cells, gpus)
    workloads = sorted(table["workload"].unique(), key=lambda w: (w != "full_context", w))
    sizes = [s for s in SIZE_ORDER if s in set(table["size"])] + sorted(set(table["size"]) - set(SIZE_ORDER))
    apply_style()
    fig, axes = plt.subplots(len(workloads), len(sizes) + 1, figsize=(2.5 * (len(sizes) + 1), 2.9 * len(workloads)),
                             squeeze=False)
    for row, workload in enumerate(workloads):
        wt = table[table["workload"] == workload]
        for ax, size in zip(axes[row][:-1], sizes, strict=True):
            part = wt[wt["size"] == size]
            if part.empty:
                ax.text(0.5, 0.5, f"{size}, {workload}:\nnot measured", ha="center", va="center",
                        transform=ax.transAxes, fontsize=7)
                ax.set_axis_off()
                continue
            contexts = sorted(part["context"].unique())
            arms = [a for a in ARM_COLORS if a in set(part["arm"])]
            width = 0.8 / max(1, len(arms))
            for i, arm in enumerate(arms):
                bars = part[part["arm"] == arm].set_index("context").reindex(contexts)
                x = np.arange(len(contexts)) + (i - (len(arms) - 1) / 2) * width
                ax.bar(x, bars["gpu_hours"], width=width, color=ARM_COLORS[arm], label=ARM_LABELS[arm])
            for xi, context in enumerate(contexts):
                ours = part[(part["context"] == context) & (part["arm"] == "sigmoid")]
                top = part.loc[part["context"] == context, "gpu_hours"].max()
                text = f"{ours['gain_median'].iloc[0]:+.1%}" if len(ours) else "n/a"
                paper = PAPER_GAIN_1P4B.get(int(context)) if size == "1.4B" else None
                if paper is not None:
                    text += f"\n(paper {paper:+.1%})"
                ax.annotate(text, (xi, top), ha="center", va="bottom", fontsize=6, xytext=(0, 2),
                            textcoords="offset points")
            ax.set_xticks(range(len(contexts)), [context_label(c) for c in contexts])
            ax.set_title(f"{size} — {workload}" if row == 0 or len(workloads) > 1 else size, fontsize=8)
            ax.set_xlabel("context")
            ax.margins(y=0.3)
            sec = ax.secondary_yaxis("right", functions=(lambda h: h / gpus, lambda h: h * gpus))
            if size == sizes[-1]:
                sec.set_ylabel(f"hours on {gpus} GPUs")
        axes[row][0].set_ylabel(f"GPU-hours for {cells / 1e6:.1f}M cells")
        _gain_panel(axes[row][-1], table[table["workload"] == workload], sizes, workload)
    legend = {}
    for ax in axes[:, :-1].flat:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    labels = [ARM_LABELS[a] for a in ARM_COLORS if ARM_LABELS[a] in legend]
    handles = [legend[label] for label in labels]
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False, bbox_to_anchor=(0.5, -0.02))
    face = [f"Projected cost of {cells / 1e6:.1f}M cells from measured training throughput{_device_text(long)} "
            f"(hours on {gpus} GPUs: right axes)",
            "% above the bars: throughput gain of our sigmoid kernel, the paper's 1.4B gains in brackets "
            "(the paper's batches: 32 cells a GPU)"]
    face += [_workload_line(w, gains, long) for w in workloads]
    if definition:
        face.append(definition + "; error bars: median ± IQR over repeats")
    if commits := _commit_text(long):
        face.append(commits)
    fig.suptitle("\n".join(face), fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    save_figure(fig, stem)
    return table


def _gain_panel(ax, table: pd.DataFrame, sizes: list[str], workload: str) -> None:
    """Throughput gain vs context per size (ours: median ± IQR; paper: the 1.4B values)."""
    markers = dict(zip(SIZE_ORDER, "osD^", strict=True))
    arms = table[table["arm"] != "softmax"]
    for size in sizes:
        for arm, (ls, suffix) in ARM_LINES.items():
            part = arms[(arms["size"] == size) & (arms["arm"] == arm)].sort_values("context")
            if part.empty:
                continue
            y = 100 * part["gain_median"].to_numpy()
            err = 100 * np.vstack([part["gain_median"] - part["gain_lo"], part["gain_hi"] - part["gain_median"]])
            ax.errorbar(np.log2(part["context"].to_numpy(dtype=float)), y, yerr=err, marker=markers.get(size, "v"), ls=ls, lw=0.9,
                        ms=4, capsize=2, color=ARM_COLORS[arm], label=size + suffix)
    paper = pd.Series(PAPER_GAIN_1P4B)
    ax.plot(np.log2(paper.index.to_numpy()), 100 * paper.to_numpy(), "k*", ms=8, label="paper, 1.4B")
    ax.axhline(0, color="0.5", lw=0.7)
    ticks = sorted(set(table["context"].astype(int)) | set(PAPER_GAIN_1P4B))
    ax.set_xticks(np.log2(ticks), [context_label(c) for c in ticks])
    ax.set_xlabel("context")
    ax.set_ylabel("throughput gain (%)")
    ax.set_title(f"gain, {workload}", fontsize=8)
    ax.legend(frameon=False, fontsize=5)
