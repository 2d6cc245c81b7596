"""Snakemake script: train one run {size}_{context}_{attention}_s{seed} (resumes from its checkpoint).

The run is launched as its own process through ``scsigmoid.launch``: plain ``python`` on one GPU
(or the CPU), ``torchrun`` across the GPUs of the job, ``srun`` + ``torchrun`` across nodes. It
receives the rule's validated configuration as a JSON file (no setting is re-typed here)."""

from pathlib import Path

from scsigmoid.io import write_json
from scsigmoid.launch import run_for_rule
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
settings = Path(sm.log[0]).with_suffix(".settings.json")
write_json(sm.params.config, settings)
w = sm.wildcards
program = [
    "-m", "scsigmoid.train.experiments", "train", "--settings", str(settings),
    "--run-dir", str(Path(sm.output.log).parent), "--corpus-dir", str(Path(sm.input.corpus).parent),
    "--checkpoint-dir", str(Path(sm.output.ckpt).parent),
    f"--size={w.size}", f"--context={w.context}", f"--attention={w.attention}", f"--seed={w.seed}",
]
run_for_rule(program, sm.resources, sm.log[0], threads=sm.threads)
