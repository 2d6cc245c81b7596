"""Render Fig 8 (latency grid) from the merged benchmark CSV."""

from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from scsigmoid.plots.fig8_latency import plot_fig8

if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    with open(smk.log[0], "w") as log, redirect_stdout(log), redirect_stderr(log):
        stem = Path(smk.output.pdf).with_suffix("")
        plot_fig8(smk.input.results, smk.input.flashsigmoid, stem, timing=smk.params.timing)
