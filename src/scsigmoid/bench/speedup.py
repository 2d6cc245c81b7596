"""Speedup table: our kernels (each variant, and the best bias-0 variant per point) against
every baseline measured at the same point, as baseline time / our time (>1 = ours faster)."""

from __future__ import annotations

import pandas as pd

from scsigmoid.bench.reference import with_reference
from scsigmoid.bench.timing import row_timing, select_timing
from scsigmoid.io import markdown_table

OUR_BEST_OF = ("ours_dense", "ours_padded", "ours_varlen")  # the benchmark protocol's bias 0
OUR_VARIANTS = OUR_BEST_OF + ("ours_dense_trainbias",)
NOT_COMPARED = ("ours_dense_causal",)  # different work (half the scores); reported in the CSV only
POINT = ["pass", "head_dim", "padding_pct", "seq_len"]
SPEEDUP_COLUMNS = POINT + ["ours", "ours_impl", "baseline", "ours_ms", "baseline_ms", "speedup",
                           "ours_timing", "baseline_timing"]


def speedup_table(results: pd.DataFrame, reference: pd.DataFrame | None = None,
                  timing: str | None = None) -> pd.DataFrame:
    """Long table, one row per (point, ours entry, baseline). ``reference`` rows (e.g. external
    FlashSigmoid) join as baselines named '<impl>_ref' where that impl has no ok row here.
    ``timing``: which do_bench settings to use when the rows carry several (bench.timing
    .select_timing; an error otherwise); each row names the settings of both sides."""
    missing = [c for c in POINT + ["impl", "ms_median", "status"] if c not in results.columns]
    if missing:
        raise ValueError(f"benchmark table lacks columns {missing}; is it attention_<device>.csv?")
    joined, _ = select_timing(with_reference(results, reference), timing)
    joined = joined.assign(timing=row_timing(joined))
    ok = joined[(joined["status"] == "ok") & joined["ms_median"].gt(0)]
    ours = ok[ok["impl"].isin(OUR_VARIANTS)][POINT + ["impl", "ms_median", "timing"]]
    best = (ours[ours["impl"].isin(OUR_BEST_OF)].sort_values("ms_median")
            .groupby(POINT, as_index=False).first())
    best = best.assign(ours="ours_best")
    ours = pd.concat([best, ours.assign(ours=ours["impl"])], ignore_index=True)
    ours = ours.rename(columns={"impl": "ours_impl", "ms_median": "ours_ms", "timing": "ours_timing"})
    baselines = ok[~ok["impl"].str.startswith("ours_")][POINT + ["impl", "ms_median", "timing"]]
    baselines = baselines[~baselines["impl"].isin(NOT_COMPARED)]
    baselines = baselines.rename(columns={"impl": "baseline", "ms_median": "baseline_ms",
                                          "timing": "baseline_timing"})
    table = ours.merge(baselines, on=POINT, how="inner")
    table["speedup"] = table["baseline_ms"] / table["ours_ms"]
    return table[SPEEDUP_COLUMNS].sort_values(POINT + ["ours", "baseline"]).reset_index(drop=True)


def speedup_markdown(table: pd.DataFrame, left_out: str = "") -> str:
    """Best-of-ours speedup per point (rows) against each baseline (columns); ``left_out``: why
    an external reference is not among them (reference.other_device), said under the table."""
    best = table[table["ours"] == "ours_best"]
    if best.empty:
        return "No point has both an ok measurement of ours and of a baseline.\n"
    wide = best.pivot_table(index=POINT, columns="baseline", values="speedup").reset_index()
    mixed = best[best["ours_timing"] != best["baseline_timing"]]
    marked = set(zip(*(mixed[c] for c in POINT + ["baseline"]), strict=True))
    shown = wide.copy().astype(object)
    for i, row in wide.iterrows():
        point = tuple(row[c] for c in POINT)
        for c in wide.columns:
            if c not in POINT:
                shown.at[i, c] = "" if pd.isna(row[c]) else (
                    f"{row[c]:.2f}x" + ("*" if (*point, c) in marked else ""))
    settings = sorted(set(best["ours_timing"]) | set(best["baseline_timing"]))
    note = ("\nSpeedup = baseline median time / best of ours (dense, padded, varlen; bias 0) at "
            "the same point; >1 means ours is faster. '_ref' baselines are external "
            f"measurements (reference/). do_bench warm-up/rep (ms): {', '.join(settings)}"
            + ("; * = the two sides were timed with different settings" if marked else "") + ".\n")
    if left_out:
        note += f"External reference left out: {left_out}.\n"
    return markdown_table(shown) + note
