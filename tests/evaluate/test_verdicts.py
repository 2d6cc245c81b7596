"""The four-outcome verdict rules on hand-worked intervals, boundaries included."""

import pytest

from scsigmoid.evaluate.verdicts import (
    DIRECTION_ONLY,
    INCONCLUSIVE,
    NOT_REPRODUCED,
    REPRODUCED,
    UNTESTABLE,
    everywhere_verdict,
    gain_interval,
    gain_verdict,
    interval_verdict,
    peak_verdict,
)


@pytest.mark.parametrize("lo, hi, direction, expected", [
    (0.1, 0.5, 1, REPRODUCED),
    (-0.5, -0.1, 1, NOT_REPRODUCED),
    (-0.1, 0.1, 1, INCONCLUSIVE),
    (0.0, 0.5, 1, INCONCLUSIVE),  # a bound at 0 does not exclude 0
    (-0.5, 0.0, 1, INCONCLUSIVE),
    (-0.5, -0.1, -1, REPRODUCED),  # lower is better (validation loss)
    (0.1, 0.5, -1, NOT_REPRODUCED),
    (float("nan"), 0.5, 1, UNTESTABLE),
])
def test_interval_verdict(lo, hi, direction, expected):
    assert interval_verdict(lo, hi, direction) == expected


def test_interval_verdict_refuses_bad_input():
    with pytest.raises(ValueError, match="direction"):
        interval_verdict(0.1, 0.2, 0)
    with pytest.raises(ValueError, match="reversed"):
        interval_verdict(0.2, 0.1, 1)


def test_gain_interval_is_median_plus_minus_iqr():
    assert gain_interval(0.25, 0.1875, 0.3125) == (0.125, 0.375)


# binary fractions keep the boundaries exact: paper 0.5 +- 0.125 is [0.375, 0.625]
@pytest.mark.parametrize("median, q25, q75, paper, expected", [
    (0.5, 0.45, 0.55, 0.5, REPRODUCED),
    (0.25, 0.1875, 0.3125, 0.5, REPRODUCED),  # ours [0.125, 0.375] touches the tolerance band
    (0.25, 0.203125, 0.296875, 0.5, DIRECTION_ONLY),  # ours [0.15625, 0.34375] falls short
    (1.0, 0.9375, 1.0625, 0.5, DIRECTION_ONLY),  # ours far above the paper
    (-0.25, -0.3125, -0.1875, 0.5, NOT_REPRODUCED),
    (0.125, 0.0625, 0.1875, 0.5, INCONCLUSIVE),  # lower bound exactly 0
    (0.0625, 0.0, 0.125, 0.5, INCONCLUSIVE),
    (0.25, 0.25, 0.25, None, REPRODUCED),  # the paper states the direction only
    (-0.25, -0.25, -0.25, None, NOT_REPRODUCED),
    (float("nan"), 0.0, 0.1, 0.5, UNTESTABLE),
])
def test_gain_verdict(median, q25, q75, paper, expected):
    assert gain_verdict(median, q25, q75, paper, tolerance=0.125) == expected


def test_gain_verdict_default_tolerance_is_one_point():
    # paper 2.1 %: 3.0 % (IQR 0) is within 1 point, 3.2 % is not
    assert gain_verdict(0.030, 0.030, 0.030, 0.021) == REPRODUCED
    assert gain_verdict(0.032, 0.032, 0.032, 0.021) == DIRECTION_ONLY


@pytest.mark.parametrize("ours_hi, expected", [(513.0, REPRODUCED), (512.0, REPRODUCED),
                                               (511.9, NOT_REPRODUCED), (600.0, REPRODUCED)])
def test_peak_verdict_uses_the_readoff_tolerance(ours_hi, expected):
    assert peak_verdict(ours_hi, 515.0) == expected


@pytest.mark.parametrize("counts, expected", [((3, 0, 0), REPRODUCED), ((3, 1, 0), NOT_REPRODUCED),
                                              ((3, 0, 1), INCONCLUSIVE), ((0, 0, 0), UNTESTABLE)])
def test_everywhere_verdict(counts, expected):
    assert everywhere_verdict(*counts) == expected
