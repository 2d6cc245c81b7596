"""Snakemake script: the replication scorecard (one row per measurable claim) as CSV + Markdown."""

from scsigmoid.evaluate.scorecard import build_scorecard
from scsigmoid.evaluate.tables import add_provenance
from scsigmoid.io import markdown_table, write_csv, write_markdown
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
inputs = {key: sm.params.paths.get(key) for key in sm.params.paths}
card = build_scorecard(inputs, dict(sm.params.scales), speed_tolerance=sm.params.speed_tolerance,
                       readoff=sm.params.tflops_readoff)
write_csv(add_provenance(card), sm.output.csv)
write_markdown(markdown_table(card.drop(columns=["source"])), sm.output.md,
               title="Replication scorecard", note=sm.params.note)
