"""The paper's evaluation tables as tidy CSVs plus Markdown renderings: Table 5 (validation
loss), scIB bio conservation and cell-type MMD per dataset, each as the mean over training seeds
with its 95 % interval (see :mod:`scsigmoid.evaluate.stats`)."""

from __future__ import annotations

import os
import re

import numpy as np
import pandas as pd

from scsigmoid import ATTENTIONS
from scsigmoid.evaluate.embeddings import BASELINE_MODEL, parse_embedding_key
from scsigmoid.evaluate.scib import SCIB_METRICS
from scsigmoid.evaluate.stats import LEVEL, arm_summary, format_interval, paired_summary
from scsigmoid.io import markdown_table, write_csv, write_markdown
from scsigmoid.provenance import PROVENANCE_COLUMNS

BENCHMARKER_BIO = "Bio conservation"  # scib-metrics' default aggregate of its bio metrics

RUN_PATTERN = re.compile(rf"^(?P<size>.+)_(?P<context>\d+)_(?P<attention>{'|'.join(ATTENTIONS)})(?:_s(?P<seed>\d+))?$")


def parse_run(run: str) -> dict:
    """'small_4096_sigmoid_s1' -> {'size': 'small', 'context': 4096, 'attention': 'sigmoid',
    'seed': 1}; a name without the seed suffix gives seed None."""
    m = RUN_PATTERN.match(run)
    if not m:
        raise ValueError(f"run name {run!r} is not <size>_<context>_<softmax|sigmoid>_s<seed>.")
    return {"size": m["size"], "context": int(m["context"]), "attention": m["attention"],
            "seed": None if m["seed"] is None else int(m["seed"])}


def context_label(c) -> str:
    """2048 -> '2K'; contexts that are not whole multiples of 1024 stay numbers (64 -> '64')."""
    c = int(c)
    return f"{c // 1024}K" if c >= 1024 and c % 1024 == 0 else str(c)


def read_val_losses(paths: dict[str, str | os.PathLike]) -> pd.DataFrame:
    """Concatenate per-run val_loss.csv files with the run's size, context, attention and training
    seed. The file's own ``seed`` column (the masking pattern) becomes ``masking_seed``."""
    frames = []
    for run, path in paths.items():
        df = pd.read_csv(path)
        missing = {"dataset", "seed", "loss"} - set(df.columns)
        if missing:
            raise ValueError(f"{path}: missing column(s) {sorted(missing)}; expected dataset, seed, loss, n_cells.")
        info = parse_run(run)
        if info["seed"] is None:
            raise ValueError(f"run {run!r} has no training seed; runs are named <size>_<context>_<attention>_s<seed>.")
        df = df.drop(columns=["size", "context", "attention"], errors="ignore")
        frames.append(df.rename(columns={"seed": "masking_seed"}).assign(run=run, **info))
    return pd.concat(frames, ignore_index=True)


def per_run_val_loss(losses: pd.DataFrame) -> pd.DataFrame:
    """One value per run and dataset: the loss averaged over masking seeds (and their sd)."""
    keys = ["dataset", "run", "size", "context", "attention", "seed"]
    return (losses.groupby(keys, as_index=False)
            .agg(loss=("loss", "mean"), masking_sd=("loss", "std"), n_masks=("masking_seed", "nunique")))


def validation_loss_table(losses: pd.DataFrame, level: float = LEVEL) -> tuple[pd.DataFrame, str]:
    """Table 5: per dataset, context and attention, the mean over training seeds of each run's
    loss (itself the mean over masking seeds) with its 95 % t-interval over seeds; the Markdown
    shows 'mean [lo, hi]' with the lowest mean per dataset in bold and, per context, the paired
    difference sigmoid − softmax with its interval."""
    per = per_run_val_loss(losses)
    tidy = arm_summary(per, value="loss", keys=["dataset", "size", "context", "attention"], level=level)
    sd = per.groupby(["dataset", "context", "attention"])["masking_sd"].mean().rename("masking_sd_mean")
    tidy = tidy.join(sd, on=["dataset", "context", "attention"])
    order = sorted(tidy[["context", "attention"]].drop_duplicates().itertuples(index=False),
                   key=lambda ca: (ca[0], ca[1] != "softmax"))
    cols = {(c, a): f"{context_label(c)} {a}" for c, a in order}
    mean = tidy.pivot_table(index="dataset", columns=["context", "attention"], values="loss_mean")
    shown = pd.DataFrame(index=mean.index)
    bold = pd.DataFrame(index=mean.index)
    for key, name in cols.items():
        rows = tidy[(tidy["context"] == key[0]) & (tidy["attention"] == key[1])].set_index("dataset")
        shown[name] = [estimate_text(rows.loc[d, "loss_mean"], rows.loc[d, "loss_lo"], rows.loc[d, "loss_hi"])
                       if d in rows.index else "" for d in mean.index]
        bold[name] = mean[key].eq(mean.min(axis=1)).to_numpy()
    for context in sorted(tidy["context"].unique()):
        part = per[per["context"] == context]
        if set(part["attention"]) >= {"softmax", "sigmoid"}:
            diff = paired_summary(part, value="loss", level=level).set_index("dataset")
            label = f"{context_label(context)} Δ sigmoid − softmax"
            shown[label] = [estimate_text(diff.loc[d, "effect"], diff.loc[d, "lo"], diff.loc[d, "hi"], "{:+.4f}")
                            if d in diff.index else "" for d in mean.index]
            bold[label] = False
    shown = shown.reset_index()
    bold = bold.reset_index(drop=True).assign(dataset=False)
    return tidy, markdown_table(shown, bold)


