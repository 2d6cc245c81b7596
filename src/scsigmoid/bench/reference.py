"""External baseline measurements (reference/*.csv, e.g. FlashSigmoid measured outside the suite)
joined to our benchmark table, for the figures, the speedup table and the scorecard alike."""

from __future__ import annotations

import pandas as pd


def with_reference(measured: pd.DataFrame, reference: pd.DataFrame | None) -> pd.DataFrame:
    """``measured`` plus the ok rows of ``reference`` for every implementation that has no ok row
    in ``measured``, renamed '<impl>_ref' (columns the reference lacks are left empty)."""
    if reference is None:
        return measured
    have = set(measured.loc[measured["status"] == "ok", "impl"])
    ref = reference[(reference["status"] == "ok") & ~reference["impl"].isin(have)].copy()
    if ref.empty:
        return measured
    ref["impl"] = ref["impl"] + "_ref"
    return pd.concat([measured, ref.reindex(columns=measured.columns)], ignore_index=True)
