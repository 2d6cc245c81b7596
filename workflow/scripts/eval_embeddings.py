"""Snakemake script: assemble one dataset's embeddings (PCA baseline + every run's views) into an h5ad."""

import logging
from pathlib import Path

import anndata as ad
import pandas as pd

from scsigmoid.evaluate.embeddings import assemble_embeddings, write_h5ad
from scsigmoid.evaluate.tables import parse_run
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
obs = pd.read_csv(Path(sm.input.corpus) / "obs.tsv", sep="\t", dtype={"cell_id": str}, keep_default_na=False)
counts = ad.read_h5ad(sm.input.h5ad)  # the local file, or data_fetch's download
model_files = {(parse_run(run)["attention"], parse_run(run)["seed"]): path
               for run, path in zip(sm.params.runs, sm.input.embeddings, strict=True)}
adata = assemble_embeddings(obs, counts, model_files, n_hvg=sm.params.n_hvg, n_pcs=sm.params.n_pcs,
                            seed=sm.params.seed)
adata.uns["dataset"] = sm.wildcards.dataset
logging.info("dataset %s: %d cells, embeddings %s", sm.wildcards.dataset, adata.n_obs,
             list(adata.obsm.keys()))
write_h5ad(adata, sm.output[0])
