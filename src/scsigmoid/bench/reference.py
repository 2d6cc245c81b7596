"""External baseline measurements (reference/*.csv, e.g. FlashSigmoid measured outside the suite)
joined to our benchmark table, for the figures, the speedup table and the scorecard alike."""

from __future__ import annotations

import pandas as pd

#: do_bench warm-up / rep (ms) of the external files that do not record them: every file in
#: reference/ so far was measured with the paper's 100 / 250 (reference/README.md).
REFERENCE_TIMING = (100.0, 250.0)


def with_reference(measured: pd.DataFrame, reference: pd.DataFrame | None) -> pd.DataFrame:
    """``measured`` plus the ok rows of ``reference`` for every implementation that has no ok row
    in ``measured``, renamed '<impl>_ref' (columns the reference lacks are left empty, but for
    warmup_ms/rep_ms: REFERENCE_TIMING)."""
    if reference is None:
        return measured
    have = set(measured.loc[measured["status"] == "ok", "impl"])
    ref = reference[(reference["status"] == "ok") & ~reference["impl"].isin(have)].copy()
    if ref.empty:
        return measured
    ref["impl"] = ref["impl"] + "_ref"
    for column, value in zip(("warmup_ms", "rep_ms"), REFERENCE_TIMING, strict=True):
        if column not in ref.columns:
            ref[column] = value
    return pd.concat([measured, ref.reindex(columns=measured.columns)], ignore_index=True)
