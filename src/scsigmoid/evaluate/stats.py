"""Intervals for the paired comparison sigmoid − softmax (claim 1).

What varies, and how each source enters an interval:

- **Training seeds.** Run ``{size}_{context}_{attention}_s{seed}`` of both arms share their
  initial weights and data order, so the two arms are *paired by seed*. For every metric and
  dataset the per-seed effect is ``e_s = m(sigmoid_s) − m(softmax_s)`` (or the relative change
  ``(m(sigmoid_s) − m(softmax_s)) / |m(softmax_s)|``, the one MMD definition). The seed interval
  is the Student-t interval of the mean of ``e_s``: ``mean ± t(0.975, n − 1) · sd / √n``.
  Fewer than two seeds give no interval (NaN bounds).
- **Cells (scIB and MMD only).** The evaluation cells of a dataset are a sample too. A bootstrap
  replicate ``b`` draws the dataset's cells with replacement (MMD: within each cell type) and
  recomputes the metric of every embedding on the *same* draw (clusterings, bandwidths and
  per-cell silhouettes stay those of the full data: the bootstrap measures the sampling noise of
  the score, not of the clustering). The replicate's effect is ``E_b = mean_s e_s^(b)``; the cell
  half-width is half the width of the central 95 % percentile interval of ``E_b``.
- **Combination.** The two half-widths add in quadrature around the seed mean:
  ``mean ± sqrt(h_seed² + h_cell²)``. This treats the sources as independent and is slightly
  conservative (the seed spread already holds the part of the cell noise that differs by seed).
- **Across datasets.** The claim's row averages the per-dataset effects: per seed
  ``ē_s = mean_d e_{s,d}`` (seeds present for every dataset), t-interval over ``ē_s``; per
  replicate ``mean_d E_{b,d}`` (datasets' replicates are independent draws) for the cell part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as _scipy_stats

LEVEL = 0.95
TREATMENT, CONTROL = "sigmoid", "softmax"
ALL_DATASETS = "mean over datasets"


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided interval and the number of values behind it."""

    estimate: float
    lo: float
    hi: float
    n: int

    @property
    def halfwidth(self) -> float:
        return (self.hi - self.lo) / 2

    @property
    def finite(self) -> bool:
        return bool(np.isfinite(self.lo) and np.isfinite(self.hi))


