"""Snakemake script: table_architecture / table_hyperparameters from the code's configs."""

from pathlib import Path

from scsigmoid.data.corpus import TokenCorpus
from scsigmoid.script import log_to_file
from scsigmoid.train.tables import architecture_table, hyperparameter_table, write_table

sm = snakemake  # noqa: F821
log_to_file(sm)
if sm.params.kind == "architecture":
    vocab = TokenCorpus(Path(sm.input.meta)).vocab_size
    df = architecture_table(vocab, max_len=sm.params.max_len)
else:
    df = hyperparameter_table(dict(sm.params.train))
write_table(df, sm.output.csv, sm.output.md)
print(df.to_string())
