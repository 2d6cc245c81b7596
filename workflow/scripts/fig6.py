"""Snakemake script: Fig 6 (stress test, and the LR sweep when one was measured)."""

from pathlib import Path

import pandas as pd

from scsigmoid.plots.fig6_stress import plot_fig6
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
sweep = sm.input.lr_sweep[0] if sm.input.lr_sweep else None  # an empty list: no sweep measured
print("largest stable LR:", plot_fig6(sm.input.stress, sweep, Path(sm.output.pdf).with_suffix(""),
                                      lengths=pd.read_csv(sm.input.lengths)))
