"""Intervals and paired effects against hand-worked values (t quantiles from printed tables)."""

import numpy as np
import pandas as pd
import pytest

from scsigmoid.evaluate.stats import (
    ALL_DATASETS,
    Interval,
    combine,
    effect,
    paired_effects,
    paired_summary,
    percentile_halfwidth,
    t_interval,
)

T975_DF2 = 4.303  # Student t, 97.5 % quantile, 2 degrees of freedom (printed tables)
T975_DF3 = 3.182


def test_t_interval_three_values():
    iv = t_interval([1.0, 2.0, 3.0])  # mean 2, sd 1
    half = T975_DF2 * 1.0 / np.sqrt(3)
    assert iv.estimate == 2.0 and iv.n == 3
    assert iv.lo == pytest.approx(2 - half, rel=1e-3) and iv.hi == pytest.approx(2 + half, rel=1e-3)


def test_t_interval_four_values_and_nan_dropped():
    iv = t_interval([0.1, 0.2, np.nan, 0.3, 0.4])  # mean 0.25, sd 0.1291
    assert iv.n == 4
    assert iv.halfwidth == pytest.approx(T975_DF3 * 0.129099 / 2, rel=1e-3)


def test_t_interval_needs_two_values():
    one = t_interval([0.7])
    assert one.estimate == 0.7 and np.isnan(one.lo) and np.isnan(one.hi) and not one.finite
    assert t_interval([]).n == 0


def test_combine_adds_halfwidths_in_quadrature():
    total = combine(Interval(1.0, -2.0, 4.0, 3), 4.0)  # seed half 3, cell half 4 -> 5
    assert (total.lo, total.hi) == pytest.approx((-4.0, 6.0))
    assert combine(Interval(1.0, -2.0, 4.0, 3), float("nan")) == Interval(1.0, -2.0, 4.0, 3)


def test_percentile_halfwidth():
    assert percentile_halfwidth(np.arange(101.0)) == pytest.approx((97.5 - 2.5) / 2)
    assert np.isnan(percentile_halfwidth([1.0]))


def test_relative_effect_and_zero_control():
    assert effect([3.0, 1.0], [2.0, 0.0], relative=True)[0] == pytest.approx(0.5)
    assert np.isnan(effect([3.0, 1.0], [2.0, 0.0], relative=True)[1])
    assert effect([2.0], [-4.0], relative=True)[0] == pytest.approx(1.5)  # divides by |control|


def _values(sets):
    rows = []
    for dataset, soft, sig in sets:
        for seed, (a, b) in enumerate(zip(soft, sig, strict=True)):
            rows += [{"dataset": dataset, "attention": "softmax", "seed": seed, "v": a},
                     {"dataset": dataset, "attention": "sigmoid", "seed": seed, "v": b}]
    return pd.DataFrame(rows)


def test_paired_summary_hand_worked():
    # a: effects 1, 1, 2 (mean 4/3, sd 0.57735); b: 0.5 each; per seed over datasets: .75 .75 1.25
    values = _values([("a", [1, 2, 3], [2, 3, 5]), ("b", [1, 1, 1], [1.5, 1.5, 1.5])])
    out = paired_summary(values, value="v").set_index("dataset")
    a = out.loc["a"]
    assert a["effect"] == pytest.approx(4 / 3) and a["n_seeds"] == 3
    assert a["seed_hi"] - a["effect"] == pytest.approx(T975_DF2 * 0.57735 / np.sqrt(3), rel=1e-3)
    assert (a["softmax_mean"], a["sigmoid_mean"]) == pytest.approx((2.0, 10 / 3))
    assert out.loc["b", "seed_lo"] == pytest.approx(0.5) and out.loc["b", "seed_hi"] == pytest.approx(0.5)
    allrow = out.loc[ALL_DATASETS]
    assert allrow["effect"] == pytest.approx(11 / 12) and allrow["n_datasets"] == 2
    assert allrow["lo"] == pytest.approx(11 / 12 - T975_DF2 * 0.288675 / np.sqrt(3), rel=1e-3)
    assert np.isnan(allrow["cell_halfwidth"])  # no bootstrap given: seed interval only


def test_paired_summary_pairs_by_seed_not_by_order():
    # the softmax rows come in another order: pairing must follow the seed column
    values = _values([("a", [1, 2, 3], [2, 3, 5])])
    shuffled = values.iloc[[1, 3, 5, 4, 2, 0]]
    out = paired_summary(shuffled, value="v").set_index("dataset")
    assert out.loc["a", "seed_hi"] - out.loc["a", "effect"] == pytest.approx(
        T975_DF2 * 0.57735 / np.sqrt(3), rel=1e-3)


def test_paired_summary_with_cell_bootstrap():
    values = _values([("a", [1, 2, 3], [2, 3, 5])])  # seed half-width 1.43425
    reps = []
    for b in range(101):  # replicate effect (mean over seeds) = b / 10 exactly
        for seed in range(3):
            reps += [{"dataset": "a", "replicate": b, "attention": "softmax", "seed": seed, "v": 0.0},
                     {"dataset": "a", "replicate": b, "attention": "sigmoid", "seed": seed, "v": b / 10}]
    out = paired_summary(values, value="v", boot=pd.DataFrame(reps)).set_index("dataset").loc["a"]
    assert out["cell_halfwidth"] == pytest.approx((9.75 - 0.25) / 2)
    seed_half = T975_DF2 * 0.57735 / np.sqrt(3)
    assert out["hi"] - out["effect"] == pytest.approx(np.hypot(seed_half, 4.75), rel=1e-3)


def test_paired_effects_keeps_only_complete_pairs_and_refuses_duplicates():
    values = _values([("a", [1, 2], [2, 3])])
    values = values[~((values["attention"] == "sigmoid") & (values["seed"] == 1))]
    assert paired_effects(values, value="v", keys=["dataset"])["seed"].tolist() == [0]
    with pytest.raises(ValueError, match="duplicated"):
        paired_effects(pd.concat([values, values]), value="v", keys=["dataset"])
    with pytest.raises(ValueError, match="missing column"):
        paired_effects(values, value="nope", keys=["dataset"])
