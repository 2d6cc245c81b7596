"""Snakemake script: scIB bio conservation of every embedding of one dataset (output.scores) and
its cell-bootstrap replicates (output.bootstrap; none when params.n_boot is 0)."""

import logging

import anndata as ad
import pandas as pd

from scsigmoid.evaluate.embeddings import embedding_keys
from scsigmoid.evaluate.scib import score_embedding, stratified_draws
from scsigmoid.evaluate.tables import write_scores
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
adata = ad.read_h5ad(sm.input.h5ad)
dataset, p = sm.wildcards.dataset, sm.params
draws = stratified_draws(adata.obs["label"], p.n_boot, seed=p.seed) if p.n_boot else None
rows, reps = [], []
for key in embedding_keys(adata):
    scores, replicates = score_embedding(adata, embedding_key=key, label_key="label", variance=p.variance,
                                         seed=p.seed, draws=draws)
    rows.append({"dataset": dataset, "embedding": key, "n_cells": adata.n_obs, **scores})
    if replicates is not None:
        reps.append(replicates.assign(dataset=dataset, embedding=key))
table = pd.DataFrame(rows)
logging.info("scib on %s:\n%s", dataset, table.to_string())
write_scores(table, sm.output.scores, replicates=reps, bootstrap_path=sm.output.bootstrap)
