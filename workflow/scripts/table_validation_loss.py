"""Snakemake script: Table 5, validation masked-LM loss per dataset over training seeds."""

import pandas as pd

from scsigmoid.evaluate.scale import scale_text
from scsigmoid.evaluate.tables import read_val_losses, validation_loss_table, write_paper_table
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
tidy, md = validation_loss_table(read_val_losses(dict(zip(sm.params.runs, sm.input.csvs, strict=True))))
write_paper_table(tidy, md, sm.output.csv, sm.output.md, scale=scale_text(pd.read_csv(sm.input.runs), configured=sm.params.contexts),
                  title="Table 5: validation masked-LM loss (mean over training seeds [95 % t-interval]; each "
                  "run: mean over masking seeds; lowest mean per dataset in bold; Δ = paired difference "
                  "sigmoid − softmax)", note=sm.params.note)
