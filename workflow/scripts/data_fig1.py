"""Render Fig 1 (sequence lengths) from the data stage's length table."""

from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from scsigmoid.plots.fig1_lengths import plot_fig1

if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    with open(smk.log[0], "w") as log, redirect_stdout(log), redirect_stderr(log):
        plot_fig1(smk.input.lengths, Path(smk.output.pdf).with_suffix(""))
