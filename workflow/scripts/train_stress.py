"""Snakemake script: the stress test (160M, 8K, no clipping, time-boxed per arm) on this GPU."""

from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from scsigmoid.train.experiments import run_stress

sm = snakemake  # noqa: F821
with open(sm.log[0], "w") as log, redirect_stdout(log), redirect_stderr(log):
    run_stress(sm.params.config, out_csv=sm.output[0], work_dir=sm.params.work_dir,
               corpus_dir=str(Path(sm.input.corpus).parent))
