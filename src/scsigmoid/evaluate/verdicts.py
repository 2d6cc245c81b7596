"""The verdict rules of the replication scorecard. A verdict is one of OUTCOMES, never a count of
wins; why a row is untestable, or what tolerance it used, goes in its reason.

Claim 1 (quality; an interval of the paired effect sigmoid − softmax, see
:mod:`scsigmoid.evaluate.stats`): ``interval_verdict``.
Claim 2 (training speed; the throughput gain's median ± IQR over repeats): ``gain_verdict``.
Claim 4 (kernel peak TFLOPS read off the paper's figure): ``peak_verdict``; (beats a baseline
everywhere): ``everywhere_verdict``.
"""

from __future__ import annotations

import numpy as np

REPRODUCED = "reproduced"
DIRECTION_ONLY = "reproduced in direction only"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
UNTESTABLE = "untestable here"
OUTCOMES = (REPRODUCED, DIRECTION_ONLY, NOT_REPRODUCED, INCONCLUSIVE, UNTESTABLE)

SPEED_TOLERANCE = 0.01  # ± 1 percentage point around the paper's gain
READOFF_TFLOPS = 3.0  # the paper's Fig 2 bars were read off the published image to about ± 3 TFLOPS


def _finite(*values) -> bool:
    return all(v is not None and np.isfinite(v) for v in values)


def interval_verdict(lo: float, hi: float, direction: int) -> str:
    """Claim 1: ``direction`` is the paper's sign of sigmoid − softmax (+1 higher is better, −1
    lower). Reproduced only when the closed interval [lo, hi] excludes 0 on the paper's side; not
    reproduced when it excludes 0 on the other side; inconclusive when it contains 0 (a bound at
    exactly 0 included); untestable without an interval."""
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1; got {direction!r}.")
    if not _finite(lo, hi):
        return UNTESTABLE
    if lo > hi:
        raise ValueError(f"interval bounds reversed: [{lo}, {hi}].")
    if direction * lo > 0 and direction * hi > 0:
        return REPRODUCED
    if direction * lo < 0 and direction * hi < 0:
        return NOT_REPRODUCED
    return INCONCLUSIVE


def gain_interval(median: float, q25: float, q75: float) -> tuple[float, float]:
    """Our interval of a throughput gain: median ± IQR (q75 − q25) over repeats."""
    iqr = q75 - q25
    if iqr < 0:
        raise ValueError(f"q75 {q75} below q25 {q25}.")
    return median - iqr, median + iqr


def gain_verdict(median: float, q25: float, q75: float, paper: float | None,
                 tolerance: float = SPEED_TOLERANCE) -> str:
    """Claim 2 (gains as fractions, 0.021 = 2.1 %). With our interval [lo, hi] = median ± IQR:
    inconclusive when it contains 0; not reproduced when it lies below 0 (softmax faster);
    otherwise reproduced when it overlaps the paper's value ± ``tolerance`` (or when the paper
    states only the direction, ``paper=None``), else reproduced in direction only."""
    if not _finite(median, q25, q75):
        return UNTESTABLE
    lo, hi = gain_interval(median, q25, q75)
    if lo <= 0 <= hi:
        return INCONCLUSIVE
    if hi < 0:
        return NOT_REPRODUCED
    if paper is None:
        return REPRODUCED
    if paper <= 0:
        raise ValueError(f"the paper's gains are positive; got {paper}.")
    if lo <= paper + tolerance and hi >= paper - tolerance:
        return REPRODUCED
    return DIRECTION_ONLY


def peak_verdict(ours_hi: float, paper: float, readoff: float = READOFF_TFLOPS) -> str:
    """Claim 4, 'reaches ``paper`` TFLOPS': reproduced when the top of our run-to-run interval
    reaches the paper's value minus its read-off tolerance, otherwise not reproduced."""
    if not _finite(ours_hi, paper):
        return UNTESTABLE
    return REPRODUCED if ours_hi >= paper - readoff else NOT_REPRODUCED


def everywhere_verdict(faster: int, slower: int, within: int) -> str:
    """Claim 4, 'faster than the baseline at every benchmark point': each point is faster or
    slower beyond the run-to-run spread of both timings, or within it. Not reproduced when any
    point is slower beyond the spread; reproduced when every point is faster beyond it;
    inconclusive otherwise; untestable without points."""
    if faster + slower + within == 0:
        return UNTESTABLE
    if slower:
        return NOT_REPRODUCED
    return INCONCLUSIVE if within else REPRODUCED
