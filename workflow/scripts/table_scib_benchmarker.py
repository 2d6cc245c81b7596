"""Snakemake script: table_scib_benchmarker, scib-metrics' Benchmarker per dataset and embedding."""

from scsigmoid.evaluate.tables import read_scores, write_eval_table
from scsigmoid.io import markdown_table
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
long = read_scores(sm.input.csvs)
tidy = long.pivot_table(index=["dataset", "embedding"], columns="metric", values="value").reset_index()
write_eval_table(sm, tidy, markdown_table(tidy), long,
                 title="scib-metrics Benchmarker (default metrics, raw embeddings)")
