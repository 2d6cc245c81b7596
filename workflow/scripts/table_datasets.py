"""Render the dataset table (CSV + Markdown) from the data stage's summary."""


from scsigmoid.plots.table_datasets import make_table
from scsigmoid.script import log_to_file

if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    with log_to_file(smk):
        make_table(smk.input.summary, smk.output.csv, smk.output.md)
