"""Render the dataset table (CSV + Markdown) from the data stage's summary."""

from contextlib import redirect_stderr, redirect_stdout

from scsigmoid.plots.table_datasets import make_table

if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    with open(smk.log[0], "w") as log, redirect_stdout(log), redirect_stderr(log):
        make_table(smk.input.summary, smk.output.csv, smk.output.md)
