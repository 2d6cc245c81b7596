"""Snakemake script: Fig 3 (projected GPU-hours) from the throughput CSV."""

from pathlib import Path

import pandas as pd

from scsigmoid.plots.fig3_gpu_hours import plot_fig3
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
try:  # the throughput protocol owns the gain: one definition of "faster" everywhere
    from scsigmoid.train.throughput import GAIN_DEFINITION, gain_table
except ImportError as err:
    raise ImportError("Fig 3 needs scsigmoid.train.throughput (gain_table, GAIN_DEFINITION), the "
                      f"throughput protocol of issue #13: {err}") from err
long = pd.read_csv(sm.input.throughput)
print(plot_fig3(gain_table(long), Path(sm.output.pdf).with_suffix(""), long=long,
                definition=GAIN_DEFINITION).to_string())
