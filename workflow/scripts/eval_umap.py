"""Snakemake script: seeded UMAP coordinates of the softmax and sigmoid embeddings of one dataset."""

import anndata as ad

from scsigmoid.evaluate.tables import add_provenance
from scsigmoid.evaluate.umap import umap_coordinates
from scsigmoid.io import write_csv
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
adata = ad.read_h5ad(sm.input.h5ad)
coords = umap_coordinates(adata, embedding_keys=list(sm.params.umap_keys), seed=sm.params.seed)
write_csv(add_provenance(coords.assign(dataset=sm.wildcards.dataset)), sm.output[0])
