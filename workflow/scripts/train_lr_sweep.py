"""Snakemake script: the learning-rate sweep (stability frontier) on this GPU."""

from pathlib import Path

from scsigmoid.script import log_to_file
from scsigmoid.train.experiments import run_lr_sweep

sm = snakemake  # noqa: F821
with log_to_file(sm):
    run_lr_sweep(sm.params.config, sweep_dir=sm.params.work_dir, out_csv=sm.output[0],
                 corpus_dir=str(Path(sm.input.corpus).parent))