def t_interval(values, level: float = LEVEL) -> Interval:
    """Mean and Student-t interval of the finite ``values`` (n < 2: NaN bounds)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    mean = float(x.mean())
    if n < 2:
        return Interval(mean, float("nan"), float("nan"), n)
    half = float(_scipy_stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / np.sqrt(n))
    return Interval(mean, mean - half, mean + half, n)


def percentile_halfwidth(replicates, level: float = LEVEL) -> float:
    """Half the width of the central ``level`` percentile interval of bootstrap replicates
    (NaN without at least two finite replicates)."""
    x = np.asarray(replicates, dtype=np.float64)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return float("nan")
    lo, hi = np.quantile(x, [0.5 - level / 2, 0.5 + level / 2])
    return float(hi - lo) / 2


def combine(seed: Interval, cell_halfwidth: float | None) -> Interval:
    """The seed interval widened by the cell-bootstrap half-width, in quadrature (a missing or NaN
    cell half-width leaves the seed interval as it is)."""
    if cell_halfwidth is None or not np.isfinite(cell_halfwidth) or not seed.finite:
        return seed
    half = float(np.hypot(seed.halfwidth, cell_halfwidth))
    return Interval(seed.estimate, seed.estimate - half, seed.estimate + half, seed.n)


def effect(treatment, control, relative: bool = False):
    """treatment − control, or the relative change (treatment − control) / |control| (NaN where
    control is 0 or missing). Works elementwise on arrays and Series."""
    t = np.asarray(treatment, dtype=np.float64)
    c = np.asarray(control, dtype=np.float64)
    if not relative:
        return t - c
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (t - c) / np.abs(c)
    return np.where(np.isfinite(c) & (c != 0), out, np.nan)


def paired_effects(values: pd.DataFrame, *, value: str, keys: list[str], relative: bool = False,
                   arm: str = "attention", pair: str = "seed") -> pd.DataFrame:
    """Per ``keys`` + ``pair``: the two arms' values and their effect (treatment − control or the
    relative change). Only pairs measured in both arms are kept.

    ``values``: long table with columns ``keys``, ``arm`` (sigmoid | softmax), ``pair``, ``value``.
    Returns columns ``keys``, ``pair``, softmax, sigmoid, effect.
    """
    missing = {*keys, arm, pair, value} - set(values.columns)
    if missing:
        raise ValueError(f"paired_effects: missing column(s) {sorted(missing)} among {list(values.columns)}.")
    dup = values.duplicated([*keys, arm, pair])
    if dup.any():
        raise ValueError(f"paired_effects: {int(dup.sum())} duplicated ({', '.join([*keys, arm, pair])}) "
                         "rows; one value per arm and seed is expected.")
    wide = values.pivot(index=[*keys, pair], columns=arm, values=value)
    for side in (TREATMENT, CONTROL):
        if side not in wide:
            wide[side] = np.nan
    wide = wide[[CONTROL, TREATMENT]].dropna().reset_index()
    wide.columns.name = None
    wide["effect"] = effect(wide[TREATMENT], wide[CONTROL], relative)
    return wide


def _cell_halfwidth(boot_effects: pd.DataFrame | None, level: float) -> float:
    """``boot_effects``: columns replicate, effect (one row per replicate and seed [and
    dataset]); the mean over the other rows of each replicate, then the percentile half-width."""
    if boot_effects is None or boot_effects.empty:
        return float("nan")
    per_rep = boot_effects.groupby("replicate")["effect"].mean()
    return percentile_halfwidth(per_rep.to_numpy(), level)


def paired_summary(values: pd.DataFrame, *, value: str, relative: bool = False,
                   boot: pd.DataFrame | None = None, dataset: str = "dataset",
                   mean_over: list[str] | None = None, level: float = LEVEL) -> pd.DataFrame:
    """Per dataset and for the mean over datasets: each arm's mean over seeds, the paired effect
    with its seed interval, the cell-bootstrap half-width and the combined interval.

    ``values``: columns ``dataset``, attention, seed, ``value`` (one row per run and dataset).
    ``boot`` (optional): the same columns plus ``replicate`` (bootstrap replicates of ``value``).
    ``mean_over`` names the datasets the last row averages (default: all).
    Returns one row per dataset and a last row ``dataset == ALL_DATASETS`` with columns
    dataset, n_seeds, n_datasets, softmax_mean, sigmoid_mean, effect, seed_lo, seed_hi,
    cell_halfwidth, lo, hi.
    """
    per = paired_effects(values, value=value, keys=[dataset], relative=relative)
    bper = None
    if boot is not None and not boot.empty:
        if "replicate" not in boot:
            raise ValueError("paired_summary: the bootstrap table needs a 'replicate' column.")
        bper = paired_effects(boot, value=value, keys=[dataset, "replicate"], relative=relative)
    rows = []
    for name, part in per.groupby(dataset, sort=True):
        seed_iv = t_interval(part["effect"], level)
        cell = _cell_halfwidth(None if bper is None else bper[bper[dataset] == name], level)
        rows.append(_summary_row(name, part, seed_iv, cell, 1))
    # mean over datasets: seeds measured for every dataset
    if mean_over is not None:
        per = per[per[dataset].isin(mean_over)]
        bper = None if bper is None else bper[bper[dataset].isin(mean_over)]
    n_sets = per[dataset].nunique()
    counts = per.groupby("seed")[dataset].nunique()
    common = counts.index[counts == n_sets]
    both = per[per["seed"].isin(common)]
    per_seed = both.groupby("seed")["effect"].mean()
    seed_iv = t_interval(per_seed.to_numpy(), level)
    cell = float("nan")
    if bper is not None:
        b = bper[bper["seed"].isin(common)]
        cell = _cell_halfwidth(b.groupby([dataset, "replicate"], as_index=False)["effect"].mean(), level)
    rows.append(_summary_row(ALL_DATASETS, both, seed_iv, cell, n_sets))
    return pd.DataFrame(rows)


def _summary_row(name, part: pd.DataFrame, seed_iv: Interval, cell: float, n_sets: int) -> dict:
    total = combine(seed_iv, cell)
    return {"dataset": name, "n_seeds": int(part["seed"].nunique()), "n_datasets": n_sets,
            "softmax_mean": float(part[CONTROL].mean()), "sigmoid_mean": float(part[TREATMENT].mean()),
            "effect": seed_iv.estimate, "seed_lo": seed_iv.lo, "seed_hi": seed_iv.hi,
            "cell_halfwidth": cell, "lo": total.lo, "hi": total.hi}


def arm_summary(values: pd.DataFrame, *, value: str, keys: list[str], level: float = LEVEL) -> pd.DataFrame:
    """Per ``keys``: mean over seeds of ``value`` with its t-interval. Columns ``keys``, n_seeds,
    {value}_mean, {value}_lo, {value}_hi."""
    rows = []
    for key, part in values.groupby(keys, sort=True, dropna=False):
        iv = t_interval(part[value], level)
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(keys, key, strict=True)), "n_seeds": iv.n,
                     f"{value}_mean": iv.estimate, f"{value}_lo": iv.lo, f"{value}_hi": iv.hi})
    return pd.DataFrame(rows)


def format_interval(lo: float, hi: float, fmt: str = "{:+.3f}") -> str:
    """'[lo, hi]' (empty when either bound is missing)."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return ""
    return f"[{fmt.format(lo)}, {fmt.format(hi)}]"
