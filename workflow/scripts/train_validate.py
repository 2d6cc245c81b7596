"""Snakemake script: validation loss of one run on the pretraining val split and eval corpora."""

import logging
from pathlib import Path

import torch

from scsigmoid.script import log_to_file
from scsigmoid.train.experiments import validate_run

sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)  # same fp32 results locally and under Slurm
log_to_file(sm)
df = validate_run(
    checkpoint=sm.input.ckpt, corpus_dir=str(Path(sm.input.corpora[0]).parent),
    datasets=list(sm.params.datasets), context=int(sm.wildcards.context),
    seeds=list(sm.params.seeds), out_csv=sm.output[0], batch_size=sm.params.batch_size,
    max_cells=sm.params.max_cells,
)
logging.info("\n%s", df.groupby("dataset")["loss"].mean())
