"""Snakemake script: a checkpoint this machine did not train checked against the run's committed
embeddings (scsigmoid.train.experiments.check_checkpoint); the statistics in a JSON file."""

import logging
from pathlib import Path

import torch

from scsigmoid.io import write_json
from scsigmoid.script import log_to_file
from scsigmoid.train.experiments import check_checkpoint

sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)
log_to_file(sm)
if "reference" in sm.input.keys():
    stats = check_checkpoint(checkpoint=sm.input.ckpt, corpus_dir=str(Path(sm.input.corpus).parent),
                             dataset=Path(sm.input.corpus).name, reference_npz=sm.input.reference,
                             context=int(sm.wildcards.context), batch_size=sm.params.batch_size)
    stats["checked"] = True
    logging.info("the checkpoint is the committed run's: %s", stats)
else:
    stats = {"checkpoint": sm.input.ckpt, "checked": False,
             "reason": "the run has no committed embeddings of a dataset in the sheet: nothing to check against"}
    logging.info("%s", stats["reason"])
write_json(stats, sm.output[0])
