"""Fig 9 (appendix A.1 check): spectral norm of the softmax row Jacobian diag(p) - ppᵀ and of
the sigmoid Jacobian diag(σ'(s)) on real attention scores scaled by alpha."""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
import pandas as pd

from scsigmoid.plots.style import SIGMOID_COLOR, SOFTMAX_COLOR, apply_style, save_figure


def plot_fig9_jacobian(jacobian_csv: str | os.PathLike, out_stem: str | os.PathLike, scale: str = ""):
    """``jacobian_csv``: run, source, alpha, score_inf_norm, softmax_/sigmoid_norm_{median,max}."""
    apply_style()
    df = pd.read_csv(jacobian_csv)
    group = ["run", "source"] if "run" in df else ["source"]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(8, 3.2))
    for _, part in df.groupby(group):
        part = part.sort_values("alpha")
        ax.plot(part["alpha"], part["softmax_norm_median"], color=SOFTMAX_COLOR, alpha=0.35, lw=0.8)
        ax.plot(part["alpha"], part["sigmoid_norm_median"], color=SIGMOID_COLOR, alpha=0.35, lw=0.8)
        ax2.plot(part["alpha"], part["alpha"] * part["softmax_norm_median"], color=SOFTMAX_COLOR, alpha=0.35, lw=0.8)
        ax2.plot(part["alpha"], part["alpha"] * part["sigmoid_norm_median"], color=SIGMOID_COLOR, alpha=0.35, lw=0.8)
    summary = df.groupby("alpha")[["softmax_norm_max", "sigmoid_norm_max"]].max()
    ax.plot(summary.index, summary["softmax_norm_max"], color=SOFTMAX_COLOR, lw=2, label="softmax (max)")
    ax.plot(summary.index, summary["sigmoid_norm_max"], color=SIGMOID_COLOR, lw=2, label="sigmoid (max)")
    ax.axhline(0.25, color="k", ls="--", lw=0.8, label="0.25 bound")
    ax.set_xscale("log")
    ax.set_xlabel("score scale α")
    ax.set_ylabel("‖J‖₂ per row (thin: median per score matrix)")
    ax.legend()
    ax2.plot(summary.index, summary.index * summary["softmax_norm_max"], color=SOFTMAX_COLOR, lw=2)
    ax2.plot(summary.index, summary.index * summary["sigmoid_norm_max"], color=SIGMOID_COLOR, lw=2)
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_ylim(bottom=1e-4)
    ax2.set_xlabel("score scale α")
    ax2.set_ylabel("α·‖J(αS)‖₂: Lipschitz constant of S ↦ f(αS)")
    runs = df["run"].nunique() if "run" in df else 1
    fig.suptitle(f"Attention Jacobians on the scores of {runs} trained model{'s' if runs != 1 else ''}"
                 + (f"\n{scale}" if scale else ""), fontsize=8)
    fig.tight_layout()
    return save_figure(fig, out_stem)
