"""Snakemake script: sample real pre-activation attention scores from one run's checkpoint."""

import logging
from pathlib import Path

from scsigmoid.script import log_to_file
from scsigmoid.train.experiments import scores_run

sm = snakemake  # noqa: F821
log_to_file(sm)
path = scores_run(checkpoint=sm.input.ckpt, corpus_dir=str(Path(sm.input.corpus).parent),
                  context=int(sm.wildcards.context), out_npz=sm.output[0])
logging.info("wrote %s", path)
