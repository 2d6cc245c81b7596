"""Speedup table: our kernels (each variant, and the best bias-0 variant per point) against
every baseline measured at the same point, as baseline time / our time (>1 = ours faster)."""

from __future__ import annotations

import pandas as pd

from scsigmoid.bench.reference import with_reference
from scsigmoid.io import markdown_table

OUR_BEST_OF = ("ours_dense", "ours_padded", "ours_varlen")  # the benchmark protocol's bias 0
OUR_VARIANTS = OUR_BEST_OF + ("ours_dense_trainbias",)
NOT_COMPARED = ("ours_dense_causal",)  # different work (half the scores); reported in the CSV only
POINT = ["pass", "head_dim", "padding_pct", "seq_len"]
SPEEDUP_COLUMNS = POINT + ["ours", "ours_impl", "baseline", "ours_ms", "baseline_ms", "speedup"]


def speedup_table(results: pd.DataFrame, reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """Long table, one row per (point, ours entry, baseline). ``reference`` rows (e.g. external
    FlashSigmoid) join as baselines named '<impl>_ref' where that impl has no ok row here."""
    missing = [c for c in POINT + ["impl", "ms_median", "status"] if c not in results.columns]
    if missing:
        raise ValueError(f"benchmark table lacks columns {missing}; is it attention_<device>.csv?")
    joined = with_reference(results, reference)
    ok = joined[(joined["status"] == "ok") & joined["ms_median"].gt(0)]
    ours = ok[ok["impl"].isin(OUR_VARIANTS)][POINT + ["impl", "ms_median"]]
    best = (ours[ours["impl"].isin(OUR_BEST_OF)].sort_values("ms_median")
            .groupby(POINT, as_index=False).first())
    best = best.assign(ours="ours_best")
    ours = pd.concat([best, ours.assign(ours=ours["impl"])], ignore_index=True)
    ours = ours.rename(columns={"impl": "ours_impl", "ms_median": "ours_ms"})
    baselines = ok[~ok["impl"].str.startswith("ours_")][POINT + ["impl", "ms_median"]]
    baselines = baselines[~baselines["impl"].isin(NOT_COMPARED)]
    baselines = baselines.rename(columns={"impl": "baseline", "ms_median": "baseline_ms"})
    table = ours.merge(baselines, on=POINT, how="inner")
    table["speedup"] = table["baseline_ms"] / table["ours_ms"]
    return table[SPEEDUP_COLUMNS].sort_values(POINT + ["ours", "baseline"]).reset_index(drop=True)


def speedup_markdown(table: pd.DataFrame) -> str:
    """Best-of-ours speedup per point (rows) against each baseline (columns)."""
    best = table[table["ours"] == "ours_best"]
    if best.empty:
        return "No point has both an ok measurement of ours and of a baseline.\n"
    wide = best.pivot_table(index=POINT, columns="baseline", values="speedup").reset_index()
    note = ("\nSpeedup = baseline median time / best of ours (dense, padded, varlen; bias 0) at "
            "the same point; >1 means ours is faster. '_ref' baselines are external "
            "measurements (reference/).\n")
    return markdown_table(wide, floatfmt="{:.2f}x") + note
