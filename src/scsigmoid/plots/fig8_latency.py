"""Fig 8: attention kernel latency (ms) on the Fig 2 grid; eager "standard attention" left out
as in the paper."""

from __future__ import annotations

import os

import pandas as pd

from scsigmoid.plots.kernel_grid import draw_kernel_grid, with_flashsigmoid_reference
from scsigmoid.plots.style import save_figure


def plot_fig8(measured_csv: str | os.PathLike, flashsigmoid_csv: str | os.PathLike | None,
              out_stem: str | os.PathLike, timing: str | None = None):
    """timing: which do_bench settings to draw if the rows mix them (see draw_kernel_grid)."""
    measured = pd.read_csv(measured_csv)
    reference = pd.read_csv(flashsigmoid_csv) if flashsigmoid_csv else None
    data = with_flashsigmoid_reference(measured, reference)
    device = measured["device"].dropna().iloc[0] if "device" in measured and len(measured) else "?"
    fig = draw_kernel_grid(data, "ms", exclude=("eager_sigmoid",), timing=timing,
                           title=f"Attention latency, bf16, 16K tokens/batch, hidden 2048 ({device})")
    return save_figure(fig, out_stem)
