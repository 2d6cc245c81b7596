"""Fig 2: attention kernel throughput (TFLOPS) on the paper's grid, our measurements next to
the paper's H100 values."""

from __future__ import annotations

import os

import pandas as pd

from scsigmoid.plots.kernel_grid import draw_kernel_grid, with_flashsigmoid_reference
from scsigmoid.plots.style import save_figure


def plot_fig2(measured_csv: str | os.PathLike, reported_csv: str | os.PathLike,
              flashsigmoid_csv: str | os.PathLike | None, out_stem: str | os.PathLike,
              timing: str | None = None):
    """timing: which do_bench settings to draw if the rows mix them (see draw_kernel_grid)."""
    measured = pd.read_csv(measured_csv)
    reported = pd.read_csv(reported_csv)
    reference = pd.read_csv(flashsigmoid_csv) if flashsigmoid_csv else None
    data = with_flashsigmoid_reference(measured, reference)
    device = measured["device"].dropna().iloc[0] if "device" in measured and len(measured) else "?"
    fig = draw_kernel_grid(data, "tflops", reported=reported, timing=timing,
                           title=f"Attention TFLOPS, bf16, 16K tokens/batch, hidden 2048 ({device})")
    return save_figure(fig, out_stem)
