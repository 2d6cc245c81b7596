"""Layouts and masks: padded == packed == per-sequence dense; padding never leaks (even NaN);
padded rows and padded gradients are exact zeros; strided inputs; default-length rules."""

import sigattn
import torch
from sigattn.reference import sigmoid_attention_ref
from sigattn_testutil import leaf, qkv, randn

LENGTHS = [0, 1, 7, 33]
PAD_LEN = 40


def _pack(padded, lens):
    return torch.cat([padded[i, :n] for i, n in enumerate(lens)], dim=0)


def test_padded_equals_packed_equals_dense(device, kernel_variant):
    q, k, v = qkv(4, PAD_LEN, PAD_LEN, 2, 1, 16, device=device, seed=10)
    mod = randn(4, PAD_LEN, seed=11, device=device)
    lens = torch.tensor(LENGTHS, dtype=torch.int32, device=device)
    grad_out = randn(4, PAD_LEN, 2, 16, seed=12, device=device)

    o_pad = sigattn.sigmoid_attention(q, k, v, seq_lens_q=lens, score_mod=mod)
    g_pad = torch.autograd.grad(o_pad, (q, k, v), grad_out)

    packed = [leaf(_pack(t.detach(), LENGTHS)) for t in (q, k, v)]
    cu = torch.tensor([0, *torch.tensor(LENGTHS).cumsum(0).tolist()], dtype=torch.int32, device=device)
    o_pack = sigattn.sigmoid_attention_varlen(*packed, cu, score_mod=_pack(mod, LENGTHS))
    g_pack = torch.autograd.grad(o_pack, packed, _pack(grad_out, LENGTHS))

    assert not torch.isnan(o_pad).any() and not torch.isnan(o_pack).any()
    torch.testing.assert_close(_pack(o_pad.detach(), LENGTHS), o_pack.detach(), rtol=1e-5, atol=1e-6)
    for a, b in zip(g_pad, g_pack, strict=True):
        torch.testing.assert_close(_pack(a, LENGTHS), b, rtol=1e-5, atol=1e-6)
    for i, n in enumerate(LENGTHS):  # padded rows / padded keys: exact zeros
        assert o_pad[i, n:].abs().sum().item() == 0
        for g in g_pad:
            assert g[i, n:].abs().sum().item() == 0
    for i, n in enumerate(LENGTHS):  # each sequence alone, no padding at all
        if n == 0:
            continue
        dense = sigattn.sigmoid_attention(q[i:i + 1, :n].detach(), k[i:i + 1, :n].detach(),
                                          v[i:i + 1, :n].detach(), score_mod=mod[i:i + 1, :n])
        torch.testing.assert_close(dense[0], o_pad[i, :n].detach(), rtol=1e-5, atol=1e-6)


def test_nan_in_padding_does_not_leak(device, kernel_variant):
    q, k, v = qkv(2, 24, 24, 1, 1, 16, device=device, seed=13)
    lens = torch.tensor([24, 9], dtype=torch.int32, device=device)
    clean = [t.detach() for t in (q, k, v)]
    dirty = [t.clone() for t in clean]
    for t in dirty:
        t[1, 9:] = float("nan")
    dirty = [leaf(t) for t in dirty]
    out = sigattn.sigmoid_attention(*dirty, seq_lens_q=lens, causal=True)
    grads = torch.autograd.grad(out, dirty, torch.ones_like(out))
    expected = sigmoid_attention_ref(*clean, seq_lens_q=lens, causal=True)
    assert torch.isfinite(out).all() and all(torch.isfinite(g).all() for g in grads)
    torch.testing.assert_close(out.detach(), expected, rtol=1e-5, atol=1e-6)
    assert out[1, 9:].abs().sum().item() == 0


def test_non_contiguous_inputs(device):
    base = randn(2, 2, 40, 3 * 16, seed=14, device=device)  # [B, H, L, 3D]: slices are strided
    q, k, v = (base[..., i * 16:(i + 1) * 16].transpose(1, 2) for i in range(3))
    assert not q.is_contiguous()
    lens = torch.tensor([40, 13], dtype=torch.int32, device=device)
    out = sigattn.sigmoid_attention(q, k, v, seq_lens_q=lens)
    expected = sigattn.sigmoid_attention(q.contiguous(), k.contiguous(), v.contiguous(), seq_lens_q=lens)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    torch.testing.assert_close(out, sigmoid_attention_ref(q, k, v, seq_lens_q=lens), rtol=1e-5, atol=1e-6)


def test_seq_lens_q_alone_applies_to_keys_and_bias_override(device):
    q, k, v = qkv(2, 20, 20, 1, 1, 16, device=device, seed=15)
    lens = torch.tensor([20, 6], dtype=torch.int32, device=device)
    with torch.no_grad():
        got = sigattn.sigmoid_attention(q, k, v, seq_lens_q=lens)
        both = sigattn.sigmoid_attention(q, k, v, seq_lens_q=lens, seq_lens_k=lens)
        zero_bias = sigattn.sigmoid_attention(q, k, v, seq_lens_q=lens, bias=0.0)
    torch.testing.assert_close(got, both, rtol=0, atol=0)
    torch.testing.assert_close(zero_bias, sigmoid_attention_ref(q, k, v, seq_lens_q=lens, bias=0.0),
                               rtol=1e-5, atol=1e-6)
    assert not torch.allclose(zero_bias, got)  # the default bias -log(n) really is applied


