"""Snakemake script: one dataset's embeddings in one h5ad: the data stage's PCA baseline
(data_pca_baseline, the one baseline definition) and every run's views, aligned on cell ids."""

import logging

import anndata as ad

from scsigmoid.evaluate.embeddings import assemble_embeddings, write_h5ad
from scsigmoid.evaluate.tables import parse_run
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
model_files = {(parse_run(run)["attention"], parse_run(run)["seed"]): path
               for run, path in zip(sm.params.runs, sm.input.embeddings, strict=True)}
adata = assemble_embeddings(ad.read_h5ad(sm.input.baseline), model_files, views=sm.params.views)
adata.uns["dataset"] = sm.wildcards.dataset
logging.info("dataset %s: %d cells, embeddings %s", sm.wildcards.dataset, adata.n_obs,
             list(adata.obsm.keys()))
write_h5ad(adata, sm.output[0])
