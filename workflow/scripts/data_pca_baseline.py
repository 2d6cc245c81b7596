"""The model-free PCA baseline of one dataset: log1p CP10k (read through the sheet's scale), at most
n_hvg highly variable genes, n_pcs PCs, on the cells of its corpus; written as an h5ad in the layout
of eval_embeddings (obs cell_id/label[/batch], obsm X_pca_baseline) so eval_scib.py scores it."""

import logging
from pathlib import Path

import anndata as ad
import pandas as pd

from scsigmoid.data.build import read_h5ad
from scsigmoid.data.tokenise import log1p_cp10k, where_of
from scsigmoid.evaluate.embeddings import BASELINE_KEY, pca_baseline, write_h5ad
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
name, p = sm.wildcards.dataset, sm.params
obs = pd.read_csv(Path(sm.input.corpus) / "obs.tsv", sep="\t", dtype=str, keep_default_na=False)
obs = obs[[c for c in ("cell_id", "label", "batch") if c in obs]]
counts = read_h5ad(sm.input.h5ad, name)
X = log1p_cp10k(counts, p.row["scale"], where_of(name, sm.input.h5ad))
rows = pd.Index(counts.obs_names.astype(str)).get_indexer(obs["cell_id"])
work = ad.AnnData(X=X[rows], var=pd.DataFrame(index=counts.var_names.astype(str)))
out = ad.AnnData(obs=obs.set_index("cell_id", drop=False).rename_axis(None))
for col in ("label", "batch"):
    if col in out.obs:
        out.obs[col] = out.obs[col].astype("category")
out.obsm[BASELINE_KEY] = pca_baseline(work, n_hvg=p.n_hvg, n_pcs=p.n_pcs, seed=p.seed)
out.uns["embedding_keys"] = [BASELINE_KEY]
out.uns["dataset"] = name
logging.info("%s: PCA baseline of %d cells, %d PCs", name, out.n_obs, out.obsm[BASELINE_KEY].shape[1])
write_h5ad(out, sm.output[0])
