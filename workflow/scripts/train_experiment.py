"""Snakemake script: the GPU throughput or stress experiment (rule name = experiment)."""

from pathlib import Path

from scsigmoid.script import log_to_file
from scsigmoid.train.experiments import main

sm = snakemake  # noqa: F821
corpus_dir = str(Path(sm.input.corpus).parent)
results = str(Path(sm.output[0]).parents[1])  # {R}/train/x.csv -> {R}
with log_to_file(sm):
    main([sm.rule, "--out", results, "--corpus-dir", corpus_dir, *sm.params.args])
