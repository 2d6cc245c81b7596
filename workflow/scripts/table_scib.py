"""Snakemake script: table_scib, scIB bio conservation per dataset and embedding over training
seeds, beside scib-metrics' Benchmarker aggregate; the eval datasets not evaluated are listed
with the reason."""

from scsigmoid.evaluate.tables import read_scores, scib_markdown, scib_table, write_eval_table
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
scores = read_scores(sm.input.csvs)
tidy = scib_table(scores, read_scores(sm.input.benchmarker))
write_eval_table(sm, tidy, scib_markdown(tidy), scores,
                 title="scIB bio conservation (PCA 95 % variance; mean over seeds [95 % t-interval]; best mean in bold)")
