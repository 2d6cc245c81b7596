"""External baseline measurements (reference/*.csv, e.g. FlashSigmoid measured outside the suite)
joined to our benchmark table, for the figures, the speedup table and the scorecard alike."""

from __future__ import annotations

import pandas as pd

from scsigmoid.provenance import device_slug

#: do_bench warm-up / rep (ms) of the external files that do not record them: every file in
#: reference/ so far was measured with the paper's 100 / 250 (reference/README.md).
REFERENCE_TIMING = (100.0, 250.0)


def _devices(df: pd.DataFrame) -> set[str]:
    """File-name tags of the devices a table's ok rows name (empty when it names none)."""
    if "device" not in df.columns:
        return set()
    ok = df[df["status"] == "ok"] if "status" in df.columns else df
    return {device_slug(str(d)) for d in ok["device"].dropna().unique()}


def other_device(measured: pd.DataFrame, reference: pd.DataFrame | None) -> str:
    """Why ``reference`` is not compared with ``measured``: its rows ran on another GPU than the
    measured ones ('reference measured on h200, this benchmark on h100: ...'); '' when both name
    the same GPU, or either names none (nothing to tell them apart)."""
    if reference is None:
        return ""
    mine, theirs = _devices(measured), _devices(reference)
    if not mine or not theirs or theirs <= mine:
        return ""
    return (f"reference measured on {', '.join(sorted(theirs))}, this benchmark on "
            f"{', '.join(sorted(mine))}: not compared across GPUs")


def with_reference(measured: pd.DataFrame, reference: pd.DataFrame | None, *,
                   same_device: bool = True) -> pd.DataFrame:
    """``measured`` plus the ok rows of ``reference`` for every implementation that has no ok row
    in ``measured``, renamed '<impl>_ref' (columns the reference lacks are left empty, but for
    warmup_ms/rep_ms: REFERENCE_TIMING). ``same_device``: join only a reference measured on the
    benchmark's GPU (see :func:`other_device`): comparisons (speedup table, scorecard) need
    that; a figure that labels the reference with its GPU passes False."""
    if reference is None or (same_device and other_device(measured, reference)):
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