def test_packed_cu_seqlens_k_defaults_to_q_and_empty_batch(device):
    q, k, v = qkv(1, 10, 10, 1, 1, 16, device=device, seed=16, packed=True)
    cu = torch.tensor([0, 4, 10], dtype=torch.int32, device=device)
    with torch.no_grad():
        a = sigattn.sigmoid_attention_varlen(q, k, v, cu)
        b = sigattn.sigmoid_attention_varlen(q, k, v, cu, cu.clone(), max_seqlen_q=6, max_seqlen_k=6)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    empty = torch.zeros(0, 1, 16, device=device)
    out = sigattn.sigmoid_attention_varlen(empty, empty, empty, torch.zeros(1, dtype=torch.int32, device=device))
    assert out.shape == (0, 1, 16)


def test_unchecked_fast_path_gives_same_results(monkeypatch, device):
    q, k, v = qkv(2, 20, 20, 1, 1, 16, device=device, seed=17)
    lens = torch.tensor([20, 6], dtype=torch.int32, device=device)
    cu = torch.tensor([0, 20, 26], dtype=torch.int32, device=device)
    packed = [torch.cat([t.detach()[0], t.detach()[1, :6]]) for t in (q, k, v)]
    with torch.no_grad():
        checked = (sigattn.sigmoid_attention(q, k, v, seq_lens_q=lens),
                   sigattn.sigmoid_attention_varlen(*packed, cu, max_seqlen_q=20, max_seqlen_k=20))
        monkeypatch.setattr(sigattn.ops, "CHECK_VALUES", False)
        unchecked = (sigattn.sigmoid_attention(q, k, v, seq_lens_q=lens),
                     sigattn.sigmoid_attention_varlen(*packed, cu, max_seqlen_q=20, max_seqlen_k=20))
    for a, b in zip(checked, unchecked, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_cu_seqlens_from_lengths():
    cu = sigattn.cu_seqlens(torch.tensor([3, 0, 5]))
    assert cu.dtype == torch.int32 and cu.tolist() == [0, 3, 3, 8]
    assert sigattn.cu_seqlens(torch.tensor([], dtype=torch.int64)).tolist() == [0]


def test_launches_that_compile_differently_never_share_an_autotune_key(device, monkeypatch):
    """Every constexpr flag that is not fixed by the dtype is part of the autotune key: padded and
    packed launches (STORE_PADDED), the default bias and a given one, with and without score_mod
    each compile their own kernel, and one's autotuned config must not be reused for the other
    (on the H200 a packed hd128 forward ran 1.22x slower under the padded launch's choice)."""
    from sigattn import triton_kernels

    launched = []
    real_launch = triton_kernels._launch

    def spy(name, kernel, autotuner, grid, args, flags, *rest):
        launched.append((name, dict(flags), tuple(autotuner.keys)))
        return real_launch(name, kernel, autotuner, grid, args, flags, *rest)

    monkeypatch.setattr(triton_kernels, "_launch", spy)
    q, k, v = qkv(2, PAD_LEN, PAD_LEN, 2, 1, 16, device=device, seed=20)
    lens = torch.tensor([33, 7], dtype=torch.int32, device=device)
    cu = torch.tensor([0, 33, 40], dtype=torch.int32, device=device)
    packed = [leaf(_pack(t.detach(), [33, 7])) for t in (q, k, v)]
    outs = [sigattn.sigmoid_attention(q, k, v, seq_lens_q=lens),
            sigattn.sigmoid_attention(q, k, v, seq_lens_q=lens, bias=0.0),
            sigattn.sigmoid_attention(q, k, v, seq_lens_q=lens, score_mod=randn(2, PAD_LEN, seed=21, device=device)),
            sigattn.sigmoid_attention_varlen(*packed, cu)]
    for o, leaves in zip(outs, [(q, k, v)] * 3 + [packed], strict=True):
        torch.autograd.grad(o.sum(), leaves)

    dtype_bound = {"UPCAST_DOT", "DOT_PRECISION"}  # follow the tensors' dtype, which Triton keys on
    by_kernel = {}
    for name, flags, keys in launched:
        by_kernel.setdefault(name, []).append((flags, keys))
    assert len(by_kernel) == 3 and all(len(calls) == 4 for calls in by_kernel.values()), by_kernel.keys()
    for name, calls in by_kernel.items():
        for flags, keys in calls:
            missing = sorted(set(flags) - set(keys) - dtype_bound)
            assert not missing, f"{name}: flags {missing} compile a kernel of their own but are not in its autotune key"
        key_of = [tuple(flags[k] for k in keys if k in flags) for flags, keys in calls]
        assert len(set(key_of)) == 4, f"{name}: launches with different flags share an autotune key: {key_of}"
