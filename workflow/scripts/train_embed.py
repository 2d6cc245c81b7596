"""Snakemake script: cell embeddings (the views of config evaluate.views) of one dataset from one run's
checkpoint."""

import logging
from pathlib import Path

import torch

from scsigmoid.script import log_to_file
from scsigmoid.train.experiments import embed_run

sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)  # same fp32 results locally and under Slurm
log_to_file(sm)
paths = embed_run(
    checkpoint=sm.input.ckpt, corpus_dir=str(Path(sm.input.corpus).parent),
    datasets=[sm.wildcards.dataset], context=int(sm.wildcards.context),
    out_dir=str(Path(sm.output[0]).parent), views=sm.params.views, batch_size=sm.params.batch_size,
)
logging.info("wrote %s", paths)
