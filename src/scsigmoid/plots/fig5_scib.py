"""Fig 5: scIB metrics, sigmoid (y) against softmax (x), one point per dataset (the mean over
training seeds, bars: 95 % t-intervals), with the diagonal; points above it favour sigmoid."""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from scsigmoid.plots.style import apply_style, save_figure

PANELS = (("nmi", "Leiden NMI"), ("ari", "Leiden ARI"), ("silhouette_label", "Silhouette label"),
          ("bio_conservation", "Bio conservation"))


def _bars(row: pd.Series, metric: str):
    mean, lo, hi = row[f"{metric}_mean"], row[f"{metric}_lo"], row[f"{metric}_hi"]
    return [[mean - lo], [hi - mean]] if np.isfinite(lo) and np.isfinite(hi) else None


def plot_fig5_scib(scib_csv: str | os.PathLike, out_stem: str | os.PathLike, *, scale: str = "",
                   view: str = "mean"):
    """``scib_csv``: table_scib.csv (dataset, model, view, n_seeds, {metric}_mean/_lo/_hi,
    n_pcs_median)."""
    apply_style()
    df = pd.read_csv(scib_csv)
    df = df[df["view"] == view]
    fig, axes = plt.subplots(1, 4, figsize=(11, 3.3))
    datasets = sorted(df["dataset"].unique())
    cmap = plt.get_cmap("tab10")
    arms = {m: df[df["model"] == m].set_index("dataset") for m in ("softmax", "sigmoid")}
    for ax, (metric, title) in zip(axes, PANELS, strict=True):
        for i, name in enumerate(datasets):
            if name in arms["softmax"].index and name in arms["sigmoid"].index:
                soft, sig = arms["softmax"].loc[name], arms["sigmoid"].loc[name]
                ax.errorbar(soft[f"{metric}_mean"], sig[f"{metric}_mean"], xerr=_bars(soft, metric),
                            yerr=_bars(sig, metric), fmt="o", color=cmap(i % 10), ms=5, capsize=2, lw=0.8,
                            label=name, zorder=3)
        lo, hi = ax.get_xlim()
        lo2, hi2 = ax.get_ylim()
        lo, hi = min(lo, lo2), max(hi, hi2)
        ax.plot([lo, hi], [lo, hi], color="0.5", lw=0.8, ls="--")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
        ax.set_title(title)
        ax.set_xlabel("softmax")
        ax.set_ylabel("sigmoid")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 3), frameon=False)
    seeds = int(df.loc[df["model"].isin(["softmax", "sigmoid"]), "n_seeds"].min()) if len(df) else 0
    pcs = {m: arms[m]["n_pcs_median"].median() for m in arms if len(arms[m])}
    face = (f"{view}-pool embeddings, mean over {seeds} seeds per arm (bars: 95 % t-intervals); median PCA "
            "components kept at 95 % variance: " + ", ".join(f"{m} {v:g}" for m, v in pcs.items()))
    fig.suptitle(face + (f"\n{scale}" if scale else ""), fontsize=8)
    fig.tight_layout(rect=(0, 0.15, 1, 1))
    return save_figure(fig, out_stem)
