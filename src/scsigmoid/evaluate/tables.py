"""The paper's evaluation tables as tidy CSVs plus Markdown renderings: Table 5 (validation
loss), scIB bio conservation and cell-type MMD per dataset."""

from __future__ import annotations

import os
import re

import numpy as np
import pandas as pd

from scsigmoid import ATTENTIONS
from scsigmoid.io import markdown_table

RUN_PATTERN = re.compile(rf"^(?P<size>.+)_(?P<context>\d+)_(?P<attention>{'|'.join(ATTENTIONS)})$")


def parse_run(run: str) -> dict:
    """'small_4096_sigmoid' -> {'size': 'small', 'context': 4096, 'attention': 'sigmoid'}."""
    m = RUN_PATTERN.match(run)
    if not m:
        raise ValueError(f"run name {run!r} is not <size>_<context>_<softmax|sigmoid>.")
    return {"size": m["size"], "context": int(m["context"]), "attention": m["attention"]}


def read_val_losses(paths: dict[str, str | os.PathLike]) -> pd.DataFrame:
    """Concatenate per-run val_loss.csv files (dataset, seed, loss, n_cells) with a run column."""
    frames = []
    for run, path in paths.items():
        df = pd.read_csv(path)
        missing = {"dataset", "seed", "loss"} - set(df.columns)
        if missing:
            raise ValueError(f"{path}: missing column(s) {sorted(missing)}; expected dataset, seed, loss, n_cells.")
        frames.append(df.assign(run=run, **parse_run(run)))
    return pd.concat(frames, ignore_index=True)


def validation_loss_table(losses: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Table 5: mean and sd over masking seeds per dataset x run; Markdown with the best run per
    dataset in bold."""
    tidy = (losses.groupby(["dataset", "run", "size", "context", "attention"], as_index=False)
            .agg(loss_mean=("loss", "mean"), loss_sd=("loss", "std"), n_seeds=("seed", "nunique")))
    tidy["loss_sd"] = tidy["loss_sd"].fillna(0.0)
    runs = sorted(tidy["run"].unique(), key=lambda r: (parse_run(r)["context"], parse_run(r)["attention"]))
    mean = tidy.pivot(index="dataset", columns="run", values="loss_mean")[runs]
    sd = tidy.pivot(index="dataset", columns="run", values="loss_sd")[runs]
    shown = mean.copy().astype(object)
    for r in runs:
        shown[r] = [f"{m:.4f} ± {s:.4f}" if np.isfinite(m) else "" for m, s in zip(mean[r], sd[r], strict=True)]
    bold = mean.eq(mean.min(axis=1), axis=0)
    shown = shown.reset_index()
    bold = bold.reset_index(drop=True).assign(dataset=False)
    return tidy, markdown_table(shown, bold)


def wide_with_best(tidy: pd.DataFrame, index: str, columns: str, value: str,
                   higher_is_better: bool = True) -> str:
    """Markdown of ``value`` pivoted to index x columns, best per row in bold."""
    wide = tidy.pivot_table(index=index, columns=columns, values=value, aggfunc="mean")
    best = wide.max(axis=1) if higher_is_better else wide.min(axis=1)
    bold = wide.eq(best, axis=0).reset_index(drop=True).assign(**{index: False})
    return markdown_table(wide.reset_index(), bold)


def scib_markdown(scib: pd.DataFrame) -> str:
    """One Markdown block per metric (dataset x embedding, best in bold)."""
    parts = []
    for metric in ("nmi", "ari", "silhouette_label", "bio_conservation"):
        parts.append(f"### {metric}\n\n" + wide_with_best(scib, "dataset", "embedding", metric))
    return "\n".join(parts)


def relative_change(new: float, old: float) -> float:
    """(new - old) / |old|; NaN when old is 0 or missing."""
    if old is None or not np.isfinite(old) or old == 0:
        return float("nan")
    return float((new - old) / abs(old))


def mmd_table(mmd: pd.DataFrame, softmax_key: str = "X_softmax_mean",
              sigmoid_key: str = "X_sigmoid_mean") -> pd.DataFrame:
    """Per dataset: mean pairwise MMD² of each embedding, and sigmoid's relative change vs softmax."""
    wide = mmd.pivot_table(index="dataset", columns="embedding", values="mmd2_mean").reset_index()
    if softmax_key in wide and sigmoid_key in wide:
        wide["sigmoid_vs_softmax"] = [relative_change(s, m) for s, m in
                                      zip(wide[sigmoid_key], wide[softmax_key], strict=True)]
    return wide


def add_provenance(df: pd.DataFrame) -> pd.DataFrame:
    """The result table with the provenance columns (device, torch, triton, commit, date)."""
    from scsigmoid.provenance import provenance

    return df.assign(**provenance())


def concat_csvs(paths, **extra) -> pd.DataFrame:
    """Concatenate CSV files (e.g. per-dataset results into one table)."""
    return pd.concat([pd.read_csv(p) for p in paths], ignore_index=True).assign(**extra)
