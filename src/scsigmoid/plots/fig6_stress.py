"""Fig 6: stress test (loss, global gradient norm on a log axis, largest attention logit) and the
learning-rate stability frontier (final loss per peak LR; crosses = diverged or unstable, see
scsigmoid.train.sweep for what 'stable' means)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scsigmoid.evaluate.scale import lengths_text, trained_lengths
from scsigmoid.plots.style import SIGMOID_COLOR, SOFTMAX_COLOR, apply_style, plt, save_figure
from scsigmoid.train.sweep import stability_frontier

COLORS = {"softmax": SOFTMAX_COLOR, "sigmoid": SIGMOID_COLOR}


def plot_fig6(stress_csv, sweep_csv, stem, smooth: int = 10, lengths: pd.DataFrame | None = None) -> dict[str, float]:
    """Draw Fig 6; ``sweep_csv=None`` (no LR sweep measured) leaves the frontier panel empty
    with a note saying so. ``lengths`` (the data stage's length table) puts the cell lengths the
    stress test actually trained on onto the figure's face."""
    stress = pd.read_csv(stress_csv)
    logit_cols = [c for c in stress if c.startswith("max_logit_l")]
    apply_style()
    fig, axes = plt.subplots(1, 4, figsize=(11, 2.7))
    for att, part in stress.groupby("attention"):
        kw = dict(color=COLORS.get(att, "k"), lw=1.0, label=att)
        axes[0].plot(part["step"], part["loss"].rolling(smooth, min_periods=1).mean(), **kw)
        axes[1].plot(part["step"], part["grad_norm"], alpha=0.8, **kw)
        axes[2].plot(part["step"], part[logit_cols].max(axis=1), **kw)
        div = part["diverged_step"].dropna()
        if len(div):
            for ax in axes[:3]:
                ax.axvline(float(div.iloc[0]), color=COLORS.get(att, "k"), ls=":", lw=0.8)
    info = stress.iloc[0]
    steps = stress.groupby("attention")["step"].max()
    face = (f"Stress test: {info['size']} model, {int(info['context'])} context, no clipping, constant lr "
            f"{info['peak_lr']:g}, one seed per arm, " + ", ".join(f"{a} {n:,} steps" for a, n in steps.items()))
    if lengths is not None:
        face += "\ntrained on " + lengths_text(trained_lengths(lengths, int(info["context"]))) + \
            " (the pretraining pool's train split, truncated at the context)"
    fig.suptitle(face, fontsize=8)
    axes[0].set_ylabel("training loss")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("global gradient norm")
    axes[2].set_ylabel("largest attention logit (proxy)")
    axes[2].set_yscale("log")
    for ax in axes[:3]:
        ax.set_xlabel("step")
    axes[0].legend(frameon=False)

    if sweep_csv is None:
        frontier = {}
        axes[3].text(0.5, 0.5, "LR sweep not measured\n(no lr_sweep CSV committed)",
                     ha="center", va="center", transform=axes[3].transAxes, fontsize=8)
        axes[3].set_axis_off()
    else:
        frontier = _plot_frontier(axes[3], pd.read_csv(sweep_csv))
    fig.tight_layout()
    save_figure(fig, stem)
    return frontier


def _plot_frontier(ax, sweep: pd.DataFrame) -> dict[str, float]:
    """Final loss per peak LR for each attention; crosses mark unstable runs (diverged runs, which
    have no final loss, sit on the top edge)."""
    frontier = stability_frontier(sweep)
    top = float(np.nanmax(sweep["final_loss"])) if np.isfinite(sweep["final_loss"]).any() else 1.0
    ladder_max = float(sweep["lr"].max())
    for att, part in sweep.sort_values("lr").groupby("attention"):
        color = COLORS.get(att, "k")
        stable = part["stable"].astype(bool)
        shown = part["final_loss"].where(np.isfinite(part["final_loss"]), top * 1.05)
        f = frontier[att]
        label = (f"{att}: all stable to {f:g}" if f == ladder_max and stable.all()
                 else f"{att}: frontier {f:g}")
        ax.plot(part["lr"], shown, color=color, lw=0.8, alpha=0.6)
        ax.scatter(part.loc[stable, "lr"], shown[stable], color=color, marker="o", s=14, label=label)
        ax.scatter(part.loc[~stable, "lr"], shown[~stable], color=color, marker="x", s=22)
    ax.set_xscale("log")
    ax.set_xlabel("peak learning rate")
    ax.set_ylabel("final loss (x = diverged/unstable)")
    s0 = sweep.iloc[0]
    ax.set_title(f"LR sweep: {s0['size']}, {int(s0['context'])}, {int(s0['steps'])} steps")
    ax.legend(frameon=False, fontsize=6)
    return frontier
