"""Dataset table: cells, genes, vocabulary coverage, genes outside the vocabulary, cell types,
batches, species, scale, source and the fraction of cells fitting each context, from the data
stage's dataset summary CSV. Datasets whose data check failed are listed below the table with the
reason (and in the CSV with status 'failed'); the table is built from the others."""

from __future__ import annotations

import pandas as pd

from scsigmoid.io import markdown_table, write_csv, write_text

COLUMNS = {
    "dataset": "dataset", "role": "role", "species": "species", "scale": "scale",
    "cells": "cells", "cells_tokenised": "cells tokenised", "genes": "genes",
    "genes_in_vocab": "genes in vocab", "genes_not_in_vocab": "genes not in vocab",
    "vocab_coverage": "vocab coverage", "cell_types": "cell types", "batches": "batches",
    "median_length": "median length", "frac_le_2048": "≤2K", "frac_le_4096": "≤4K",
    "source": "source", "status": "status", "reason": "reason",
}
INTEGER_COLUMNS = ("cells", "cells_tokenised", "genes", "genes_in_vocab", "genes_not_in_vocab",
                   "cell_types", "batches")


def make_table(summary_csv: str, out_csv: str, out_md: str) -> pd.DataFrame:
    df = pd.read_csv(summary_csv, keep_default_na=False)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{summary_csv}: missing column(s) {missing}; rebuild with data_stats.")
    order = {"eval": 0, "pretrain": 1, "extra": 2}
    df = df.assign(_o=df["role"].map(order)).sort_values(["_o", "dataset"]).drop(columns="_o")
    ok = df["status"] == "ok"
    for col in INTEGER_COLUMNS:  # failed datasets have no numbers: empty cells stay empty
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    table = df[list(COLUMNS)].rename(columns=COLUMNS)
    write_csv(table, out_csv)
    md = table.loc[ok.to_numpy()].drop(columns=["status", "reason"])
    for col in ("vocab coverage", "≤2K", "≤4K"):
        md[col] = md[col].map(lambda v: f"{float(v):.1%}")
    md["median length"] = md["median length"].map(lambda v: f"{float(v):.0f}")
    lines = [markdown_table(md)]
    failed = df.loc[~ok]
    if len(failed):
        lines += ["", f"**{len(failed)} dataset(s) failed their data check** (not in the table above, "
                  "nor in any evaluation):", ""]
        lines += [f"- {r.dataset} ({r.role}): {r.reason}" for r in failed.itertuples(index=False)]
    note = ("\n\nReduced-scale offline stand-ins, not the paper's CellxGene datasets. Vocabulary "
            "coverage = share of the vocabulary's genes present in the dataset; genes not in vocab = "
            "the dataset's mapped genes outside the (frozen) pretraining vocabulary, dropped; lengths "
            "count expressed vocabulary genes + CLS.\n")
    write_text("\n".join(lines) + note, out_md)
    return table
