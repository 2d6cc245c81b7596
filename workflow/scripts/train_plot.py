"""Snakemake script: Fig 3 / Fig 4 (left) / Fig 6 from the training CSVs (rule name picks)."""

from pathlib import Path

import pandas as pd

from scsigmoid.evaluate.scale import scale_text
from scsigmoid.plots.fig3_gpu_hours import plot_fig3
from scsigmoid.plots.fig4_loss import plot_fig4_loss
from scsigmoid.plots.fig6_stress import plot_fig6
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
stem = Path(sm.output.pdf).with_suffix("")
with log_to_file(sm):
    if sm.rule == "plot_fig3":
        try:  # the throughput protocol owns the gain: one definition of "faster" everywhere
            from scsigmoid.train.throughput import GAIN_DEFINITION, gain_table
        except ImportError as err:
            raise ImportError("Fig 3 needs scsigmoid.train.throughput (gain_table, GAIN_DEFINITION), the "
                              f"throughput protocol of issue #13: {err}") from err
        long = pd.read_csv(sm.input.throughput)
        print(plot_fig3(gain_table(long), stem, long=long, definition=GAIN_DEFINITION).to_string())
    elif sm.rule == "plot_fig4_loss":
        plot_fig4_loss(list(sm.input.logs), stem, scale=scale_text(pd.read_csv(sm.input.runs)))
    elif sm.rule == "plot_fig6":
        print("largest stable LR:", plot_fig6(sm.input.stress, sm.input.lr_sweep[0] if sm.input.lr_sweep else None,
                                              stem, lengths=pd.read_csv(sm.input.lengths)))
    else:
        raise ValueError(f"train_plot.py does not know rule {sm.rule!r}.")
