"""Render Fig 2 (TFLOPS grid) from the merged benchmark CSV."""

from pathlib import Path

from scsigmoid.plots.fig2_tflops import plot_fig2
from scsigmoid.script import log_to_file

if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    with log_to_file(smk):
        stem = Path(smk.output.pdf).with_suffix("")
        plot_fig2(smk.input.results, smk.input.reported, smk.input.flashsigmoid, stem,
                  timing=smk.params.timing)
