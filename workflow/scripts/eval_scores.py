"""Snakemake script: per-dataset scores of every embedding (params.kind = scib | mmd | benchmarker)."""

import logging

import anndata as ad
import pandas as pd

from scsigmoid.evaluate.embeddings import embedding_keys
from scsigmoid.evaluate.mmd import celltype_mmd
from scsigmoid.evaluate.scib import benchmarker_table, score_embedding
from scsigmoid.evaluate.tables import add_provenance
from scsigmoid.io import write_csv
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
adata = ad.read_h5ad(sm.input.h5ad)
keys = embedding_keys(adata)
dataset = sm.wildcards.dataset
kind = sm.params.kind
if kind == "scib":
    rows = [{"dataset": dataset, "embedding": k, "n_cells": adata.n_obs,
             **score_embedding(adata, embedding_key=k, label_key="label", variance=sm.params.variance,
                               seed=sm.params.seed)} for k in keys]
    table = pd.DataFrame(rows)
elif kind == "mmd":
    rows = []
    for k in keys:
        pairs = celltype_mmd(adata.obsm[k], adata.obs["label"], max_per_type=sm.params.max_per_type,
                             seed=sm.params.seed)
        rows.append({"dataset": dataset, "embedding": k, "n_pairs": len(pairs),
                     "mmd2_mean": pairs["mmd2"].mean(), "mmd2_median": pairs["mmd2"].median()})
    table = pd.DataFrame(rows)
elif kind == "benchmarker":
    table = benchmarker_table(adata, embedding_keys=keys, label_key="label", batch_key="batch",
                              pre_integrated_key=keys[0]).assign(dataset=dataset)
else:
    raise ValueError(f"params.kind must be scib, mmd or benchmarker; got {kind!r}.")
logging.info("%s on %s:\n%s", kind, dataset, table.to_string())
write_csv(add_provenance(table), sm.output[0])
