"""Snakemake script: the training-throughput protocol (Fig 3) on this GPU."""

from contextlib import redirect_stderr, redirect_stdout

import numpy as np

from scsigmoid.config import fingerprint
from scsigmoid.data.corpus import TokenCorpus
from scsigmoid.train.throughput import run

sm = snakemake  # noqa: F821
corpus = TokenCorpus(sm.input.corpus)
with open(sm.log[0], "w") as log, redirect_stdout(log), redirect_stderr(log):
    run(sm.params.throughput, pool_lengths=np.asarray(corpus.lengths), vocab_size=corpus.vocab_size,
        out_csv=sm.output[0], device_tag=sm.params.device,
        config_id=f"train.throughput@{fingerprint(sm.params.throughput)}")
