"""Snakemake script: train one run {size}_{context}_{attention}_s{seed} (resumes from its checkpoint).

The run is launched as its own process through ``scsigmoid.launch``: plain ``python`` on one GPU
(or the CPU), ``torchrun`` across the GPUs of the job, ``srun`` + ``torchrun`` across nodes."""

from pathlib import Path

from scsigmoid.launch import run_for_rule

sm = snakemake  # noqa: F821
results = str(Path(sm.output.log).parents[3])  # {R}/train/runs/{run}/log.csv -> {R}
p = sm.params
program = [
    "-m", "scsigmoid.train.experiments", "run",
    "--out", results, "--corpus-dir", str(Path(sm.input.corpus).parent),
    "--checkpoint-root", f"{results}/checkpoints",
    "--size", sm.wildcards.size, "--contexts", sm.wildcards.context,
    "--attention", sm.wildcards.attention, "--run-name", Path(sm.output.log).parent.name,
    "--steps", str(p.steps), "--batch-size", str(p.batch_size), "--lr", str(p.lr),
    "--seed", str(p.seed), "--grad-clip", str(p.grad_clip if p.grad_clip else 0),
    "--checkpoint-every", str(p.checkpoint_every), "--layout", p.layout,
]
Path(sm.log[0]).write_text("")
run_for_rule(program, sm.resources, sm.log[0], threads=sm.threads)
