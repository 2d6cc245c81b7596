"""Snakemake script: table_scib, scIB bio conservation per dataset and embedding over training
seeds, beside scib-metrics' Benchmarker aggregate; the eval datasets not evaluated are listed
with the reason."""

import pandas as pd

from scsigmoid.evaluate.scale import scale_text
from scsigmoid.evaluate.tables import (
    not_evaluated_section,
    read_scores,
    scib_markdown,
    scib_table,
    write_paper_table,
)
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
scores = read_scores(sm.input.csvs)
tidy = scib_table(scores, read_scores(sm.input.benchmarker))
write_paper_table(tidy, scib_markdown(tidy) + not_evaluated_section(sm.input.summary, scores), sm.output.csv, sm.output.md,
                  scale=scale_text(pd.read_csv(sm.input.runs), sm.params.context),
                  title="scIB bio conservation (PCA 95 % variance; mean over seeds [95 % t-interval]; best mean "
                  "in bold)", note=sm.params.note)
