"""RBF MMD on toy cases: identical ~ 0, shifted > 0, median heuristic, unbiased formula."""

import numpy as np
import pytest

from scsigmoid.evaluate.mmd import (
    celltype_mmd,
    celltype_separation,
    median_bandwidth,
    mmd2_unbiased,
    rbf_kernel,
)


def test_identical_distributions_give_about_zero():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(300, 5)), rng.normal(size=(300, 5))
    assert abs(mmd2_unbiased(X, Y)) < 0.01


def test_shift_increases_mmd_monotonically():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3))
    values = [mmd2_unbiased(X, rng.normal(size=(200, 3)) + shift, bandwidth=1.0) for shift in (0, 1, 3)]
    assert values[0] < 0.02 < values[1] < values[2]


def test_median_heuristic_on_known_points():
    # pairwise distances of 0, 1, 3 on a line: 1, 3, 2 -> median 2
    assert median_bandwidth(np.array([[0.0], [1.0], [3.0]])) == pytest.approx(2.0)
    # scaling the data scales the bandwidth: the MMD is scale invariant under the heuristic
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(50, 4)), rng.normal(size=(60, 4)) + 1
    assert mmd2_unbiased(X, Y) == pytest.approx(mmd2_unbiased(10 * X, 10 * Y))


def test_unbiased_estimator_matches_brute_force():
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(6, 2)), rng.normal(size=(5, 2)) + 0.5
    s = 0.7
    k = lambda a, b: np.exp(-np.sum((a - b) ** 2) / (2 * s**2))  # noqa: E731
    xx = sum(k(X[i], X[j]) for i in range(6) for j in range(6) if i != j) / 30
    yy = sum(k(Y[i], Y[j]) for i in range(5) for j in range(5) if i != j) / 20
    xy = sum(k(x, y) for x in X for y in Y) / 30
    assert mmd2_unbiased(X, Y, bandwidth=s) == pytest.approx(xx + yy - 2 * xy)
    assert rbf_kernel(X[:1], X[:1], s)[0, 0] == pytest.approx(1.0)


def test_celltype_separation_ranks_separated_above_mixed_and_subsamples():
    rng = np.random.default_rng(4)
    labels = np.repeat(["a", "b", "c"], [400, 50, 3])
    mixed = rng.normal(size=(len(labels), 4))
    separated = mixed + np.where(labels == "a", 0, 5)[:, None]
    pairs = celltype_mmd(separated, labels, max_per_type=100, min_per_type=5)
    assert list(zip(pairs["type_a"], pairs["type_b"], strict=True)) == [("a", "b")]  # 'c' too small
    assert pairs["n_a"].iloc[0] == 100
    assert celltype_separation(separated, labels) > 0.5 > abs(celltype_separation(mixed, labels))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=">= 2 points"):
        mmd2_unbiased(np.zeros((1, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="cell types"):
        celltype_mmd(np.zeros((10, 2)), ["a"] * 10)


def test_weighted_mmd2_with_all_ones_is_the_unbiased_estimate():
    from scsigmoid.evaluate.mmd import weighted_mmd2

    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(7, 3)), rng.normal(size=(4, 3)) + 1
    s = 1.3
    got = weighted_mmd2(rbf_kernel(X, X, s), rbf_kernel(Y, Y, s), rbf_kernel(X, Y, s),
                        np.ones((7, 1)), np.ones((4, 1)))
    assert got[0] == pytest.approx(mmd2_unbiased(X, Y, bandwidth=s))


def test_weighted_mmd2_leaves_out_copies_of_a_cell_hand_worked():
    from scsigmoid.evaluate.mmd import weighted_mmd2

    # X drawn as {x0, x0, x1} from [0, 1, 3]; Y = {0, 2}; bandwidth 1 -> k = exp(-d^2 / 2)
    X, Y = np.array([[0.0], [1.0], [3.0]]), np.array([[0.0], [2.0]])
    wx, wy = np.array([[2], [1], [0]]), np.array([[1], [1]])
    within_x = np.exp(-0.5)  # only the pairs (x0, x1) of distinct cells remain
    within_y = np.exp(-2.0)
    cross = (2 * (1 + np.exp(-2.0)) + 1 * (np.exp(-0.5) + np.exp(-0.5))) / 6
    got = weighted_mmd2(rbf_kernel(X, X, 1.0), rbf_kernel(Y, Y, 1.0), rbf_kernel(X, Y, 1.0), wx, wy)
    assert got[0] == pytest.approx(within_x + within_y - 2 * cross)
    one_cell = weighted_mmd2(rbf_kernel(X, X, 1.0), rbf_kernel(Y, Y, 1.0), rbf_kernel(X, Y, 1.0),
                             np.array([[3], [0], [0]]), wy)
    assert np.isnan(one_cell[0])  # a single distinct cell has no within-sample pair


def test_separation_bootstrap_pairs_embeddings_and_centres_on_the_estimate():
    from scsigmoid.evaluate.mmd import separation_bootstrap

    rng = np.random.default_rng(6)
    labels = np.repeat(["a", "b", "c"], [60, 40, 30])
    X = rng.normal(size=(len(labels), 4)) + np.where(labels == "a", 0.0, 1.5)[:, None]
    reps = separation_bootstrap(X, labels, n_boot=200, seed=3)
    # the median heuristic makes the MMD scale invariant: a rescaled copy of the embedding sees the
    # same draws, hence exactly the same replicates (the arms of a dataset stay paired)
    np.testing.assert_allclose(separation_bootstrap(7 * X, labels, n_boot=200, seed=3), reps)
    full = celltype_separation(X, labels)
    assert reps.shape == (200,) and reps.std() > 0
    assert abs(np.mean(reps) - full) < 2 * reps.std()
    assert not np.allclose(separation_bootstrap(X, labels, n_boot=200, seed=4), reps)
