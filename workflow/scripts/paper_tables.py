"""Snakemake script: the paper's evaluation tables (params.kind = val_loss | scib | mmd | benchmarker)
as CSV + Markdown."""

from scsigmoid.evaluate.tables import (
    add_provenance,
    concat_csvs,
    mmd_table,
    read_val_losses,
    scib_markdown,
    validation_loss_table,
)
from scsigmoid.io import markdown_table, write_csv, write_markdown
from scsigmoid.provenance import PROVENANCE_COLUMNS
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)
kind = sm.params.kind
note = sm.params.note
if kind == "val_loss":
    tidy, md = validation_loss_table(read_val_losses(dict(zip(sm.params.runs, sm.input.csvs, strict=True))))
    title = "Table 5: validation masked-LM loss (mean ± sd over masking seeds; best per dataset in bold)"
elif kind == "scib":
    tidy = concat_csvs(sm.input.csvs).drop(columns=list(PROVENANCE_COLUMNS), errors="ignore")
    md, title = scib_markdown(tidy), "scIB bio conservation (PCA 95% variance; best per dataset in bold)"
elif kind == "mmd":
    per = concat_csvs(sm.input.csvs).drop(columns=list(PROVENANCE_COLUMNS), errors="ignore")
    tidy = mmd_table(per)
    md, title = markdown_table(tidy), "Cell-type separation: mean pairwise RBF MMD² between cell types"
elif kind == "benchmarker":
    long = concat_csvs(sm.input.csvs).drop(columns=list(PROVENANCE_COLUMNS), errors="ignore")
    tidy = long.pivot_table(index=["dataset", "embedding"], columns="metric", values="value").reset_index()
    md, title = markdown_table(tidy), "scib-metrics Benchmarker (default metrics, raw embeddings)"
else:
    raise ValueError(f"params.kind must be val_loss, scib, mmd or benchmarker; got {kind!r}.")
write_csv(add_provenance(tidy), sm.output.csv)
write_markdown(md, sm.output.md, title=title, note=note)
