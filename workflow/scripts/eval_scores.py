"""Snakemake script: per-dataset scores of every embedding (params.kind = scib | mmd | benchmarker);
scib and mmd also write their cell-bootstrap replicates (output.bootstrap)."""

import logging

import anndata as ad
import pandas as pd

from scsigmoid.evaluate.embeddings import embedding_keys
from scsigmoid.evaluate.mmd import celltype_mmd, separation_bootstrap
from scsigmoid.evaluate.scib import benchmarker_table, score_embedding, stratified_draws
from scsigmoid.evaluate.tables import add_provenance, with_embedding_columns
from scsigmoid.io import write_csv
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
adata = ad.read_h5ad(sm.input.h5ad)
keys = embedding_keys(adata)
dataset = sm.wildcards.dataset
kind = sm.params.kind
boot = None
if kind == "scib":
    draws = stratified_draws(adata.obs["label"], sm.params.n_boot, seed=sm.params.seed) if sm.params.n_boot else None
    rows, reps = [], []
    for k in keys:
        scores, replicates = score_embedding(adata, embedding_key=k, label_key="label", variance=sm.params.variance,
                                             seed=sm.params.seed, draws=draws)
        rows.append({"dataset": dataset, "embedding": k, "n_cells": adata.n_obs, **scores})
        if replicates is not None:
            reps.append(replicates.assign(dataset=dataset, embedding=k))
    table = pd.DataFrame(rows)
    boot = pd.concat(reps, ignore_index=True) if reps else pd.DataFrame(columns=["dataset", "embedding", "replicate"])
elif kind == "mmd":
    rows, reps = [], []
    for k in keys:
        pairs = celltype_mmd(adata.obsm[k], adata.obs["label"], max_per_type=sm.params.max_per_type,
                             seed=sm.params.seed)
        rows.append({"dataset": dataset, "embedding": k, "n_pairs": len(pairs),
                     "mmd2_mean": pairs["mmd2"].mean(), "mmd2_median": pairs["mmd2"].median()})
        if sm.params.n_boot:
            values = separation_bootstrap(adata.obsm[k], adata.obs["label"], n_boot=sm.params.n_boot,
                                          max_per_type=sm.params.max_per_type, seed=sm.params.seed)
            reps.append(pd.DataFrame({"dataset": dataset, "embedding": k, "replicate": range(len(values)),
                                      "mmd2_mean": values}))
    table = pd.DataFrame(rows)
    boot = pd.concat(reps, ignore_index=True) if reps else pd.DataFrame(columns=["dataset", "embedding", "replicate"])
elif kind == "benchmarker":
    table = benchmarker_table(adata, embedding_keys=keys, label_key="label", batch_key="batch",
                              pre_integrated_key=keys[0]).assign(dataset=dataset)
else:
    raise ValueError(f"params.kind must be scib, mmd or benchmarker; got {kind!r}.")
logging.info("%s on %s:\n%s", kind, dataset, table.to_string())
write_csv(add_provenance(with_embedding_columns(table)), sm.output.scores)
if boot is not None and "bootstrap" in sm.output.keys():  # the baseline alone (data_baseline_scib) has none
    write_csv(add_provenance(with_embedding_columns(boot) if len(boot) else boot), sm.output.bootstrap)
