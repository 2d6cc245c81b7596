"""The model-free PCA baseline of one dataset (scsigmoid.evaluate.embeddings.baseline_embedding:
log1p CP10k read through the sheet's scale, HVG, PCs, on the cells of its corpus), written as an
h5ad in the layout of eval_embeddings (obs cell_id/label[/batch], obsm X_pca_baseline): eval_scores.py
scores it alone, eval_embeddings adds the model views to it."""

import logging
from pathlib import Path

import pandas as pd

from scsigmoid.data.build import read_h5ad
from scsigmoid.data.tokenise import where_of
from scsigmoid.evaluate.embeddings import BASELINE_KEY, baseline_embedding, write_h5ad
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
name, p = sm.wildcards.dataset, sm.params
obs = pd.read_csv(Path(sm.input.corpus) / "obs.tsv", sep="\t", dtype=str, keep_default_na=False)
out = baseline_embedding(obs, read_h5ad(sm.input.h5ad, name), p.row["scale"], where=where_of(name, sm.input.h5ad),
                         n_hvg=p.n_hvg, n_pcs=p.n_pcs, seed=p.seed)
out.uns["dataset"] = name
logging.info("%s: PCA baseline of %d cells, %d PCs", name, out.n_obs, out.obsm[BASELINE_KEY].shape[1])
write_h5ad(out, sm.output[0])
