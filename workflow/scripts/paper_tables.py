"""Snakemake script: the paper's evaluation tables as CSV + Markdown (params.kind = runs | val_loss |
scib | benchmarker | mmd | claim1). Each Markdown note states the scale of the runs behind it; the
per-dataset tables list the eval datasets not evaluated, with the reason (input.summary)."""

import pandas as pd

from scsigmoid.evaluate.claim1 import claim1_table
from scsigmoid.evaluate.scale import read_run_summaries, scale_text
from scsigmoid.evaluate.tables import (
    add_provenance,
    concat_csvs,
    datasets_not_evaluated,
    mmd_markdown,
    mmd_table,
    not_evaluated_markdown,
    read_val_losses,
    scib_markdown,
    scib_table,
    validation_loss_table,
)
from scsigmoid.io import markdown_table, write_csv, write_markdown
from scsigmoid.provenance import PROVENANCE_COLUMNS
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
kind = sm.params.kind
note = sm.params.note


def tables(paths):
    if not paths:
        raise ValueError(f"no eval dataset to tabulate: every one failed its data check ({sm.input.summary}); "
                         "see table_datasets for the reasons.")
    return concat_csvs(paths).drop(columns=list(PROVENANCE_COLUMNS), errors="ignore")


def not_evaluated(scores):
    """The Markdown section listing the eval datasets these scores leave out, and why."""
    return not_evaluated_markdown(datasets_not_evaluated(pd.read_csv(sm.input.summary), scores))


if kind == "runs":
    tidy = read_run_summaries(dict(zip(sm.params.runs, sm.input.summaries, strict=True)))
    md, title = markdown_table(tidy), "Runs behind the evaluation (one row per arm, context and training seed)"
    note = f"Scale: {scale_text(tidy)}. {note}"
else:
    note = f"Scale: {scale_text(pd.read_csv(sm.input.runs), sm.params.get('context'))}. {note}"
if kind == "val_loss":
    tidy, md = validation_loss_table(read_val_losses(dict(zip(sm.params.runs, sm.input.csvs, strict=True))))
    title = ("Table 5: validation masked-LM loss (mean over training seeds [95 % t-interval]; each run: mean "
             "over masking seeds; lowest mean per dataset in bold; Δ = paired difference sigmoid − softmax)")
elif kind == "scib":
    scores = tables(sm.input.csvs)
    tidy = scib_table(scores, tables(sm.input.benchmarker))
    md = scib_markdown(tidy) + not_evaluated(scores)
    title = "scIB bio conservation (PCA 95 % variance; mean over seeds [95 % t-interval]; best mean in bold)"
elif kind == "mmd":
    scores = tables(sm.input.csvs)
    tidy = mmd_table(scores)
    md, title = mmd_markdown(tidy) + not_evaluated(scores), "Cell-type separation: mean pairwise RBF MMD² between cell types"
elif kind == "benchmarker":
    long = tables(sm.input.csvs)
    tidy = long.pivot_table(index=["dataset", "embedding"], columns="metric", values="value").reset_index()
    md, title = markdown_table(tidy) + not_evaluated(long), "scib-metrics Benchmarker (default metrics, raw embeddings)"
elif kind == "claim1":
    scores = tables(sm.input.scib)
    tidy = claim1_table(
        context=sm.params.context, scib=scores, scib_boot=tables(sm.input.scib_bootstrap),
        mmd=tables(sm.input.mmd), mmd_boot=tables(sm.input.mmd_bootstrap), benchmarker=tables(sm.input.benchmarker),
        val_losses=read_val_losses(dict(zip(sm.params.runs, sm.input.val_loss, strict=True))),
        min_seeds=sm.params.min_seeds, usable=dict(sm.params.usable))
    md = markdown_table(tidy.drop(columns=["metric", "direction"])) + not_evaluated(scores)
    title = ("Claim 1: paired effects sigmoid − softmax per dataset and for the mean over datasets "
             "(lo/hi: 95 % interval, t over seeds ⊕ cell bootstrap)")
elif kind != "runs":
    raise ValueError(f"params.kind must be runs, val_loss, scib, mmd, benchmarker or claim1; got {kind!r}.")
write_csv(add_provenance(tidy), sm.output.csv)
write_markdown(md, sm.output.md, title=title, note=note)
