"""What a dataset's expression matrix means, and the input checks every data rule shares.

The sheet's ``scale`` column declares how ``X`` is stored:

- ``counts``       raw integer counts (UMIs or reads);
- ``log1p_cp10k``  natural ``log1p`` of per-cell normalised values (CP10k, CPM, ...: the target
                   sum does not change ranks), read back through ``expm1``;
- ``cp10k``        per-cell normalised linear values (CP10k, CPM, ...);
- ``fpkm_tpm``     length-normalised linear values (FPKM, RPKM, TPM), used as they are;
- ``auto``         per cell: a cell whose values are all integers is counts, any other cell is
                   ``log1p`` (files mixing raw and log-normalised samples, e.g. a merged atlas).

Every scale ends as linear per-cell values that the tokeniser normalises to 10,000 per cell, so
counts, CP10k and log1p-CP10k of the same cells give the same ranks; FPKM/TPM values are ranked as
they are (their gene-length normalisation is kept). Readings that cannot be right are refused with
the file, what was seen and the scale to set: non-integers declared as counts, "log" values above
:data:`LOG_MAX` (``expm1`` of them exceeds any normalised count), integer-only cells declared as
log, linear-looking CP10k that never exceeds a log's range.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

SCALES = ("counts", "log1p_cp10k", "cp10k", "fpkm_tpm", "auto")
LOG_MAX = 20.0  # log1p(x) > 20 means x > 4.8e8: no per-cell normalised value is that large
_INT_TOL = 1e-6
MISSING_LABELS = ("error", "drop")
_MISSING_STRINGS = {"", "nan", "none", "na", "<na>", "null"}


class DatasetError(ValueError):
    """A dataset cannot be used as it is; the message names the dataset, the file, the cause and
    the fix."""


def _cell_of_value(X: sp.csr_matrix) -> np.ndarray:
    return np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))


def non_integer_cells(X: sp.csr_matrix) -> np.ndarray:
    """Boolean per cell: True when some non-zero value of the cell is not an integer."""
    frac = np.abs(X.data - np.round(X.data)) > _INT_TOL
    return np.bincount(_cell_of_value(X), weights=frac, minlength=X.shape[0]) > 0


def cell_max(X: sp.csr_matrix) -> np.ndarray:
    """Largest value of every cell (0 for an empty cell)."""
    out = np.zeros(X.shape[0])
    np.maximum.at(out, _cell_of_value(X), X.data)
    return out


def suggest_scale(X: sp.csr_matrix) -> str:
    """The sheet value that fits the matrix best (used in error messages only)."""
    if not X.data.size:
        return "counts"
    if not non_integer_cells(X).any():
        return "counts"
    if X.data.max() <= LOG_MAX:
        return "log1p_cp10k"
    sums = np.asarray(X.sum(axis=1)).ravel()
    sums = sums[sums > 0]
    if sums.size and np.all(np.abs(sums / np.median(sums) - 1) < 0.01):
        return "cp10k"
    return "fpkm_tpm"


def linear_values(X: sp.csr_matrix, scale: str, where: str = "") -> tuple[sp.csr_matrix, np.ndarray]:
    """``X`` (non-negative, finite CSR) on a linear scale, and per cell whether it was read as log.

    Raises :class:`DatasetError` when ``scale`` cannot describe ``X``; ``where`` (dataset and
    file) starts every message.
    """
    if scale not in SCALES:
        raise DatasetError(f"{where}unknown scale {scale!r}; set the sheet's scale column to one of "
                           f"{', '.join(SCALES)}.")
    n = X.shape[0]
    non_int = non_integer_cells(X)
    vmax = float(X.data.max()) if X.data.size else 0.0
    fix = f"set the sheet's scale column to {suggest_scale(X)}"
    if scale == "counts":
        if non_int.any():
            example = X.data[np.abs(X.data - np.round(X.data)) > _INT_TOL][0]
            raise DatasetError(
                f"{where}scale 'counts' but {int(non_int.sum())} of {n} cells hold non-integer values "
                f"(e.g. {example:.4g}, largest value {vmax:.4g}): these are not raw counts; {fix}.")
        return X, np.zeros(n, dtype=bool)
    if scale == "log1p_cp10k":
        if vmax > LOG_MAX:
            raise DatasetError(
                f"{where}scale 'log1p_cp10k' but values reach {vmax:.4g}; log1p of normalised "
                f"expression stays below {LOG_MAX:g}, so these are linear values; {fix}.")
        expressed = np.diff(X.indptr) > 0
        int_only = expressed & ~non_int
        if int_only.any():
            raise DatasetError(
                f"{where}scale 'log1p_cp10k' but {int(int_only.sum())} of {n} cells hold only integer "
                "values, as raw counts do (log1p values are not integers); set the sheet's scale "
                "column to counts, or to auto for a file mixing raw and log-normalised cells.")
        X = X.copy()
        X.data = np.expm1(X.data)
        return X, expressed
    if scale == "cp10k":
        if non_int.any() and vmax <= LOG_MAX:
            raise DatasetError(
                f"{where}scale 'cp10k' but no value exceeds {vmax:.4g}: normalised linear expression "
                "has larger values, so this looks like log1p; set the sheet's scale column to "
                "log1p_cp10k (or to fpkm_tpm if these are truly linear values).")
        return X, np.zeros(n, dtype=bool)
    if scale == "fpkm_tpm":
        return X, np.zeros(n, dtype=bool)
    # auto: integer cells are counts, the others log1p
    if non_int.any():
        big = non_int & (cell_max(X) > LOG_MAX)
        if big.any():
            raise DatasetError(
                f"{where}scale 'auto' reads non-integer cells as log1p, but {int(big.sum())} of {n} "
                f"cells hold non-integer values above {LOG_MAX:g} (largest {vmax:.4g}): neither raw "
                f"counts nor log1p; {fix} (cp10k for per-cell normalised values, fpkm_tpm for FPKM, "
                "RPKM or TPM).")
        X = X.copy()
        X.data = np.where(non_int[_cell_of_value(X)], np.expm1(X.data), X.data)
    return X, non_int


def missing_mask(values) -> np.ndarray:
    """True where an obs value is missing: NaN/None, an empty string, or the text 'nan'/'NA'
    (a missing value written out as text)."""
    s = pd.Series(values)
    text = s.astype(str).str.strip().str.lower()
    return (s.isna() | text.isin(_MISSING_STRINGS)).to_numpy()
