"""The reference against an independent, element-by-element formula; dispatch rules."""

import math

import pytest
import sigattn
import torch
from sigattn import backend
from sigattn.reference import sigmoid_attention_ref, sigmoid_attention_varlen_ref
from sigattn_testutil import randn


def _naive(q, k, v, len_q, len_k, *, causal, scale, bias, mod):
    """One sequence, loops over rows: o[i, h] = sum_j sigmoid(q_i·k_j·scale + b + mod_j) v_j."""
    lq, hq, d = q.shape
    group = hq // k.shape[1]
    b = -math.log(max(len_k, 1)) if bias is None else bias
    out = torch.zeros_like(q)
    for i in range(len_q):
        for h in range(hq):
            for j in range(len_k):
                if causal and j > i:
                    continue
                s = float(q[i, h] @ k[j, h // group]) * scale + b + (0.0 if mod is None else float(mod[j]))
                out[i, h] += (1.0 / (1.0 + math.exp(-s))) * v[j, h // group]
    return out


@pytest.mark.reference_only
@pytest.mark.parametrize("causal", [False, True])
def test_reference_matches_naive_formula(causal):
    q = randn(2, 6, 4, 16, dtype=torch.float64, seed=30)
    k = randn(2, 9, 2, 16, dtype=torch.float64, seed=31)
    v = randn(2, 9, 2, 16, dtype=torch.float64, seed=32)
    mod = randn(2, 9, dtype=torch.float64, seed=33)
    lens_q, lens_k = [6, 3], [9, 4]
    for bias in (None, 0.7):
        got = sigmoid_attention_ref(q, k, v, seq_lens_q=torch.tensor(lens_q), seq_lens_k=torch.tensor(lens_k),
                                    causal=causal, scale=0.2, bias=bias, score_mod=mod)
        for i in range(2):
            expected = _naive(q[i], k[i], v[i], lens_q[i], lens_k[i], causal=causal, scale=0.2,
                              bias=bias, mod=mod[i])
            torch.testing.assert_close(got[i], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.reference_only
def test_varlen_reference_matches_naive_formula():
    q, k, v = (randn(11, 2, 16, dtype=torch.float64, seed=s) for s in (34, 35, 36))
    cu = torch.tensor([0, 0, 4, 11], dtype=torch.int32)
    got = sigmoid_attention_varlen_ref(q, k, v, cu, causal=True)
    for a, b in ((0, 4), (4, 11)):
        expected = _naive(q[a:b], k[a:b], v[a:b], b - a, b - a, causal=True, scale=16 ** -0.5,
                          bias=None, mod=None)
        torch.testing.assert_close(got[a:b], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.reference_only
def test_backend_for_and_reference_fallback(monkeypatch):
    assert sigattn.backend_for(torch.empty(0, device="meta")) == "reference"
    monkeypatch.setattr(backend, "INTERPRETER", False)
    assert sigattn.backend_for(torch.empty(0)) == "reference"

    def fail(*args, **kwargs):
        raise AssertionError("the Triton kernels must not run on CPU without the interpreter")

    monkeypatch.setattr(sigattn.triton_kernels, "forward", fail)
    q, k, v = (randn(1, 5, 1, 16, seed=s, requires_grad=True) for s in (37, 38, 39))
    out = sigattn.sigmoid_attention(q, k, v, causal=True)
    out.sum().backward()  # the reference is differentiable: CPU models can train
    torch.testing.assert_close(out, sigmoid_attention_ref(q, k, v, causal=True))
    monkeypatch.setattr(backend, "INTERPRETER", True)
    assert sigattn.backend_for(torch.empty(0)) == "triton"
    monkeypatch.setattr(backend, "CPU_USES_TRITON", False)  # interpreter on, CPU still on the reference
    assert sigattn.backend_for(torch.empty(0)) == "reference"
