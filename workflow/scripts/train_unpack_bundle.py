"""Snakemake script: one run's checkpoint unpacked from train.checkpoint_bundle, then checked to be
the run whose embeddings are committed (when the run has any)."""

import logging
from pathlib import Path

import torch

from scsigmoid.script import log_to_file
from scsigmoid.train.bundle import unpack
from scsigmoid.train.experiments import check_checkpoint

sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)
log_to_file(sm)
unpack(sm.params.bundle, Path(sm.output[0]).parents[1], runs=[sm.params.run])
if "reference" in sm.input.keys():
    stats = check_checkpoint(checkpoint=sm.output[0], corpus_dir=str(Path(sm.input.corpus).parent),
                             dataset=Path(sm.input.corpus).name, reference_npz=sm.input.reference,
                             context=int(sm.wildcards.context), batch_size=sm.params.batch_size)
    logging.info("the unpacked weights are the committed run's: %s", stats)
else:
    logging.info("%s has no committed embeddings: not checked against any", sm.params.run)
