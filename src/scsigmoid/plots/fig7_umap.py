"""Fig 7: UMAP of one dataset's cell embeddings, softmax model left, sigmoid right, the same
colour per cell type in both panels."""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
import pandas as pd

from scsigmoid.plots.style import apply_style, save_figure


def plot_fig7_umap(umap_csv: str | os.PathLike, out_stem: str | os.PathLike, *, title: str = "",
                   panels: tuple[tuple[str, str], ...] = (("X_softmax_mean", "Softmax"),
                                                          ("X_sigmoid_mean", "Sigmoid"))):
    """``umap_csv``: cell_id, label, embedding, umap1, umap2."""
    apply_style()
    df = pd.read_csv(umap_csv)
    labels = sorted(df["label"].astype(str).unique())
    cmap = plt.get_cmap("tab20" if len(labels) > 10 else "tab10")
    colors = {lab: cmap(i % cmap.N) for i, lab in enumerate(labels)}
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.0))
    for ax, (key, name) in zip(axes, panels, strict=True):
        part = df[df["embedding"] == key]
        for lab in labels:
            pts = part[part["label"].astype(str) == lab]
            ax.scatter(pts["umap1"], pts["umap2"], s=3, color=colors[lab], label=lab, linewidths=0)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    handles = [plt.Line2D([], [], ls="", marker="o", color=colors[lab], label=lab) for lab in labels]
    fig.legend(handles=handles, loc="center right", frameon=False, markerscale=1.0)
    if title:
        fig.suptitle(title, fontsize=8)
    fig.tight_layout(rect=(0, 0, 0.8, 1))
    return save_figure(fig, out_stem)
