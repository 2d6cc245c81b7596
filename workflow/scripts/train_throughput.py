"""Snakemake script: the training-throughput protocol (Fig 3) on this GPU."""


import numpy as np

from scsigmoid.config import fingerprint
from scsigmoid.data.corpus import TokenCorpus
from scsigmoid.script import log_to_file
from scsigmoid.train.throughput import run

sm = snakemake  # noqa: F821
corpus = TokenCorpus(sm.input.corpus)
with log_to_file(sm):
    run(sm.params.throughput, pool_lengths=np.asarray(corpus.lengths), vocab_size=corpus.vocab_size,
        out_csv=sm.output[0], device_tag=sm.params.device,
        config_id=f"train.throughput@{fingerprint(sm.params.throughput)}")
