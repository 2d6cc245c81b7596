"""Snakemake script: scib-metrics' Benchmarker (default metrics) on every embedding of one dataset."""

import logging

import anndata as ad

from scsigmoid.evaluate.embeddings import embedding_keys
from scsigmoid.evaluate.scib import benchmarker_table, use_jax_compilation_cache
from scsigmoid.evaluate.tables import write_scores
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
logging.info("JAX compilation cache: %s", use_jax_compilation_cache())
adata = ad.read_h5ad(sm.input.h5ad)
keys = embedding_keys(adata)
table = benchmarker_table(adata, embedding_keys=keys, label_key="label", batch_key="batch",
                          pre_integrated_key=keys[0]).assign(dataset=sm.wildcards.dataset)
logging.info("benchmarker on %s:\n%s", sm.wildcards.dataset, table.to_string())
write_scores(table, sm.output[0])
