"""Snakemake script: seeded UMAP coordinates of one seed's softmax and sigmoid embeddings of one dataset."""

import anndata as ad

from scsigmoid.evaluate.embeddings import embedding_key
from scsigmoid.evaluate.tables import add_provenance
from scsigmoid.evaluate.umap import umap_coordinates
from scsigmoid.io import write_csv
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
adata = ad.read_h5ad(sm.input.h5ad)
keys = [embedding_key(att, "mean", sm.params.shown_seed) for att in sm.params.attentions]
coords = umap_coordinates(adata, embedding_keys=keys, seed=sm.params.seed)
write_csv(add_provenance(coords.assign(dataset=sm.wildcards.dataset)), sm.output[0])
