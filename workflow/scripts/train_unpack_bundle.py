"""Snakemake script: one run's checkpoint unpacked from train.checkpoint_bundle."""

from pathlib import Path

from scsigmoid.script import log_to_file
from scsigmoid.train.bundle import unpack

sm = snakemake  # noqa: F821
log_to_file(sm)
unpack(sm.params.bundle, Path(sm.output[0]).parents[1], runs=[sm.params.run])
