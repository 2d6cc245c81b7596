"""Fig 5: scIB metrics, sigmoid (y) against softmax (x), one point per dataset, with the
diagonal; points above it favour sigmoid."""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
import pandas as pd

from scsigmoid.plots.style import apply_style, save_figure

PANELS = (("nmi", "Leiden NMI"), ("ari", "Leiden ARI"), ("silhouette_label", "Silhouette label"),
          ("bio_conservation", "Bio conservation"))


def plot_fig5_scib(scib_csv: str | os.PathLike, out_stem: str | os.PathLike, *,
                   softmax_key: str = "X_softmax_mean", sigmoid_key: str = "X_sigmoid_mean"):
    """``scib_csv``: table_scib.csv (dataset, embedding, nmi, ari, silhouette_label, bio_conservation)."""
    apply_style()
    df = pd.read_csv(scib_csv)
    fig, axes = plt.subplots(1, 4, figsize=(11, 3.0))
    datasets = sorted(df["dataset"].unique())
    cmap = plt.get_cmap("tab10")
    for ax, (metric, title) in zip(axes, PANELS, strict=True):
        wide = df.pivot_table(index="dataset", columns="embedding", values=metric)
        for i, name in enumerate(datasets):
            if name in wide.index and {softmax_key, sigmoid_key} <= set(wide.columns):
                ax.scatter(wide.loc[name, softmax_key], wide.loc[name, sigmoid_key], color=cmap(i % 10),
                           s=30, label=name, zorder=3)
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
    fig.tight_layout(rect=(0, 0.15, 1, 1))
    return save_figure(fig, out_stem)
