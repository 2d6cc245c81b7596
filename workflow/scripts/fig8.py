"""Render Fig 8 (latency grid) from the merged benchmark CSV."""

from pathlib import Path

from scsigmoid.plots.fig8_latency import plot_fig8
from scsigmoid.script import log_to_file

if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    with log_to_file(smk):
        stem = Path(smk.output.pdf).with_suffix("")
        plot_fig8(smk.input.results, smk.input.flashsigmoid, stem, timing=smk.params.timing)
