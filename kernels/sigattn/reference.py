"""Plain-PyTorch sigmoid attention: the ground truth for the kernels and the CPU fallback.

O = sigmoid(Q·Kᵀ·scale + b + score_mod)·V, with the same signatures and conventions as
:func:`sigattn.sigmoid_attention` / :func:`sigattn.sigmoid_attention_varlen`. Works for any floating
dtype and device and computes in the inputs' dtype (run it on float64 inputs for a reference).
"""

from __future__ import annotations

import torch

from . import checks

#: "Kernel correct", the one definition (compile self-check, benchmark gate, first-call check):
#: relative L2 error vs the fp32 reference at most (forward output, gradients), by input dtype.
TOLERANCES = {torch.bfloat16: (2e-2, 4e-2), torch.float16: (1e-2, 2e-2), torch.float32: (1e-4, 1e-3)}


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """‖actual − expected‖₂ / ‖expected‖₂ in fp32 (the metric of :data:`TOLERANCES`)."""
    actual, expected = actual.float(), expected.float()
    return (actual - expected).norm().item() / max(expected.norm().item(), 1e-12)


def sigmoid_attention_ref(q, k, v, *, seq_lens_q=None, seq_lens_k=None, causal=False,
                          scale=None, bias=None, score_mod=None):
    """Padded layout: q [B, Lq, Hq, D], k/v [B, Lk, Hkv, D] -> o [B, Lq, Hq, D]."""
    checks.check_qkv(q, k, v, rank=4, layout="padded [B, L, H, D]", kernel_dtypes=False)
    checks.check_scalars(scale, bias, causal)
    batch, len_q, heads_q, head_dim = q.shape
    len_k, heads_kv = k.shape[1], k.shape[2]
    checks.check_score_mod(score_mod, (batch, len_k), "padded layout: [B, Lk]", q.device)
    lens_q, lens_k = checks.padded_lengths(q, k, seq_lens_q, seq_lens_k)
    if not torch.compiler.is_compiling():
        checks.check_lengths("seq_lens_q", lens_q, len_q)
        checks.check_lengths("seq_lens_k", lens_k, len_k)
    scale = checks.resolve_scale(scale, head_dim)

    valid_q = torch.arange(len_q, device=q.device)[None, :] < lens_q[:, None]  # [B, Lq]
    valid_k = torch.arange(len_k, device=q.device)[None, :] < lens_k[:, None]  # [B, Lk]
    # Padding may hold anything (even NaN): zero it so that it cannot leak through 0 * NaN.
    q = torch.where(valid_q[:, :, None, None], q, torch.zeros((), dtype=q.dtype, device=q.device))
    k = torch.where(valid_k[:, :, None, None], k, torch.zeros((), dtype=k.dtype, device=k.device))
    v = torch.where(valid_k[:, :, None, None], v, torch.zeros((), dtype=v.dtype, device=v.device))
    group = heads_q // heads_kv
    k = k.repeat_interleave(group, dim=2)
    v = v.repeat_interleave(group, dim=2)

    scores = torch.einsum("bqhd,bkhd->bhqk", q, k) * scale
    if bias is None:  # b = -log(valid keys), per sequence (also for causal)
        b = -torch.log(lens_k.clamp(min=1).to(scores.dtype))
        scores = scores + b[:, None, None, None]
    else:
        scores = scores + float(bias)
    if score_mod is not None:  # a constant: no gradient flows into score_mod
        mod = torch.where(valid_k, score_mod.detach(), torch.zeros((), dtype=score_mod.dtype,
                                                                    device=q.device))
        scores = scores + mod.to(scores.dtype)[:, None, None, :]
    probs = torch.sigmoid(scores)
    keep = valid_q[:, None, :, None] & valid_k[:, None, None, :]
    if causal:  # top-left aligned: query i sees keys j <= i
        keep = keep & torch.ones(len_q, len_k, dtype=torch.bool, device=q.device).tril()
    probs = torch.where(keep, probs, torch.zeros((), dtype=probs.dtype, device=probs.device))
    return torch.einsum("bhqk,bkhd->bqhd", probs, v)


def sigmoid_attention_varlen_ref(q, k, v, cu_seqlens_q, cu_seqlens_k=None, *, max_seqlen_q=None,
                                 max_seqlen_k=None, causal=False, scale=None, bias=None,
                                 score_mod=None):
    """Packed layout: q [Tq, Hq, D], k/v [Tk, Hkv, D], cu_seqlens [N+1] -> o [Tq, Hq, D].

    Loops over sequences in Python (reads cu_seqlens on the host), so it is not traceable by
    ``torch.compile(fullgraph=True)``; ``max_seqlen_*`` are only checked (a value smaller than the
    longest sequence raises, as the kernels' path does).
    """
    checks.check_qkv(q, k, v, rank=3, layout="packed [T, H, D]", kernel_dtypes=False)
    checks.check_scalars(scale, bias, causal)
    cu_q, cu_k = checks.cu_seqlens_pair(cu_seqlens_q, cu_seqlens_k, q, k, check_values=True)
    checks.check_score_mod(score_mod, (k.shape[0],), "packed layout: [T_k]", q.device)
    starts_q, starts_k = cu_q.tolist(), cu_k.tolist()
    for side, starts, given in (("q", starts_q, max_seqlen_q), ("k", starts_k, max_seqlen_k)):
        lengths = [end - begin for begin, end in zip(starts[:-1], starts[1:], strict=True)]
        checks.check_max_seqlen(side, given, max(lengths, default=0))
    pieces = []
    for i in range(len(starts_q) - 1):
        q0, q1, k0, k1 = starts_q[i], starts_q[i + 1], starts_k[i], starts_k[i + 1]
        mod = None if score_mod is None else score_mod[k0:k1][None]
        out = sigmoid_attention_ref(q[q0:q1][None], k[k0:k1][None], v[k0:k1][None], causal=causal,
                                    scale=scale, bias=bias, score_mod=mod)
        pieces.append(out[0])
    if not pieces:
        return q.new_zeros(q.shape)
    return torch.cat(pieces, dim=0)
