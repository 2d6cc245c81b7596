"""Fig 4 (left): training loss of the main runs (softmax red, sigmoid blue; 2K solid, 4K dashed):
per context and arm the mean over training seeds of the smoothed loss, with the seeds' min–max
as a band."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from scsigmoid.evaluate.tables import context_label, parse_run
from scsigmoid.plots.style import SIGMOID_COLOR, SOFTMAX_COLOR, apply_style, plt, save_figure

COLORS = {"softmax": SOFTMAX_COLOR, "sigmoid": SIGMOID_COLOR}
LINESTYLES = ["-", "--", ":", "-."]


def seed_spread(logs: dict[int, pd.DataFrame], smooth: int) -> pd.DataFrame:
    """step, mean, lo, hi, n_seeds of the rolling-mean loss over the given seeds' logs (steps a
    seed did not reach, e.g. after early stopping, are left out of that step's statistics)."""
    curves = pd.concat({seed: log.set_index("step")["loss"].rolling(smooth, min_periods=1).mean()
                        for seed, log in logs.items()}, axis=1)
    return pd.DataFrame({"step": curves.index, "mean": curves.mean(axis=1).to_numpy(),
                         "lo": curves.min(axis=1).to_numpy(), "hi": curves.max(axis=1).to_numpy(),
                         "n_seeds": curves.notna().sum(axis=1).to_numpy()})


def plot_fig4_loss(log_csvs: list, stem, smooth: int = 25, scale: str = "") -> None:
    """``log_csvs``: one ``train/runs/{run}/log.csv`` per run (the run is the parent folder)."""
    groups: dict[tuple[int, str], dict[int, pd.DataFrame]] = {}
    for path in log_csvs:
        info = parse_run(Path(path).parent.name)
        groups.setdefault((info["context"], info["attention"]), {})[info["seed"]] = pd.read_csv(path)
    contexts = sorted({c for c, _ in groups})
    apply_style()
    fig, ax = plt.subplots(figsize=(4.2, 3.2))
    for (context, attention), logs in sorted(groups.items()):
        spread = seed_spread(logs, smooth)
        color = COLORS.get(attention, "k")
        ax.plot(spread["step"], spread["mean"], color=color, lw=1.1,
                ls=LINESTYLES[contexts.index(context) % len(LINESTYLES)],
                label=f"{attention} {context_label(context)} ({len(logs)} seed{'s' if len(logs) != 1 else ''})")
        if len(logs) > 1:
            ax.fill_between(spread["step"], spread["lo"], spread["hi"], color=color, alpha=0.15, lw=0)
    ax.set_xlabel("step")
    ax.set_ylabel(f"training MLM loss (rolling mean, {smooth} steps)")
    ax.legend(frameon=False)
    ax.set_title("mean over training seeds; band: min–max over seeds", fontsize=7)
    if scale:
        fig.suptitle(scale, fontsize=6)
    fig.tight_layout()
    save_figure(fig, stem)
