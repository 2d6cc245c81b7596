"""Snakemake script: Fig 4 right (validation loss per dataset) from table_validation_loss, with the
scale of the runs behind it on its face."""

from pathlib import Path

import pandas as pd

from scsigmoid.evaluate.scale import scale_text
from scsigmoid.plots.fig4_validation import plot_fig4_validation
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
plot_fig4_validation(sm.input.csv, Path(sm.output.pdf).with_suffix(""),
                     scale=scale_text(pd.read_csv(sm.input.runs), configured=sm.params.contexts))  # runs of every context
