"""Snakemake script: train one run {size}_{context}_{attention} (resumes from its checkpoint)."""

import logging
from pathlib import Path

from scsigmoid.train.experiments import train_run

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO)
results = str(Path(sm.output.log).parents[3])  # {R}/train/runs/{run}/log.csv -> {R}
summary = train_run(
    results=results, corpus_dir=str(Path(sm.input.corpus).parent), size=sm.wildcards.size,
    context=int(sm.wildcards.context), attention=sm.wildcards.attention, steps=sm.params.steps,
    batch_size=sm.params.batch_size, lr=sm.params.lr, seed=sm.params.seed,
    grad_clip=sm.params.grad_clip, checkpoint_every=sm.params.checkpoint_every,
    layout=sm.params.layout,
)
logging.info("summary: %s", summary)
