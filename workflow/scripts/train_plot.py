"""Snakemake script: Fig 3 / Fig 4 (left) / Fig 6 from the training CSVs (rule name picks)."""

from pathlib import Path

from scsigmoid.plots.fig3_gpu_hours import plot_fig3
from scsigmoid.plots.fig4_loss import plot_fig4_loss
from scsigmoid.plots.fig6_stress import plot_fig6
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
stem = Path(sm.output.pdf).with_suffix("")
with log_to_file(sm):
    if sm.rule == "plot_fig3":
        print(plot_fig3(sm.input.throughput, stem).to_string())
    elif sm.rule == "plot_fig4_loss":
        plot_fig4_loss(list(sm.input.logs), stem)
    elif sm.rule == "plot_fig6":
        print("largest stable LR:", plot_fig6(sm.input.stress, sm.input.lr_sweep[0] if sm.input.lr_sweep else None, stem))
    else:
        raise ValueError(f"train_plot.py does not know rule {sm.rule!r}.")
