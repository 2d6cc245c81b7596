"""Snakemake script: table_hyperparameters from the validated configuration."""

from scsigmoid.script import log_to_file
from scsigmoid.train.tables import hyperparameter_table, write_table

sm = snakemake  # noqa: F821
log_to_file(sm)
df = hyperparameter_table(dict(sm.params.train))
write_table(df, sm.output.csv, sm.output.md)
print(df.to_string())
