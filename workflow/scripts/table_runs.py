"""Snakemake script: table_runs, the runs behind the evaluation (one row per arm, context and
training seed: size, steps, stop reason, tokens and cells seen)."""

from scsigmoid.evaluate.scale import read_run_summaries, scale_text
from scsigmoid.evaluate.tables import write_paper_table
from scsigmoid.io import markdown_table
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
tidy = read_run_summaries(dict(zip(sm.params.runs, sm.input.summaries, strict=True)))
write_paper_table(tidy, markdown_table(tidy), sm.output.csv, sm.output.md, scale=scale_text(tidy, configured=sm.params.contexts),
                  title="Runs behind the evaluation (one row per arm, context and training seed)",
                  note=sm.params.note)
