"""Snakemake script: cell-type separation (mean pairwise RBF MMD² between cell types) of every
embedding of one dataset (output.scores) and its cell-bootstrap replicates (output.bootstrap)."""

import logging

import anndata as ad
import pandas as pd

from scsigmoid.evaluate.embeddings import embedding_keys
from scsigmoid.evaluate.mmd import celltype_mmd, separation_bootstrap
from scsigmoid.evaluate.tables import write_scores
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
adata = ad.read_h5ad(sm.input.h5ad)
dataset, p = sm.wildcards.dataset, sm.params
labels = adata.obs["label"]
rows, reps = [], []
for key in embedding_keys(adata):
    pairs = celltype_mmd(adata.obsm[key], labels, max_per_type=p.max_per_type, seed=p.seed)
    rows.append({"dataset": dataset, "embedding": key, "n_pairs": len(pairs),
                 "mmd2_mean": pairs["mmd2"].mean(), "mmd2_median": pairs["mmd2"].median()})
    if p.n_boot:
        values = separation_bootstrap(adata.obsm[key], labels, n_boot=p.n_boot, max_per_type=p.max_per_type,
                                      seed=p.seed)
        reps.append(pd.DataFrame({"dataset": dataset, "embedding": key, "replicate": range(len(values)),
                                  "mmd2_mean": values}))
table = pd.DataFrame(rows)
logging.info("mmd on %s:\n%s", dataset, table.to_string())
write_scores(table, sm.output.scores, replicates=reps, bootstrap_path=sm.output.bootstrap)
