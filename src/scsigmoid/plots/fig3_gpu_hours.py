"""Fig 3: projected GPU-hours to process the paper's 131.6M samples, from measured throughput.

GPU-hours = N / samples_per_s / 3600, the same on 1 or on 16 GPUs under linear data-parallel
scaling (wall-clock hours on 16 GPUs = GPU-hours / 16; shown on a second axis). The gap is
(softmax - sigmoid) / softmax: positive when sigmoid is faster."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scsigmoid.plots.style import SIGMOID_COLOR, SOFTMAX_COLOR, apply_style, plt, save_figure

PAPER_SAMPLES = 131.6e6
# the paper's reported sigmoid speed-up for the 1.4B model, by context
PAPER_GAP_1P4B = {2048: 2.1, 4096: 4.0, 8192: 7.5}
SIZE_ORDER = ["160M", "400M", "600M", "1.4B"]


def gpu_hours(throughput: pd.DataFrame, samples: float = PAPER_SAMPLES) -> pd.DataFrame:
    """One row per size x context: GPU-hours per attention and the measured gap in %."""
    ok = throughput[throughput["status"] == "ok"].copy()
    ok["gpu_hours"] = samples / ok["samples_per_s"] / 3600
    wide = ok.pivot_table(index=["size", "context"], columns="attention", values="gpu_hours")
    wide = wide.reset_index()
    if {"softmax", "sigmoid"} <= set(wide.columns):
        wide["gap_pct"] = 100 * (wide["softmax"] - wide["sigmoid"]) / wide["softmax"]
    else:
        wide["gap_pct"] = np.nan
    wide["wall_hours_16gpu_softmax"] = wide.get("softmax", np.nan) / 16
    wide["wall_hours_16gpu_sigmoid"] = wide.get("sigmoid", np.nan) / 16
    return wide


def plot_fig3(throughput_csv, stem) -> pd.DataFrame:
    df = pd.read_csv(throughput_csv)
    missing = {"size", "context", "attention", "samples_per_s", "status"} - set(df.columns)
    if missing:
        raise ValueError(f"{throughput_csv}: missing columns {sorted(missing)}; "
                         "produce it with `python -m scsigmoid.train.experiments throughput`.")
    table = gpu_hours(df)
    sizes = [s for s in SIZE_ORDER if s in set(table["size"])] or sorted(set(table["size"]))
    apply_style()
    fig, axes = plt.subplots(1, len(sizes), figsize=(2.6 * len(sizes), 2.8), squeeze=False)
    for ax, size in zip(axes[0], sizes, strict=True):
        part = table[table["size"] == size].sort_values("context")
        x = np.arange(len(part))
        for offset, att, color in [(-0.2, "softmax", SOFTMAX_COLOR), (0.2, "sigmoid", SIGMOID_COLOR)]:
            if att in part:
                ax.bar(x + offset, part[att], width=0.4, color=color, label=att)
        for xi, (_, row) in zip(x, part.iterrows(), strict=True):
            top = np.nanmax([row.get("softmax", np.nan), row.get("sigmoid", np.nan)])
            text = f"{row['gap_pct']:+.1f}%" if np.isfinite(row["gap_pct"]) else "n/a"
            if size == "1.4B" and int(row["context"]) in PAPER_GAP_1P4B:
                text += f"\n(paper {PAPER_GAP_1P4B[int(row['context'])]:+.1f}%)"
            ax.annotate(text, (xi, top), ha="center", va="bottom", fontsize=6,
                        xytext=(0, 2), textcoords="offset points")
        ax.set_xticks(x, [f"{int(c) // 1024}K" if c >= 1024 else str(int(c)) for c in part["context"]])
        ax.set_title(size)
        ax.set_xlabel("context")
        ax.margins(y=0.25)
        sec = ax.secondary_yaxis("right", functions=(lambda h: h / 16, lambda h: h * 16))
        sec.set_ylabel("hours on 16 GPUs" if size == sizes[-1] else "")
    axes[0][0].set_ylabel(f"GPU-hours for {PAPER_SAMPLES / 1e6:.1f}M samples")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False, bbox_to_anchor=(0.5, -0.04))
    device = df["device"].iloc[0] if "device" in df else "?"
    fig.suptitle(f"Projected training cost from measured throughput ({device}, "
                 f"{int(df['batch_size'].iloc[0]) if 'batch_size' in df else '?'} samples/GPU); "
                 "% = sigmoid saving", fontsize=8)
    fig.tight_layout()
    save_figure(fig, stem)
    return table
