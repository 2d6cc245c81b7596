import pytest
import torch

from scsigmoid.bench.adapters import EagerSigmoid
from scsigmoid.bench.check import CheckShape, check_adapter
from scsigmoid.bench.eager import eager_attention

SHAPE = CheckShape(batch=2, seq_len=32, heads=2)


class WrongScale(EagerSigmoid):
    """Forward uses twice the scale: plausible-looking but wrong."""

    name = "wrong_scale"

    def forward(self, q, k, v, inputs, state):
        return eager_attention(q, k, v, inputs.lengths, scale=2 * inputs.scale)


class NoQueryGradient(EagerSigmoid):
    """Right forward, wrong backward (dq is zero)."""

    name = "no_dq"

    def forward(self, q, k, v, inputs, state):
        return eager_attention(q.detach(), k, v, inputs.lengths, scale=inputs.scale) + 0 * q


@pytest.mark.parametrize("padding", [0, 25])
@pytest.mark.parametrize("pass_", ["fwd", "bwd"])
def test_eager_passes(padding, pass_):
    ok, reason = check_adapter(EagerSigmoid(), 16, padding, pass_, device="cpu",
                               dtype=torch.float32, shape=SHAPE)
    assert ok, reason


def test_wrong_forward_fails():
    ok, reason = check_adapter(WrongScale(), 16, 25, "fwd", device="cpu", dtype=torch.float32,
                               shape=SHAPE)
    assert not ok and "forward" in reason


def test_wrong_gradient_fails_only_for_backward():
    ok, _ = check_adapter(NoQueryGradient(), 16, 0, "fwd", device="cpu", dtype=torch.float32,
                          shape=SHAPE)
    assert ok
    ok, reason = check_adapter(NoQueryGradient(), 16, 0, "bwd", device="cpu",
                               dtype=torch.float32, shape=SHAPE)
    assert not ok and reason.startswith("dq")


def test_padded_keys_are_ignored_by_the_reference():
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 1, 6, 4) for _ in range(3))
    lengths = torch.tensor([4])
    full = eager_attention(q, k, v, lengths)
    k2, v2 = k.clone(), v.clone()
    k2[..., 4:, :] = 100.0  # garbage in the padded keys must not matter
    v2[..., 4:, :] = 100.0
    assert torch.allclose(full, eager_attention(q, k2, v2, lengths))


def test_trainbias_reference_uses_minus_log_n():
    q, k, v = torch.zeros(1, 1, 4, 2), torch.zeros(1, 1, 4, 2), torch.ones(1, 1, 4, 2)
    out = eager_attention(q, k, v, torch.tensor([4]), bias=None)
    # scores 0, bias -log 4: each weight sigmoid(-log 4) = 1/5, four keys -> 0.8
    assert torch.allclose(out, torch.full_like(out, 0.8))
