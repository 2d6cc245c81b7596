"""Snakemake script: table_mmd, cell-type separation per dataset and embedding over training seeds."""

from scsigmoid.evaluate.tables import mmd_markdown, mmd_table, read_scores, write_eval_table
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
scores = read_scores(sm.input.csvs)
tidy = mmd_table(scores)
write_eval_table(sm, tidy, mmd_markdown(tidy), scores,
                 title="Cell-type separation: mean pairwise RBF MMD² between cell types")
