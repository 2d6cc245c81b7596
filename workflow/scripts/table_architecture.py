"""Snakemake script: table_architecture (every model size) from the code's size table."""

from pathlib import Path

from scsigmoid.data.corpus import TokenCorpus
from scsigmoid.script import log_to_file
from scsigmoid.train.tables import architecture_table, write_table

sm = snakemake  # noqa: F821
log_to_file(sm)
df = architecture_table(TokenCorpus(Path(sm.input.meta)).vocab_size, max_len=sm.params.max_len)
write_table(df, sm.output.csv, sm.output.md)
print(df.to_string())
