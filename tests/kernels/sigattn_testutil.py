"""Helpers shared by the kernel tests: random inputs, fp64 truth and the accuracy criterion."""

from __future__ import annotations

import torch
from sigattn.reference import sigmoid_attention_ref, sigmoid_attention_varlen_ref

EPS = {torch.float32: 2.0**-23, torch.float16: 2.0**-10, torch.bfloat16: 2.0**-7}


def randn(*shape, dtype=torch.float32, device="cpu", seed=0, scale=1.0, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    t = (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(device=device, dtype=dtype)
    return t.requires_grad_(requires_grad)


def qkv(batch, len_q, len_k, heads_q, heads_kv, head_dim, *, dtype=torch.float32, device="cpu",
        seed=0, packed=False, scale=1.0):
    """Padded q/k/v [B, L, H, D] (or packed [T, H, D] with T = batch*len) that require grad."""
    shape_q = (batch * len_q,) if packed else (batch, len_q)
    shape_k = (batch * len_k,) if packed else (batch, len_k)
    return (randn(*shape_q, heads_q, head_dim, dtype=dtype, device=device, seed=seed, scale=scale, requires_grad=True),
            randn(*shape_k, heads_kv, head_dim, dtype=dtype, device=device, seed=seed + 1, scale=scale, requires_grad=True),
            randn(*shape_k, heads_kv, head_dim, dtype=dtype, device=device, seed=seed + 2, requires_grad=True))


def forward_backward(fn, tensors, grad_out, **kwargs):
    """(output, grads of tensors) of fn(*tensors, **kwargs) for the output gradient grad_out."""
    out = fn(*tensors, **kwargs)
    grads = torch.autograd.grad(out, tensors, grad_out.to(out.dtype))
    return out.detach(), grads


def use_variant(monkeypatch, variant: str) -> None:
    """Launch ``variant`` ("default", "fast", "tma", "fma", ...: sigattn.triton_kernels.variant_env)
    for the rest of the test."""
    from sigattn import triton_kernels

    for name in ("TMA", "FUSED", "QREG", "KVREG", "WS", "PERSISTENT", "WSB", "SIGMOID", "TUNED"):  # what select_variant sets: monkeypatch restores them
        monkeypatch.setattr(triton_kernels, name, getattr(triton_kernels, name))
    triton_kernels.select_variant(variant)


def leaf(t, dtype=None):
    return t.detach().to(dtype or t.dtype).requires_grad_(True)


def check_accuracy(fn, ref_fn, tensors, *, dtype, factor_fwd=2.0, factor_bwd=3.0, **kwargs):
    """Kernel error vs an fp64 truth <= factor x the reference's own error in ``dtype`` + a small
    dtype tolerance; forward (factor_fwd) and the three gradients (factor_bwd)."""
    tensors = [leaf(t, dtype) for t in tensors]
    truth_in = [leaf(t, torch.float64) for t in tensors]
    out_shape = tensors[0].shape
    grad_out = randn(*out_shape, seed=99, dtype=torch.float64, device=tensors[0].device)
    mods = {k: (v.double() if isinstance(v, torch.Tensor) and v.is_floating_point() else v)
            for k, v in kwargs.items()}
    truth, truth_grads = forward_backward(ref_fn, truth_in, grad_out, **mods)
    low, low_grads = forward_backward(ref_fn, [leaf(t) for t in tensors], grad_out, **kwargs)
    got, got_grads = forward_backward(fn, tensors, grad_out, **kwargs)
    report = {}
    for name, g, r, t, factor in [("o", got, low, truth, factor_fwd)] + [
            (f"d{n}", g, r, t, factor_bwd) for n, g, r, t in zip("qkv", got_grads, low_grads, truth_grads, strict=True)]:
        assert not torch.isnan(g).any(), f"{name}: NaN in kernel output (unwritten or invalid)"
        err = (g.double() - t).abs().max().item()
        ref_err = (r.double() - t).abs().max().item()
        tol = 0.5 * EPS[dtype] * max(t.abs().max().item(), 1e-3)  # half an ulp of the largest value
        report[name] = (err, ref_err)
        assert err <= factor * ref_err + tol, (
            f"{name}: kernel error {err:.3g} > {factor} x reference error {ref_err:.3g} + {tol:.3g}")
    return report


__all__ = ["check_accuracy", "forward_backward", "qkv", "randn", "sigmoid_attention_ref",
           "sigmoid_attention_varlen_ref", "leaf", "use_variant"]
