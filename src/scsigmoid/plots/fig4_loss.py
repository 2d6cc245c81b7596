"""Fig 4 (left): training loss of the main runs (softmax red, sigmoid blue; 2K solid, 4K dashed)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from scsigmoid.plots.style import SIGMOID_COLOR, SOFTMAX_COLOR, apply_style, plt, save_figure

COLORS = {"softmax": SOFTMAX_COLOR, "sigmoid": SIGMOID_COLOR}
LINESTYLES = ["-", "--", ":", "-."]


def parse_run(name: str) -> tuple[str, int, str]:
    """'small_4096_sigmoid' -> ('small', 4096, 'sigmoid')."""
    size, context, attention = name.rsplit("_", 2)
    return size, int(context), attention


def plot_fig4_loss(log_csvs: list, stem, smooth: int = 25) -> None:
    """``log_csvs``: one ``train/runs/{run}/log.csv`` per run (the run is the parent folder)."""
    runs = []
    for path in log_csvs:
        size, context, attention = parse_run(Path(path).parent.name)
        runs.append((context, attention, pd.read_csv(path)))
    contexts = sorted({c for c, _, _ in runs})
    apply_style()
    fig, ax = plt.subplots(figsize=(3.6, 2.8))
    for context, attention, log in sorted(runs, key=lambda r: (r[0], r[1])):
        loss = log["loss"].rolling(smooth, min_periods=1).mean()
        ax.plot(log["step"], loss, color=COLORS.get(attention, "k"),
                ls=LINESTYLES[contexts.index(context) % len(LINESTYLES)], lw=1.1,
                label=f"{attention} {context // 1024}K" if context >= 1024 else f"{attention} {context}")
    ax.set_xlabel("step")
    ax.set_ylabel(f"training MLM loss (rolling mean, {smooth} steps)")
    ax.legend(frameon=False)
    fig.tight_layout()
    save_figure(fig, stem)
