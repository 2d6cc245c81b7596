"""Snakemake script: softmax vs sigmoid attention Jacobian norms on trained models' real scores."""

import logging

import numpy as np
import pandas as pd

from scsigmoid.evaluate.jacobian import jacobian_sweep, read_attention_scores
from scsigmoid.evaluate.tables import add_provenance
from scsigmoid.io import write_csv
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
lo, hi, n = sm.params.alpha_range
alphas = np.logspace(np.log10(lo), np.log10(hi), int(n))
frames = []
for run, path in zip(sm.params.runs, sm.input.scores, strict=True):
    frames.append(jacobian_sweep(read_attention_scores(path), alphas, seed=sm.params.seed).assign(run=run))
table = pd.concat(frames, ignore_index=True)
logging.info("max sigmoid norm %.4f, max softmax norm %.4f", table["sigmoid_norm_max"].max(),
             table["softmax_norm_max"].max())
write_csv(add_provenance(table), sm.output[0])
