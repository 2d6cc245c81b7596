"""Claim 1 (better models): every measurable part as a paired effect sigmoid − softmax with its
95 % interval and a verdict from :func:`scsigmoid.evaluate.verdicts.interval_verdict`.

Parts and their effect (per seed, then the mean over seeds; the row of the claim is the mean over
datasets, see :mod:`scsigmoid.evaluate.stats`):
- cell-type separation: the per-dataset RELATIVE change of the mean pairwise MMD² between cell
  types, (sigmoid − softmax) / |softmax|, then the mean over datasets (the one MMD definition; a
  ratio of across-dataset means is not used anywhere). Cell bootstrap included.
- scIB Leiden NMI, Leiden ARI, silhouette label, bio conservation (their mean, the paper's
  aggregate): difference sigmoid − softmax. Cell bootstrap included.
- scib-metrics' Benchmarker default bio-conservation aggregate (supplement): difference; no
  bootstrap (the Benchmarker is run once per embedding).
- validation masked-LM loss per context: difference in nats (lower is better), each run's loss
  the mean over the masking seeds; the mean over datasets leaves out the pretraining pool's own
  validation split (``pretrain_val``, shown per dataset).
All parts use the mean-pool embeddings (the CLS view is in the scIB and MMD tables only).

'untestable here' (reason given) when fewer than ``min_seeds`` seeds are paired, or for the
embedding parts when the embeddings cannot decide: the model embeddings' median components kept
at 95 % variance is below ``min_pcs``, or the better arm reaches ``nmi_vs_baseline`` × the PCA
baseline's Leiden NMI on fewer than ``datasets_share`` of the datasets; and for every part of a
context whose two arms trained on unequal budgets (:func:`budget_gap`: tokens seen, the median over
seeds or any paired seed, more than ``max_budget_gap`` apart), since a longer-trained arm wins by
training, not by its attention.
"""

from __future__ import annotations

import math

import pandas as pd

from scsigmoid.evaluate.embeddings import BASELINE_MODEL
from scsigmoid.evaluate.scale import contexts_without_runs
from scsigmoid.evaluate.stats import ALL_DATASETS, CONTROL, LEVEL, TREATMENT, paired_summary
from scsigmoid.evaluate.tables import BENCHMARKER_BIO, per_run_val_loss, with_embedding_columns
from scsigmoid.evaluate.verdicts import UNTESTABLE, interval_verdict

PRETRAIN_VAL = "pretrain_val"
VIEW = "mean"
USABLE_DEFAULTS = {"min_pcs": 10, "nmi_vs_baseline": 0.5, "datasets_share": 0.66}  # config evaluate.usable
SCIB_PARTS = (("nmi", "scIB Leiden NMI"), ("ari", "scIB Leiden ARI"),
              ("silhouette_label", "scIB silhouette label"), ("bio_conservation", "scIB bio conservation"))
COLUMNS = ("part", "metric", "effect_kind", "direction", "context", "dataset", "n_seeds", "n_datasets",
           "softmax_mean", "sigmoid_mean", "effect", "seed_lo", "seed_hi", "cell_halfwidth", "lo", "hi",
           "verdict", "reason")


def _arms(df: pd.DataFrame) -> pd.DataFrame:
    """Mean-pool rows of the two arms, with the arm in ``attention``."""
    df = with_embedding_columns(df)
    part = df[df["model"].isin([CONTROL, TREATMENT]) & (df["view"] == VIEW)]
    if part["seed"].isna().any():
        raise ValueError("model embeddings without a training seed (keys X_<attention>_<view>); the runs "
                         "must be named <size>_<context>_<attention>_s<seed>.")
    return part.rename(columns={"model": "attention"}).assign(seed=lambda d: d["seed"].astype(int))


