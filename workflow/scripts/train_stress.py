"""Snakemake script: the stress test (160M, 8K, no clipping, time-boxed per arm) on this GPU."""

from pathlib import Path

from scsigmoid.script import log_to_file
from scsigmoid.train.experiments import run_stress

sm = snakemake  # noqa: F821
with log_to_file(sm):
    run_stress(sm.params.config, out_csv=sm.output[0], work_dir=sm.params.work_dir,
               corpus_dir=str(Path(sm.input.corpus).parent))
