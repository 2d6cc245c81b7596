"""Snakemake script: table_scib_benchmarker, scib-metrics' Benchmarker per dataset and embedding."""

import pandas as pd

from scsigmoid.evaluate.scale import scale_text
from scsigmoid.evaluate.tables import not_evaluated_section, read_scores, write_paper_table
from scsigmoid.io import markdown_table
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
long = read_scores(sm.input.csvs)
tidy = long.pivot_table(index=["dataset", "embedding"], columns="metric",
                                              values="value").reset_index()
write_paper_table(tidy, markdown_table(tidy) + not_evaluated_section(sm.input.summary, long), sm.output.csv, sm.output.md,
                  scale=scale_text(pd.read_csv(sm.input.runs), sm.params.context),
                  title="scib-metrics Benchmarker (default metrics, raw embeddings)", note=sm.params.note)
