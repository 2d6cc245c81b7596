"""Snakemake script: table_mmd, cell-type separation per dataset and embedding over training seeds."""

import pandas as pd

from scsigmoid.evaluate.scale import scale_text
from scsigmoid.evaluate.tables import (
                  mmd_markdown,
                  mmd_table,
                  not_evaluated_section,
                  read_scores,
                  write_paper_table,
)
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
scores = read_scores(sm.input.csvs)
tidy = mmd_table(scores)
write_paper_table(tidy, mmd_markdown(tidy) + not_evaluated_section(sm.input.summary, scores), sm.output.csv, sm.output.md,
                  scale=scale_text(pd.read_csv(sm.input.runs), sm.params.context),
                  title="Cell-type separation: mean pairwise RBF MMD² between cell types", note=sm.params.note)
