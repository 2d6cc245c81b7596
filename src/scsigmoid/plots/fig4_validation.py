"""Fig 4 (right): validation MLM loss per evaluation dataset, one panel each; softmax red,
sigmoid blue; 2K context circles, 4K squares; the mean over training seeds with its 95 %
t-interval (each run's loss is the mean over the masking seeds)."""

from __future__ import annotations

import math
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from scsigmoid.evaluate.tables import context_label
from scsigmoid.plots.style import SIGMOID_COLOR, SOFTMAX_COLOR, apply_style, save_figure

COLORS = {"softmax": SOFTMAX_COLOR, "sigmoid": SIGMOID_COLOR}
MARKERS = {2048: "o", 4096: "s", 8192: "D"}


def plot_fig4_validation(table_csv: str | os.PathLike, out_stem: str | os.PathLike, scale: str = ""):
    """``table_csv``: the tidy Table 5 (dataset, context, attention, n_seeds, loss_mean, loss_lo,
    loss_hi)."""
    apply_style()
    df = pd.read_csv(table_csv)
    datasets = sorted(df["dataset"].unique())
    ncols = min(3, len(datasets))
    nrows = math.ceil(len(datasets) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.0 * ncols, 2.4 * nrows), squeeze=False)
    order = sorted(df[["context", "attention"]].drop_duplicates().itertuples(index=False),
                   key=lambda ca: (ca[0], ca[1] != "softmax"))  # softmax left of sigmoid
    for ax, name in zip(axes.flat, datasets, strict=False):
        part = df[df["dataset"] == name]
        for x, (context, attention) in enumerate(order):
            row = part[(part["context"] == context) & (part["attention"] == attention)]
            if row.empty:
                continue
            mean, lo, hi = (float(row[c].iloc[0]) for c in ("loss_mean", "loss_lo", "loss_hi"))
            yerr = [[mean - lo], [hi - mean]] if np.isfinite(lo) and np.isfinite(hi) else None
            ax.errorbar([x], [mean], yerr=yerr, fmt=MARKERS.get(context, "^"),
                        color=COLORS.get(attention, "k"), capsize=2, ms=6)
        ax.set_xticks(range(len(order)), [f"{context_label(c)}\n{a}" for c, a in order], fontsize=6)
        ax.set_title(name.replace("_", " ")[:40])
        ax.set_ylabel("validation loss")
    for ax in axes.flat[len(datasets):]:
        ax.set_visible(False)
    handles = [plt.Line2D([], [], ls="", marker=MARKERS.get(c, "^"), color=COLORS[a], label=f"{context_label(c)} {a}")
               for c, a in order]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    seeds = int(df["n_seeds"].min())
    title = (f"Validation masked-LM loss: mean over {seeds} training seed{'s' if seeds != 1 else ''} "
             "with its 95 % t-interval (each run: mean over masking seeds)")
    fig.suptitle(title + (f"\n{scale}" if scale else ""), fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    return save_figure(fig, out_stem)
