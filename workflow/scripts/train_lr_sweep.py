"""Snakemake script: the learning-rate sweep (stability frontier) on this GPU."""

from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from scsigmoid.train.experiments import run_lr_sweep

sm = snakemake  # noqa: F821
with open(sm.log[0], "w") as log, redirect_stdout(log), redirect_stderr(log):
    run_lr_sweep(sm.params.config, sweep_dir=sm.params.work_dir, out_csv=sm.output[0],
                 corpus_dir=str(Path(sm.input.corpus).parent))
