"""Dataset table: cells, genes, vocabulary coverage, cell types, batches, species, source and the
fraction of cells fitting each context, from the data stage's dataset summary CSV."""

from __future__ import annotations

import pandas as pd

from scsigmoid.io import markdown_table, write_csv, write_text

COLUMNS = {
    "dataset": "dataset", "role": "role", "species": "species", "cells": "cells",
    "cells_tokenised": "cells tokenised", "genes": "genes", "genes_in_vocab": "genes in vocab",
    "vocab_coverage": "vocab coverage", "cell_types": "cell types", "batches": "batches",
    "median_length": "median length", "frac_le_2048": "≤2K", "frac_le_4096": "≤4K",
    "source": "source",
}


def make_table(summary_csv: str, out_csv: str, out_md: str) -> pd.DataFrame:
    df = pd.read_csv(summary_csv, keep_default_na=False)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{summary_csv}: missing column(s) {missing}; rebuild with data_stats.")
    order = {"eval": 0, "pretrain": 1, "extra": 2}
    df = df.assign(_o=df["role"].map(order)).sort_values(["_o", "dataset"]).drop(columns="_o")
    for col in ("cells", "cells_tokenised", "genes", "genes_in_vocab", "cell_types", "batches"):
        df[col] = pd.to_numeric(df[col]).astype(int)
    table = df[list(COLUMNS)].rename(columns=COLUMNS)
    write_csv(table, out_csv)
    md = table.copy()
    for col in ("vocab coverage", "≤2K", "≤4K"):
        md[col] = md[col].map(lambda v: f"{float(v):.1%}")
    md["median length"] = md["median length"].map(lambda v: f"{float(v):.0f}")
    note = ("\nReduced-scale offline stand-ins, not the paper's CellxGene datasets. Vocabulary "
            "coverage = share of the vocabulary's genes present in the dataset; lengths count "
            "expressed vocabulary genes + CLS.\n")
    write_text(markdown_table(md) + note, out_md)
    return table