def usability(scores: pd.DataFrame, *, min_pcs: float, nmi_vs_baseline: float,
              datasets_share: float) -> tuple[str | None, str]:
    """(None or the reason the embeddings cannot decide, a one-line diagnostic) from the per-run
    scIB scores (columns dataset, embedding or model/view/seed, n_pcs, pc1_share, nmi)."""
    scores = with_embedding_columns(scores)
    arms = _arms(scores)
    if arms.empty:
        return "no model embeddings scored", ""
    pcs, pc1 = float(arms["n_pcs"].median()), float(arms["pc1_share"].median())
    diag = f"median {pcs:g} PCA components kept at 95 % variance, PC1 {pc1:.0%} of the variance"
    if pcs < min_pcs:
        return f"embeddings degenerate: {diag} (fewer than {min_pcs:g} components)", diag
    base = scores[scores["model"] == BASELINE_MODEL].groupby("dataset")["nmi"].mean()
    better = arms.groupby(["dataset", "attention"])["nmi"].mean().groupby("dataset").max()
    both = pd.concat([better, base], axis=1, keys=["better", "base"]).dropna()
    if both.empty:
        return None, diag
    ok = int((both["better"] >= nmi_vs_baseline * both["base"]).sum())
    need = math.ceil(datasets_share * len(both) - 1e-9)
    diag += f"; better arm ≥ {nmi_vs_baseline:g}× the PCA baseline's Leiden NMI on {ok}/{len(both)} datasets"
    if ok < need:
        return (f"embeddings carry little cell-type signal: {diag} (needs {need})", diag)
    return None, diag


def budget_gap(runs: pd.DataFrame, context: int, max_gap: float) -> str | None:
    """Why the arms at ``context`` are not comparable by training budget (None when they are):
    ``runs`` has one row per run (attention, context, seed, tokens_seen, steps_done, stop_reason);
    the arms' medians of tokens seen, or any seed's pair, more than ``max_gap`` apart. A run that
    stopped because its validation loss stopped improving (``patience``) had the budget it could
    use: it is left out of the comparison (a shorter budget is then not what holds it back)."""
    part = runs[runs["context"].astype(int) == int(context)]
    part = part[part["attention"].isin([CONTROL, TREATMENT])]
    part = part[part["stop_reason"].astype(str) != "patience"]
    tokens = pd.to_numeric(part["tokens_seen"], errors="coerce")
    if part.empty or tokens.isna().any():
        return None  # nothing recorded to compare (runs that predate tokens_seen)
    by = part.assign(tokens=tokens).pivot_table(index="seed", columns="attention", values="tokens")
    med = by.median()
    if len(med) < 2:
        return None

    def gap(a, b):
        return abs(a - b) / min(a, b)

    worst = max((gap(r[CONTROL], r[TREATMENT]) for _, r in by.dropna().iterrows()), default=0.0)
    if gap(med[CONTROL], med[TREATMENT]) <= max_gap and worst <= max_gap:
        return None
    steps = part.groupby("attention")["steps_done"].median()
    stops = ", ".join(sorted(set(part["stop_reason"].dropna().astype(str))))
    return (f"unequal training budgets at context {context}: tokens seen (median) softmax "
            f"{med[CONTROL] / 1e6:.0f}M / sigmoid {med[TREATMENT] / 1e6:.0f}M, steps {steps.get(CONTROL, float('nan')):.0f} / "
            f"{steps.get(TREATMENT, float('nan')):.0f}, worst paired seed {worst:.0%} apart (rule: within "
            f"{max_gap:.0%}; stop reasons: {stops})")


def _rows(summary: pd.DataFrame, *, part: str, metric: str, relative: bool, direction: int, context,
          min_seeds: int, untestable: dict[str, str | None]) -> list[dict]:
    rows = []
    for rec in summary.to_dict("records"):
        reason = untestable.get(rec["dataset"], untestable.get(ALL_DATASETS))
        if rec["n_seeds"] < min_seeds:
            reason = f"fewer than {min_seeds} seeds per arm ({rec['n_seeds']} paired)"
        verdict = UNTESTABLE if reason else interval_verdict(rec["lo"], rec["hi"], direction)
        if verdict == UNTESTABLE and not reason:
            reason = "no interval"
        rows.append({"part": part, "metric": metric, "effect_kind": "relative change" if relative else "difference",
                     "direction": direction, "context": context, **rec, "verdict": verdict, "reason": reason or ""})
    return rows


def _per_dataset_usability(scores: pd.DataFrame, usable: dict) -> dict[str, str | None]:
    out = {ALL_DATASETS: usability(scores, **usable)[0]}
    for name, part in with_embedding_columns(scores).groupby("dataset"):
        out[name] = usability(part, **usable)[0]
    return out


