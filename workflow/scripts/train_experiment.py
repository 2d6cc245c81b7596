"""Snakemake script: the GPU throughput or stress experiment (rule name = experiment)."""

from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from scsigmoid.train.experiments import main

sm = snakemake  # noqa: F821
corpus_dir = str(Path(sm.input.corpus).parent)
results = str(Path(sm.output[0]).parents[1])  # {R}/train/x.csv -> {R}
with open(sm.log[0], "w") as log, redirect_stdout(log), redirect_stderr(log):
    main([sm.rule, "--out", results, "--corpus-dir", corpus_dir, *sm.params.args])
