"""Attention Jacobians against torch autograd, and the sweep on score matrices."""

import numpy as np
import pytest
import torch

from scsigmoid.evaluate.jacobian import (
    jacobian_sweep,
    read_attention_scores,
    sigmoid_jacobian,
    sigmoid_jacobian_norms,
    softmax_jacobian,
    softmax_jacobian_norms,
    softmax_offdiag_share,
)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jacobians_match_autograd(seed):
    s = torch.randn(7, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) * 3
    auto_soft = torch.autograd.functional.jacobian(lambda x: torch.softmax(x, -1), s).numpy()
    auto_sig = torch.autograd.functional.jacobian(lambda x: torch.sigmoid(x - 1.5), s).numpy()
    np.testing.assert_allclose(softmax_jacobian(s.numpy()), auto_soft, atol=1e-12)
    np.testing.assert_allclose(sigmoid_jacobian(s.numpy(), bias=-1.5), auto_sig, atol=1e-12)
    np.testing.assert_allclose(softmax_jacobian_norms(s.numpy()[None])[0], np.linalg.norm(auto_soft, 2))
    np.testing.assert_allclose(sigmoid_jacobian_norms(s.numpy()[None], -1.5)[0], np.linalg.norm(auto_sig, 2))


def test_bounds_and_structure():
    rng = np.random.default_rng(0)
    S = rng.normal(size=(20, 16)) * 10
    assert sigmoid_jacobian_norms(np.zeros((1, 4)))[0] == pytest.approx(0.25)
    assert (sigmoid_jacobian_norms(S) <= 0.25).all()
    assert (softmax_jacobian_norms(S) <= 0.5 + 1e-12).all()  # max eigenvalue of diag(p) - ppᵀ
    J = softmax_jacobian(S[0])
    off = (J**2).sum() - (np.diag(J) ** 2).sum()
    assert softmax_offdiag_share(S[:1])[0] == pytest.approx(off / (J**2).sum())
    assert softmax_offdiag_share(np.zeros((1, 8)))[0] == pytest.approx(1 / 8)  # (1/n² - 1/n³) / (1/n - 1/n²)


def test_sweep_on_saved_scores(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "attention_scores.npz"
    np.savez(path, layer0=rng.normal(size=(40, 30)), layer1=rng.normal(size=(2, 3, 30)),
             names=np.array(["x"]))
    scores = read_attention_scores(path)
    assert set(scores) == {"layer0", "layer1"}
    table = jacobian_sweep(scores, np.logspace(-1, 2, 4), max_rows=10, max_keys=20)
    assert len(table) == 8 and table["rows"].max() == 10 and table["keys"].max() == 20
    soft = table[table["source"] == "layer0"].sort_values("alpha")
    # large scales concentrate the softmax on one key: its Jacobian norm collapses
    assert soft["softmax_norm_median"].iloc[-1] < soft["softmax_norm_median"].iloc[1]
    assert (table["sigmoid_norm_max"] <= 0.25).all()
