"""Snakemake script: table_claim1, the paired effects sigmoid − softmax per dataset and for the mean
over datasets, with their intervals and verdicts."""

import pandas as pd

from scsigmoid.evaluate.claim1 import claim1_table
from scsigmoid.evaluate.tables import read_scores, read_val_losses, write_eval_table
from scsigmoid.io import markdown_table
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
i, p = sm.input, sm.params
scores = read_scores(i.scib)
tidy = claim1_table(
    context=p.context, scib=scores, scib_boot=read_scores(i.scib_bootstrap), mmd=read_scores(i.mmd),
    mmd_boot=read_scores(i.mmd_bootstrap), benchmarker=read_scores(i.benchmarker),
    val_losses=read_val_losses(dict(zip(p.runs, i.val_loss, strict=True))), min_seeds=p.min_seeds,
    usable=dict(p.usable), runs=pd.read_csv(i.runs), max_budget_gap=p.max_budget_gap,
    contexts=p.contexts)
write_eval_table(sm, tidy, markdown_table(tidy.drop(columns=["metric", "direction"])), scores,
                 title="Claim 1: paired effects sigmoid − softmax per dataset and for the mean over datasets "
                 "(lo/hi: 95 % interval, t over seeds ⊕ cell bootstrap)")