def claim1_table(*, context: int, scib: pd.DataFrame | None = None, scib_boot: pd.DataFrame | None = None,
                 mmd: pd.DataFrame | None = None, mmd_boot: pd.DataFrame | None = None,
                 benchmarker: pd.DataFrame | None = None, val_losses: pd.DataFrame | None = None,
                 min_seeds: int = 3, usable: dict | None = None, level: float = LEVEL,
                 runs: pd.DataFrame | None = None, max_budget_gap: float = 0.05,
                 contexts=()) -> pd.DataFrame:
    """The claim-1 table: one row per part x dataset and per part for the mean over datasets
    (``dataset == 'mean over datasets'``). ``scib``/``mmd`` (+ ``_boot``): the per-dataset CSVs
    of eval_scib / eval_mmd concatenated; ``benchmarker``: eval_benchmarker's long tables;
    ``val_losses``: :func:`scsigmoid.evaluate.tables.read_val_losses`. ``context`` is the
    evaluation context of the embeddings; ``runs`` (one row per run, :func:`budget_gap`) gates each
    context on equal training budgets. ``contexts``: the contexts the configuration trains
    (train.contexts); one without runs gets an 'untestable here' validation-loss row saying so."""

    def budget(ctx):
        return None if runs is None else budget_gap(runs, ctx, max_budget_gap)

    usable = {**USABLE_DEFAULTS, **(usable or {})}
    # no cell bootstrap (evaluate.bootstrap 0): the replicate tables hold no rows
    scib_boot, mmd_boot = (None if b is None or b.empty else b for b in (scib_boot, mmd_boot))
    gate = {ALL_DATASETS: "no scIB scores to judge the embeddings by"}
    if scib is not None:
        gate = _per_dataset_usability(scib, usable)
    if budget(context):  # unequal budgets come first; the embeddings' own gate, if any, follows
        gate = {k: "; ".join(r for r in (budget(context), gate.get(k)) if r)
                for k in {ALL_DATASETS, *gate}}
    kw = {"min_seeds": min_seeds, "context": context, "untestable": gate}
    rows = []
    if mmd is not None:
        values = _arms(mmd).rename(columns={"mmd2_mean": "separation"})
        boot = None if mmd_boot is None else _arms(mmd_boot).rename(columns={"mmd2_mean": "separation"})
        summary = paired_summary(values, value="separation", relative=True, boot=boot, level=level)
        rows += _rows(summary, part="cell-type separation (mean pairwise RBF MMD², mean-pool)",
                      metric="separation", relative=True, direction=1, **kw)
    if scib is not None:
        values = _arms(scib)
        boot = None if scib_boot is None else _arms(scib_boot)
        for metric, label in SCIB_PARTS:
            b = None if boot is None else boot[["dataset", "attention", "seed", "replicate", metric]]
            summary = paired_summary(values[["dataset", "attention", "seed", metric]], value=metric, boot=b,
                                     level=level)
            rows += _rows(summary, part=f"{label} (PCA 95 %)", metric=metric, relative=False, direction=1, **kw)
    if benchmarker is not None:
        agg = _arms(benchmarker[benchmarker["metric"] == BENCHMARKER_BIO])
        if not agg.empty:
            summary = paired_summary(agg[["dataset", "attention", "seed", "value"]], value="value", level=level)
            rows += _rows(summary, part="bio conservation, scib-metrics' Benchmarker default aggregate (supplement)",
                          metric="benchmarker_bio_conservation", relative=False, direction=1, **kw)
    if val_losses is not None:
        per = per_run_val_loss(val_losses)
        for ctx, part in per.groupby("context"):
            summary = paired_summary(part, value="loss", mean_over=sorted(set(part["dataset"]) - {PRETRAIN_VAL}),
                                     level=level)
            rows += _rows(summary, part=f"validation masked-LM loss, context {ctx}", metric="loss",
                          relative=False, direction=-1, min_seeds=min_seeds, context=int(ctx),
                          untestable={ALL_DATASETS: budget(ctx)} if budget(ctx) else {})
        for ctx in contexts_without_runs(contexts, per["context"]):
            rows.append({"part": f"validation masked-LM loss, context {ctx}", "metric": "loss",
                         "effect_kind": "difference", "direction": -1, "context": ctx, "dataset": ALL_DATASETS,
                         "n_seeds": 0, "verdict": UNTESTABLE,
                         "reason": f"no runs at context {ctx} (train.contexts asks for them; gpu/README.md)"})
    return pd.DataFrame(rows, columns=list(COLUMNS)).assign(
        n_datasets=lambda d: d["n_datasets"].astype("Int64"))


def summary_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of the claim (mean over datasets), in table order."""
    return table[table["dataset"] == ALL_DATASETS].reset_index(drop=True)
