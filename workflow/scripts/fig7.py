"""Snakemake script: Fig 7 (UMAP of one dataset, one panel per attention) from its UMAP CSV, with
the scale of the runs behind it in the title."""

from pathlib import Path

import pandas as pd

from scsigmoid.evaluate.embeddings import embedding_key
from scsigmoid.evaluate.scale import scale_text
from scsigmoid.plots.fig7_umap import plot_fig7_umap
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
scale = scale_text(pd.read_csv(sm.input.runs), sm.params.context)
panels = tuple((embedding_key(att, "mean", sm.params.shown_seed), att.capitalize()) for att in sm.params.attentions)
plot_fig7_umap(sm.input.csv, Path(sm.output.pdf).with_suffix(""), title=f"{sm.params.title}\n{scale}",
               panels=panels)
