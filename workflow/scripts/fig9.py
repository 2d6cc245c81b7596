"""Snakemake script: Fig 9 (attention-Jacobian theory check on real scores) from eval_jacobian's
CSV, with the scale of the runs behind it on its face."""

from pathlib import Path

import pandas as pd

from scsigmoid.evaluate.scale import scale_text
from scsigmoid.plots.fig9_jacobian import plot_fig9_jacobian
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
plot_fig9_jacobian(sm.input.csv, Path(sm.output.pdf).with_suffix(""),
                   scale=scale_text(pd.read_csv(sm.input.runs), sm.params.context))
