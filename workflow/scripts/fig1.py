"""Render Fig 1 (sequence lengths) from the data stage's length table."""

from pathlib import Path

from scsigmoid.plots.fig1_lengths import plot_fig1
from scsigmoid.script import log_to_file

if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    with log_to_file(smk):
        plot_fig1(smk.input.lengths, Path(smk.output.pdf).with_suffix(""))
