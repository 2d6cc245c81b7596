"""Every bad argument raises a TypeError/ValueError that names the argument and what was expected."""

import pytest
import sigattn
import torch

pytestmark = pytest.mark.reference_only  # checks run before any kernel launch

I32 = torch.int32


def _qkv(b=2, lq=8, lk=8, hq=2, hkv=2, d=16, dtype=torch.float32):
    return (torch.randn(b, lq, hq, d, dtype=dtype), torch.randn(b, lk, hkv, d, dtype=dtype),
            torch.randn(b, lk, hkv, d, dtype=dtype))


def _packed(t=8, h=2, d=16):
    return torch.randn(t, h, d), torch.randn(t, h, d), torch.randn(t, h, d)


@pytest.fixture(params=["kernels", "reference"])
def path(request, monkeypatch):
    """Both implementations behind the public API raise the same errors: the kernels' path (CPU
    tensors under the interpreter) and the eager reference (CPU tensors anywhere else, e.g. on a
    CUDA machine: its missing max_seqlen check showed there, session 18)."""
    if request.param == "reference":
        monkeypatch.setattr(sigattn.backend, "CPU_USES_TRITON", False)
    return request.param


@pytest.mark.parametrize("make, kwargs, exc, match", [
    (lambda: (torch.randn(8, 2, 16), *_qkv()[1:]), {}, ValueError, "q must have rank 4"),
    (lambda: ([[1.0]], *_qkv()[1:]), {}, TypeError, "q must be a torch.Tensor"),
    (lambda: _qkv(dtype=torch.float64), {}, TypeError, "dtype must be one of"),
    (lambda: (_qkv()[0].half(), *_qkv()[1:]), {}, TypeError, "share one dtype"),
    (lambda: _qkv(d=48), {}, ValueError, "head dim must be one of"),
    (lambda: (_qkv()[0], torch.randn(2, 8, 2, 32), torch.randn(2, 8, 2, 32)), {}, ValueError, "head dim of k"),
    (lambda: _qkv(hq=3, hkv=2), {}, ValueError, "multiple of key/value heads"),
    (lambda: (_qkv()[0], torch.randn(2, 8, 2, 16), torch.randn(2, 9, 2, 16)), {}, ValueError, "k and v must have the same shape"),
    (lambda: (torch.randn(3, 8, 2, 16), *_qkv()[1:]), {}, ValueError, "batch of k"),
    (_qkv, {"seq_lens_q": torch.tensor([8, 9], dtype=I32)}, ValueError, r"seq_lens_q must lie in \[0, 8\]"),
    (_qkv, {"seq_lens_k": torch.tensor([-1, 3], dtype=I32)}, ValueError, "seq_lens_k must lie in"),
    (_qkv, {"seq_lens_q": torch.tensor([1.0, 2.0])}, TypeError, "seq_lens_q must have an integer dtype"),
    (_qkv, {"seq_lens_q": torch.tensor([1, 2, 3], dtype=I32)}, ValueError, r"seq_lens_q must have shape \[2\]"),
    (lambda: _qkv(lk=12), {"seq_lens_q": torch.tensor([1, 2], dtype=I32)}, ValueError, "pass seq_lens_k"),
    (_qkv, {"score_mod": torch.randn(2, 7)}, ValueError, r"score_mod must have shape \[2, 8\]"),
    (_qkv, {"score_mod": torch.ones(2, 8, dtype=I32)}, TypeError, "score_mod must be a floating-point"),
    (_qkv, {"bias": "auto"}, TypeError, "bias must be a float or None"),
    (_qkv, {"scale": torch.tensor(1.0)}, TypeError, "scale must be a float"),
    (_qkv, {"scale": float("nan")}, ValueError, "scale must be finite"),
    (_qkv, {"bias": float("-inf")}, ValueError, "bias must be finite"),
    (_qkv, {"causal": 1}, TypeError, "causal must be a bool"),
])
def test_padded_errors(make, kwargs, exc, match, path):
    with pytest.raises(exc, match=match):
        sigattn.sigmoid_attention(*make(), **kwargs)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a second device")
def test_device_mismatch():
    q, k, v = _qkv()
    with pytest.raises(ValueError, match="one device"):
        sigattn.sigmoid_attention(q.cuda(), k, v)


@pytest.mark.parametrize("cu_q, cu_k, kwargs, exc, match", [
    ([0, 5, 3, 8], None, {}, ValueError, "cu_seqlens_q must be non-decreasing"),
    ([1, 5, 8], None, {}, ValueError, "cu_seqlens_q must start at 0"),
    ([0, 5, 7], None, {}, ValueError, r"cu_seqlens_q\[-1\] must equal the number of packed tokens \(8\)"),
    ([0, 4, 8], [0, 2, 9], {}, ValueError, r"cu_seqlens_k\[-1\] must equal"),
    ([0, 4, 8], [0, 8], {}, ValueError, "same number of sequences"),
    ([0.0, 4.0, 8.0], None, {}, TypeError, "cu_seqlens_q must have an integer dtype"),
    ([0, 4, 8], None, {"max_seqlen_q": 2}, ValueError, "max_seqlen_q .* smaller than the longest"),
    ([0, 4, 8], None, {"max_seqlen_k": -3}, TypeError, "max_seqlen_k must be a non-negative int"),
    ([0, 4, 8], None, {"score_mod": torch.randn(2, 4)}, ValueError, r"score_mod must have shape \[8\]"),
])
def test_varlen_errors(cu_q, cu_k, kwargs, exc, match, path):
    to_t = lambda c: None if c is None else torch.tensor(c, dtype=torch.float32 if isinstance(c[0], float) else I32)  # noqa: E731
    with pytest.raises(exc, match=match):
        sigattn.sigmoid_attention_varlen(*_packed(), to_t(cu_q), to_t(cu_k), **kwargs)


def test_varlen_rank_and_cu_type():
    with pytest.raises(ValueError, match="q must have rank 3"):
        sigattn.sigmoid_attention_varlen(*_qkv(), torch.tensor([0, 8], dtype=I32))
    with pytest.raises(TypeError, match="cu_seqlens_q must be an int32 torch.Tensor"):
        sigattn.sigmoid_attention_varlen(*_packed(), [0, 8])


def test_backward_does_not_check_the_table_again(monkeypatch):
    """The forward checks the sequence table (one host read); the backward gets the same saved
    table and must not read it again: on the H200 that re-check was one sync per layer."""
    import sigattn.ops as ops

    monkeypatch.setattr(ops, "CHECK_VALUES", True)
    q = torch.empty(10, 2, 16, device="meta")
    table = torch.empty(4, 3, dtype=torch.int32, device="meta")  # a host read of it raises
    assert ops._rows(q, q, table, False, 6, 6, check=False) == (6, 6)
    with pytest.raises((RuntimeError, NotImplementedError)):
        ops._rows(q, q, table, False, 6, 6)  # the forward's check reads it
    calls = []
    monkeypatch.setattr(ops, "_rows", lambda *a, **kw: calls.append(kw.get("check", True)) or (6, 6))
    monkeypatch.setattr(ops.triton_kernels, "backward", lambda *a, **kw: (None, None, None))
    ops._backward_impl(q, q, q, q, table, None, False, 1.0, None, False, 6, 6)
    assert calls == [False]
