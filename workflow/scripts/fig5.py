"""Snakemake script: Fig 5 (scIB bio conservation, sigmoid vs softmax) from table_scib, with the
scale of the runs behind it on its face."""

from pathlib import Path

import pandas as pd

from scsigmoid.evaluate.scale import scale_text
from scsigmoid.plots.fig5_scib import plot_fig5_scib
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
plot_fig5_scib(sm.input.csv, Path(sm.output.pdf).with_suffix(""),
               scale=scale_text(pd.read_csv(sm.input.runs), sm.params.context))
