"""Fig 1: per-cell sequence length (expressed genes + CLS) of the pretraining corpus, histogram and
CDF with dashed context thresholds, plus one small panel per evaluation dataset.

Reads the length table written by the data stage (dataset, split, length, n_cells)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from scsigmoid.plots.style import save_figure

CONTEXTS = (2048, 4096, 8192)
PRETRAIN = "pretrain"


def _panel(ax, lengths: np.ndarray, weights: np.ndarray, title: str, *, small: bool) -> None:
    top = max(int(lengths.max()), CONTEXTS[-1]) if small is False else int(lengths.max())
    bins = np.linspace(0, max(top, 1), 60 if not small else 30)
    ax.hist(lengths, bins=bins, weights=weights, color="0.65", edgecolor="white", linewidth=0.3)
    ax.set_ylabel("cells" if not small else "")
    ax.set_title(title, fontsize=9 if small else 11)
    cdf_ax = ax.twinx()
    order = np.argsort(lengths)
    cdf = np.cumsum(weights[order]) / weights.sum()
    cdf_ax.plot(lengths[order], cdf, color="black", linewidth=1.2)
    cdf_ax.set_ylim(0, 1.02)
    if not small:
        cdf_ax.set_ylabel("fraction of cells ≤ length")
    total = weights.sum()
    for ctx in CONTEXTS:
        if ctx > bins[-1] * 1.05 and small:
            continue
        frac = weights[lengths <= ctx].sum() / total
        ax.axvline(ctx, color="tab:red", linestyle="--", linewidth=0.9)
        ax.text(ctx, ax.get_ylim()[1] * 0.95, f" {ctx // 1024}K: {frac:.1%}", color="tab:red",
                fontsize=7 if small else 8, va="top", rotation=90 if small else 0)
    ax.set_xlabel("sequence length (expressed genes + CLS)", fontsize=8 if small else 10)


def _short(name: str, width: int = 28) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def plot_fig1(lengths_csv: str, stem: str) -> None:
    """Write ``stem``.pdf and ``stem``.png."""
    df = pd.read_csv(lengths_csv)
    missing = {"dataset", "length", "n_cells"} - set(df.columns)
    if missing:
        raise ValueError(f"{lengths_csv}: missing column(s) {sorted(missing)}; rebuild with data_stats.")
    if PRETRAIN not in set(df["dataset"]):
        raise ValueError(f"{lengths_csv}: no '{PRETRAIN}' rows; the pretraining corpus is missing.")
    evals = sorted(d for d in df["dataset"].unique() if d != PRETRAIN)
    ncols = 3
    nrows = 1 + int(np.ceil(len(evals) / ncols))
    fig = plt.figure(figsize=(12, 3.8 + 2.6 * (nrows - 1)))
    grid = fig.add_gridspec(nrows, ncols, height_ratios=[1.6] + [1] * (nrows - 1), hspace=0.75,
                            wspace=0.5)
    pre = df[df["dataset"] == PRETRAIN]
    n = int(pre["n_cells"].sum())
    _panel(fig.add_subplot(grid[0, :]), pre["length"].to_numpy(float), pre["n_cells"].to_numpy(float),
           f"Pretraining corpus ({n:,} cells, reduced-scale offline bundle)", small=False)
    for k, name in enumerate(evals):
        sub = df[df["dataset"] == name]
        ax = fig.add_subplot(grid[1 + k // ncols, k % ncols])
        _panel(ax, sub["length"].to_numpy(float), sub["n_cells"].to_numpy(float),
               f"{_short(name)} ({int(sub['n_cells'].sum()):,} cells)", small=True)
    save_figure(fig, stem)