def estimate_text(estimate: float, lo: float, hi: float, fmt: str = "{:.4f}") -> str:
    """'0.5000 [0.4000, 0.6000]'; the bare estimate without an interval; empty without an estimate."""
    if estimate is None or not np.isfinite(estimate):
        return ""
    text = fmt.format(estimate)
    bounds = format_interval(lo, hi, fmt)
    return f"{text} {bounds}" if bounds else text


def with_embedding_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Add model, view and seed columns parsed from the ``embedding`` obsm key (where absent)."""
    if {"model", "view", "seed"} <= set(df.columns):
        return df
    parsed = pd.DataFrame([parse_embedding_key(k) for k in df["embedding"]], index=df.index,
                          columns=["model", "view", "seed"])  # the columns also when df is empty
    return df.drop(columns=[c for c in ("model", "view", "seed") if c in df]).join(parsed)


def _embedding_label(model: str, view: str) -> str:
    return "PCA baseline" if model == BASELINE_MODEL else f"{model} {view}"


def scib_table(scores: pd.DataFrame, benchmarker: pd.DataFrame | None = None,
               level: float = LEVEL) -> pd.DataFrame:
    """Per dataset and embedding (model, view): mean and 95 % t-interval over seeds of every scIB
    metric, the embedding diagnostics (components kept at 95 % variance, PC1's variance share) and
    scib-metrics' Benchmarker default bio-conservation aggregate beside the paper's mean."""
    scores = with_embedding_columns(scores)
    keys = ["dataset", "model", "view"]
    out = None
    for metric in SCIB_METRICS:
        part = arm_summary(scores, value=metric, keys=keys, level=level)
        out = part if out is None else out.merge(part.drop(columns="n_seeds"), on=keys)
    diag = scores.groupby(keys).agg(n_cells=("n_cells", "max"), n_pcs_median=("n_pcs", "median"),
                                    n_pcs_min=("n_pcs", "min"), pc1_share_median=("pc1_share", "median"))
    out = out.join(diag, on=keys)
    if benchmarker is not None and not benchmarker.empty:
        bench = with_embedding_columns(benchmarker)
        agg = bench[bench["metric"] == BENCHMARKER_BIO]
        out = out.join(agg.groupby(keys)["value"].mean().rename("benchmarker_bio_conservation_mean"), on=keys)
    return out


def scib_markdown(table: pd.DataFrame) -> str:
    """Blocks of dataset x embedding: each metric as 'mean [lo, hi]' (best mean in bold), the
    embedding diagnostics, and the two bio-conservation aggregates side by side."""
    table = table.assign(column=[_embedding_label(m, v) for m, v in zip(table["model"], table["view"], strict=True)])
    parts = []
    for metric in SCIB_METRICS:
        shown = table.assign(text=[estimate_text(m, lo, hi) for m, lo, hi in
                                   zip(table[f"{metric}_mean"], table[f"{metric}_lo"], table[f"{metric}_hi"],
                                       strict=True)])
        wide = shown.pivot(index="dataset", columns="column", values="text")
        means = table.pivot(index="dataset", columns="column", values=f"{metric}_mean")[wide.columns]
        bold = means.eq(means.max(axis=1), axis=0).reset_index(drop=True).assign(dataset=False)
        parts.append(f"### {metric}\n\n" + markdown_table(wide.reset_index(), bold))
    diag = table.assign(text=[f"{n:g} ({p:.0%})" for n, p in zip(table["n_pcs_median"], table["pc1_share_median"],
                                                                 strict=True)])
    parts.append("### components kept at 95 % variance (PC1's share of the variance), median over seeds\n\n"
                 + markdown_table(diag.pivot(index="dataset", columns="column", values="text").reset_index()))
    if "benchmarker_bio_conservation_mean" in table:
        agg = table.assign(text=[f"{a:.4f} / {b:.4f}" for a, b in zip(table["bio_conservation_mean"],
                                                                      table["benchmarker_bio_conservation_mean"],
                                                                      strict=True)])
        parts.append("### bio conservation: the paper's mean (NMI, ARI, silhouette) / scib-metrics' "
                     "Benchmarker default aggregate, mean over seeds\n\n"
                     + markdown_table(agg.pivot(index="dataset", columns="column", values="text").reset_index()))
    return "\n".join(parts)


def mmd_table(mmd: pd.DataFrame, level: float = LEVEL) -> pd.DataFrame:
    """Per dataset and embedding (model, view): the cell-type separation (mean pairwise MMD²) as
    mean and 95 % t-interval over seeds. The comparison of the arms (per-dataset relative change,
    then the mean over datasets) is in the claim-1 table."""
    mmd = with_embedding_columns(mmd).rename(columns={"mmd2_mean": "separation"})
    return arm_summary(mmd, value="separation", keys=["dataset", "model", "view"], level=level)


def mmd_markdown(table: pd.DataFrame) -> str:
    shown = table.assign(column=[_embedding_label(m, v) for m, v in zip(table["model"], table["view"], strict=True)],
                         text=[estimate_text(m, lo, hi) for m, lo, hi in
                               zip(table["separation_mean"], table["separation_lo"], table["separation_hi"],
                                   strict=True)])
    return markdown_table(shown.pivot(index="dataset", columns="column", values="text").reset_index())


#: why an eval dataset scored with its PCA baseline alone has no model scores, and how to get them
NO_MODEL_REASON = (
    "no model embeddings: PCA baseline only. The models' scores need a GPU to train (or train.cpu for the "
    "tiny test model), or the trained runs' checkpoints in config train.checkpoints ({run}/last.pt, as a "
    "GPU machine writes them under <results>/checkpoints or experiments main --checkpoint-root)")


def datasets_not_evaluated(summary: pd.DataFrame, scores: pd.DataFrame | None = None) -> pd.DataFrame:
    """The eval datasets left out of the model comparison, with the reason (columns dataset,
    reason): each whose data check failed (``summary``: the dataset summary of data_stats, its
    role/status/reason columns), and each whose ``scores`` (per-dataset scores with an
    ``embedding`` or a ``model`` column) hold the PCA baseline only."""
    evals = summary[summary["role"] == "eval"]
    rows = [(d, f"data check failed: {r}") for d, st, r in
            zip(evals["dataset"], evals["status"], evals["reason"], strict=True) if st != "ok"]
    if scores is not None and not scores.empty:
        models = scores["model"] if "model" in scores else with_embedding_columns(scores)["model"]
        per = models.groupby(scores["dataset"]).agg(set)
        rows += [(d, NO_MODEL_REASON) for d, m in per.items() if m <= {BASELINE_MODEL}]
    return pd.DataFrame(rows, columns=["dataset", "reason"])


def not_evaluated_markdown(table: pd.DataFrame) -> str:
    """The 'datasets not evaluated' section of a Markdown table ('' when every dataset was)."""
    return "" if table.empty else "\n\n### datasets not evaluated\n\n" + markdown_table(table)


def add_provenance(df: pd.DataFrame) -> pd.DataFrame:
    """The result table with the provenance columns (device, torch, triton, commit, date)."""
    from scsigmoid.provenance import provenance

    return df.assign(**provenance())


def concat_csvs(paths, **extra) -> pd.DataFrame:
    """Concatenate CSV files (e.g. per-dataset results into one table)."""
    return pd.concat([pd.read_csv(p) for p in paths], ignore_index=True).assign(**extra)


def read_scores(paths) -> pd.DataFrame:
    """Per-dataset score CSVs as one table, without their provenance columns."""
    if not paths:
        raise ValueError("no eval dataset to tabulate: every one failed its data check; "
                         "table_datasets lists the reasons.")
    return concat_csvs(paths).drop(columns=list(PROVENANCE_COLUMNS), errors="ignore")


def write_scores(table: pd.DataFrame, path, *, replicates: list[pd.DataFrame] | None = None,
                 bootstrap_path=None) -> None:
    """One dataset's scores per embedding, with model/view/seed and provenance columns; with
    ``bootstrap_path`` also the cell-bootstrap ``replicates`` (header only when there are none)."""
    write_csv(add_provenance(with_embedding_columns(table)), path)
    if bootstrap_path is not None:
        boot = (pd.concat(replicates, ignore_index=True) if replicates
                else pd.DataFrame(columns=["dataset", "embedding", "replicate"]))
        write_csv(add_provenance(with_embedding_columns(boot) if len(boot) else boot), bootstrap_path)


def write_paper_table(tidy: pd.DataFrame, markdown: str, csv_path, md_path, *, title: str, scale: str,
                      note: str) -> None:
    """A paper table: the tidy CSV with provenance, and its Markdown under ``title`` with a note that
    starts with the scale of the runs behind it."""
    write_csv(add_provenance(tidy), csv_path)
    write_markdown(markdown, md_path, title=title, note=f"Scale: {scale}. {note}")


def write_eval_table(sm, tidy: pd.DataFrame, markdown: str, scores: pd.DataFrame, *, title: str) -> None:
    """An evaluation table of a Snakemake script (``sm``: its snakemake object, with inputs
    ``summary`` and ``runs``, params ``context`` and ``note``, outputs ``csv`` and ``md``): the
    Markdown followed by the eval datasets ``scores`` leave out, the scale of the runs at the
    evaluation context in the note."""
    from scsigmoid.evaluate.scale import scale_text

    left_out = datasets_not_evaluated(pd.read_csv(sm.input.summary), scores)
    write_paper_table(tidy, markdown + not_evaluated_markdown(left_out), sm.output.csv,
                      sm.output.md, scale=scale_text(pd.read_csv(sm.input.runs), sm.params.context),
                      title=title, note=sm.params.note)
