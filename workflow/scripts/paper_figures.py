"""Snakemake script: render one evaluation figure from its CSV (params.figure = fig4 | fig5 | fig7 |
fig9), with the scale of the runs behind it on its face."""

from pathlib import Path

import pandas as pd

from scsigmoid.evaluate.embeddings import embedding_key
from scsigmoid.evaluate.scale import scale_text
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
stem = Path(sm.output[0]).with_suffix("")
figure = sm.params.figure
scale = scale_text(pd.read_csv(sm.input.runs), sm.params.context)
if figure == "fig4":
    from scsigmoid.plots.fig4_validation import plot_fig4_validation

    plot_fig4_validation(sm.input.csv, stem, scale=scale)
elif figure == "fig5":
    from scsigmoid.plots.fig5_scib import plot_fig5_scib

    plot_fig5_scib(sm.input.csv, stem, scale=scale)
elif figure == "fig7":
    from scsigmoid.plots.fig7_umap import plot_fig7_umap

    panels = tuple((embedding_key(att, "mean", sm.params.shown_seed), att.capitalize())
                   for att in sm.params.attentions)
    plot_fig7_umap(sm.input.csv, stem, title=f"{sm.params.title}\n{scale}", panels=panels)
elif figure == "fig9":
    from scsigmoid.plots.fig9_jacobian import plot_fig9_jacobian

    plot_fig9_jacobian(sm.input.csv, stem, scale=scale)
else:
    raise ValueError(f"params.figure must be fig4, fig5, fig7 or fig9; got {figure!r}.")
