"""GPU-only tests at real sizes (bf16, long sequences, head dims 64/128): accuracy, determinism,
large inputs, the exact and tanh.approx sigmoid modes, the TMA variant. Skipped without CUDA."""

import pytest
import sigattn
import torch
from sigattn import triton_kernels
from sigattn.reference import sigmoid_attention_ref, sigmoid_attention_varlen_ref
from sigattn_testutil import check_accuracy, qkv

pytestmark = pytest.mark.gpu


def _lens(batch, seq_len, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(int(0.75 * seq_len), seq_len + 1, (batch,), generator=g, dtype=torch.int32).cuda()


@pytest.mark.parametrize("head_dim", [64, 128])
@pytest.mark.parametrize("batch, seq_len, heads, heads_kv, causal", [
    (4, 1024, 4, 4, False), (2, 2048, 4, 1, True), (1, 8192, 2, 2, False)])
def test_real_sizes_bf16(batch, seq_len, heads, heads_kv, causal, head_dim):
    q, k, v = qkv(batch, seq_len, seq_len, heads, heads_kv, head_dim, device="cuda", seed=seq_len + head_dim)
    check_accuracy(sigattn.sigmoid_attention, sigmoid_attention_ref, [q, k, v], dtype=torch.bfloat16,
                   seq_lens_q=_lens(batch, seq_len, seed=head_dim), causal=causal)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32], ids=str)
def test_varlen_real_size(dtype):
    cu = torch.tensor([0, 3000, 3001, 3001, 8192], dtype=torch.int32, device="cuda")
    q, k, v = qkv(1, 8192, 8192, 4, 2, 128, device="cuda", seed=5, packed=True)
    check_accuracy(sigattn.sigmoid_attention_varlen, sigmoid_attention_varlen_ref, [q, k, v], dtype=dtype,
                   cu_seqlens_q=cu, causal=True)


def test_deterministic_bitwise(kernel_variant):
    """Two runs, the same bits; except dQ of the fused backward, whose atomics add the key tiles'
    shares in the order the programs reach them (fp32 sums, then one bf16 rounding: close)."""
    q, k, v = qkv(2, 2048, 2048, 8, 2, 128, device="cuda", dtype=torch.bfloat16, seed=6)
    lens = _lens(2, 2048, seed=7)
    runs = []
    for _ in range(2):
        out = sigattn.sigmoid_attention(q, k, v, seq_lens_q=lens)
        runs.append((out, *torch.autograd.grad(out, (q, k, v), torch.ones_like(out))))
    for name, a, b in zip(("o", "dq", "dk", "dv"), *runs, strict=True):
        if name == "dq" and "fused" in kernel_variant:
            torch.testing.assert_close(a, b, rtol=1e-2, atol=1e-3)
        else:
            assert torch.equal(a, b), name


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
def test_large_inputs(dtype):
    q, k, v = qkv(2, 1024, 1024, 4, 4, 64, device="cuda", seed=8, scale=20.0)  # |scores| up to ~1e4
    check_accuracy(sigattn.sigmoid_attention, sigmoid_attention_ref, [q, k, v], dtype=dtype,
                   seq_lens_q=_lens(2, 1024, seed=9))


@pytest.mark.parametrize("mode", ["exact", "tanh"])
def test_other_sigmoid_modes(monkeypatch, mode):
    """The default ("fast") is covered by every test above; the opt-in modes here. tanh.approx has
    an absolute error of ~2^-12 on p, so it is checked at bias 0 (p ~ 0.5), loosely."""
    monkeypatch.setattr(triton_kernels, "SIGMOID", mode)
    q, k, v = (t.detach().to(torch.bfloat16) for t in qkv(2, 1024, 1024, 4, 4, 128, device="cuda", seed=10))
    out = sigattn.sigmoid_attention(q, k, v, bias=0.0)
    expected = sigmoid_attention_ref(q.float(), k.float(), v.float(), bias=0.0)
    rel = ((out.float() - expected).abs().max() / expected.abs().max()).item()
    assert rel < 2e-2, f"{mode} sigmoid: relative error {rel:.3g}"


@pytest.mark.parametrize("kernel_variant", ["tma"], indirect=True)
@pytest.mark.parametrize("head_dim, batch, seq_len, heads, heads_kv, causal", [
    (64, 4, 1024, 4, 4, False), (128, 2, 2048, 4, 1, True), (64, 1, 8192, 2, 2, False)])
def test_tma_variant_real_sizes_bf16(kernel_variant, head_dim, batch, seq_len, heads, heads_kv, causal):
    """Tensor descriptors at the sizes above (tile shapes of the TMA lists, padded rows and keys
    read as zeros by TMA); the fixture fails the test if a launch fell back to pointer loads."""
    q, k, v = qkv(batch, seq_len, seq_len, heads, heads_kv, head_dim, device="cuda", seed=seq_len + head_dim + 1)
    check_accuracy(sigattn.sigmoid_attention, sigmoid_attention_ref, [q, k, v], dtype=torch.bfloat16,
                   seq_lens_q=_lens(batch, seq_len, seed=head_dim + 1), causal=causal)


@pytest.mark.parametrize("kernel_variant", ["tma"], indirect=True)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32], ids=str)
def test_tma_variant_varlen_real_size(kernel_variant, dtype):
    cu = torch.tensor([0, 3000, 3001, 3001, 8192], dtype=torch.int32, device="cuda")
    q, k, v = qkv(1, 8192, 8192, 4, 2, 128, device="cuda", seed=15, packed=True)
    check_accuracy(sigattn.sigmoid_attention_varlen, sigmoid_attention_varlen_ref, [q, k, v], dtype=dtype,
                   cu_seqlens_q=cu, causal=True)
