"""Snakemake script: Fig 4 left (training loss) from the runs' logs, with their scale."""

from pathlib import Path

import pandas as pd

from scsigmoid.evaluate.scale import scale_text
from scsigmoid.plots.fig4_loss import plot_fig4_loss
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
plot_fig4_loss(list(sm.input.logs), Path(sm.output.pdf).with_suffix(""),
               scale=scale_text(pd.read_csv(sm.input.runs), configured=sm.params.contexts))
