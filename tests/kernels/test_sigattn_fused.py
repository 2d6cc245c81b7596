"""The fused backward (SIGATTN_FUSED=1): one dK/dV kernel that also adds dS·K into an fp32 dQ by
atomics (the TMA kernel on a GPU: a TMA reduction a tile, which Triton's interpreter lacks, so on
the CPU both kernels add by atomics and the reduction runs first in the GPU tests). Its accuracy
over layouts, masks, GQA, causal, bias and score_mod is the default's own tests (the
``kernel_variant`` fixture runs them with ``fused`` and ``tma_fused``); here what those shapes do
not reach: many query tiles a program (the rotated tile order of the full-tile loop), sequences of
other lengths beside them, what a launch records, and the GPU sizes."""

import pytest
import sigattn
import torch
from sigattn import triton_kernels, tuned
from sigattn.reference import sigmoid_attention_ref, sigmoid_attention_varlen_ref
from sigattn_testutil import check_accuracy, qkv, randn, use_variant


def _grads(q, k, v, **kwargs):
    leaves = [t.detach().requires_grad_(True) for t in (q, k, v)]
    out = sigattn.sigmoid_attention(*leaves, **kwargs)
    return [out.detach(), *torch.autograd.grad(out, leaves, randn(*out.shape, seed=40, device=out.device))]


@pytest.mark.parametrize("variant", ["fused", "tma_fused"])
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_fused_equals_split_over_many_query_tiles(monkeypatch, device, variant, causal):
    """Rows 150 and 97 over the interpreter's 32-row query tiles and 16-key tiles: each program
    of a sequence starts its full-tile loop at another tile (up to four), GQA adds two query heads
    into each key head's dQ rows, the shorter sequence's rows past its end must receive nothing.
    fp32: the fused and split backward agree to the rounding of the summation order."""
    q, k, v = qkv(2, 150, 150, 4, 2, 16, device=device, seed=41)
    lens = torch.tensor([150, 97], dtype=torch.int32, device=device)
    use_variant(monkeypatch, "tma" if "tma" in variant else "fast")
    split = _grads(q, k, v, seq_lens_q=lens, causal=causal)
    use_variant(monkeypatch, variant)
    fused = _grads(q, k, v, seq_lens_q=lens, causal=causal)
    assert set(triton_kernels.LAST_CONFIG) == {"forward", "backward_dkdv"}
    assert triton_kernels.LAST_CONFIG["backward_dkdv"]["kernel"] == triton_kernels.kernel_name("dkdv", "tma" in variant,
                                                                                                True)
    for name, a, b in zip(("o", "dq", "dk", "dv"), split, fused, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6, msg=name)
    assert fused[1][1, 97:].abs().sum().item() == 0  # padding rows of dq
    check_accuracy(sigattn.sigmoid_attention, sigmoid_attention_ref, [q, k, v], dtype=torch.float16,
                   seq_lens_q=lens, causal=causal)


def test_fused_packed_sequences_keep_to_their_rows(monkeypatch, device):
    """Packed: the dQ rows of one sequence end where the next begins; a key tile of a sequence
    must add into its own rows only (lengths 70, 1, 0, 90: tiles straddle every boundary)."""
    use_variant(monkeypatch, "fused")
    cu = torch.tensor([0, 70, 71, 71, 161], dtype=torch.int32, device=device)
    q, k, v = qkv(1, 161, 161, 2, 1, 16, device=device, seed=42, packed=True)
    check_accuracy(sigattn.sigmoid_attention_varlen, sigmoid_attention_varlen_ref, [q, k, v], dtype=torch.float32,
                   cu_seqlens_q=cu, score_mod=randn(161, seed=43, device=device))


def test_fused_config_cell_names_the_fused_kernel(monkeypatch, device):
    """The benchmark's config cell names the fused dK/dV kernel, and nothing for a dQ kernel."""
    use_variant(monkeypatch, "tma_fused")
    _grads(*qkv(1, 24, 24, 1, 1, 16, device=device, seed=44))
    parsed = tuned.parse_config(tuned.format_config(triton_kernels.LAST_CONFIG))
    assert [kernel for kernel, *_ in parsed] == ["fwd_tma", "dkdv_fused_tma"]


def test_deterministic_algorithms_take_the_split_backward(monkeypatch, device):
    """torch.use_deterministic_algorithms(True) asks for bitwise-reproducible results: the fused
    variant then launches the dQ and dK/dV kernels (no atomics), and the fused one again after."""
    use_variant(monkeypatch, "fused")
    q, k, v = qkv(1, 24, 24, 1, 1, 16, device=device, seed=45)
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        _grads(q, k, v)
        assert {c["kernel"] for n, c in triton_kernels.LAST_CONFIG.items() if n.startswith("backward")} == {"dq", "dkdv"}
    finally:
        torch.use_deterministic_algorithms(before)
    _grads(q, k, v)
    assert {c["kernel"] for n, c in triton_kernels.LAST_CONFIG.items() if n.startswith("backward")} == {"dkdv_fused"}


@pytest.mark.gpu
@pytest.mark.parametrize("variant", ["fused", "tma_fused"])
@pytest.mark.parametrize("head_dim, batch, seq_len, heads, heads_kv, causal", [
    (64, 4, 1024, 4, 4, False), (128, 2, 2048, 4, 1, True), (64, 1, 8192, 2, 2, False), (128, 1, 8192, 2, 2, False)])
def test_fused_real_sizes_bf16(monkeypatch, variant, head_dim, batch, seq_len, heads, heads_kv, causal):
    """bf16 at the benchmark's sizes, through the autotuner or the tuned table (the autotuner
    must zero the dQ accumulator between the configs it times: reset_to_zero)."""
    use_variant(monkeypatch, variant)
    q, k, v = qkv(batch, seq_len, seq_len, heads, heads_kv, head_dim, device="cuda", seed=seq_len + head_dim + 2)
    g = torch.Generator().manual_seed(head_dim + 2)
    lens = torch.randint(int(0.75 * seq_len), seq_len + 1, (batch,), generator=g, dtype=torch.int32).cuda()
    check_accuracy(sigattn.sigmoid_attention, sigmoid_attention_ref, [q, k, v], dtype=torch.bfloat16,
                   seq_lens_q=lens, causal=causal)


def test_dq_from_accumulator_writes_the_scaled_cast_into_the_callers_view():
    """The fp32 dQ accumulator's last step (the fused and the Gluon backward): scaled and cast in one
    pass into dq, which may be a strided view (padded rows around it stay as they were)."""
    acc = randn(2, 33, 3, 64, seed=5, dtype=torch.float32) * 40
    storage = torch.full((2, 40, 3, 64), 7.0, dtype=torch.bfloat16)
    dq = storage[:, 4:37]
    scale = 0.7 / 8
    out = triton_kernels.dq_from_accumulator(dq, acc, scale)
    assert out.data_ptr() == dq.data_ptr() and out.dtype == torch.bfloat16
    assert torch.equal(storage[:, 4:37], (acc * scale).to(torch.bfloat16))
    assert (storage[:, :4] == 7).all() and (storage[:, 37:] == 7).all()
    assert torch.equal(acc, randn(2, 33, 3, 64, seed=5, dtype=torch.float32) * 40)  # the accumulator is read only
