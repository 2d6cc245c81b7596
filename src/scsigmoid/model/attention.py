"""Attention, chosen in ONE place: sigmoid (sigattn) or the fastest padding-aware softmax.

Inputs are padded ``[B, L, H, D]`` with trailing padding; ``seq_lens[b]`` valid tokens per row.

- ``sigmoid``: ``sigattn.sigmoid_attention`` with ``b = -log(valid keys of that cell)`` (bias=None).
- ``softmax``: on CUDA, FA2 varlen (``torch.nn.attention.varlen.varlen_attn``, torch >= 2.10) on the
  packed valid tokens, so padding costs no FLOPs; else SDPA with a key-padding mask (the plain
  PyTorch path on CPU).

Padded query rows of the output are zero in both arms.

The packed layout (:func:`attend_packed`, ``[T, H, D]`` + ``cu_seqlens``) runs no padding at all:
sigmoid via ``sigattn.sigmoid_attention_varlen``, softmax via FA2 varlen on CUDA (per-cell SDPA on
CPU).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

ATTENTIONS = ("softmax", "sigmoid")


def _has_varlen() -> bool:
    try:
        from torch.nn.attention.varlen import varlen_attn  # noqa: F401
    except ImportError:
        return False
    return True


def softmax_backend(device: torch.device | str) -> str:
    """Name of the softmax implementation used on ``device`` (recorded in run summaries)."""
    if torch.device(device).type == "cuda" and _has_varlen():
        return "fa2_varlen"
    return "sdpa_masked"


def attention_backend(attention: str, device: torch.device | str) -> str:
    """Name of the implementation behind ``attention`` on ``device``."""
    check_attention(attention)
    if attention == "softmax":
        return softmax_backend(device)
    import sigattn

    return "sigattn_" + sigattn.backend_for(torch.empty(0, device=device))


def check_attention(attention: str) -> None:
    if attention not in ATTENTIONS:
        raise ValueError(f"attention must be one of {ATTENTIONS}; got {attention!r}.")


def valid_mask(seq_lens: torch.Tensor, max_len: int) -> torch.Tensor:
    """``[B, L]`` bool, True at valid (non-padding) positions."""
    return torch.arange(max_len, device=seq_lens.device)[None, :] < seq_lens[:, None]


def _softmax_varlen(q, k, v, seq_lens, scale):
    from torch.nn.attention.varlen import varlen_attn

    bsz, length = q.shape[:2]
    keep = valid_mask(seq_lens, length)
    cu = torch.zeros(bsz + 1, dtype=torch.int32, device=q.device)
    cu[1:] = torch.cumsum(seq_lens, 0).to(torch.int32)
    max_len = int(seq_lens.max())
    out_packed = varlen_attn(q[keep], k[keep], v[keep], cu, cu, max_len, max_len, scale=scale)
    out = q.new_zeros(q.shape)
    out[keep] = out_packed.to(q.dtype)
    return out


def _softmax_sdpa(q, k, v, seq_lens, scale):
    length = q.shape[1]
    keep = valid_mask(seq_lens, length)
    mask = keep[:, None, None, :]  # [B, 1, 1, Lk]: attend to valid keys only
    out = F.scaled_dot_product_attention(
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask, scale=scale
    ).transpose(1, 2)
    return out * keep[:, :, None, None].to(out.dtype)


def _sigmoid(q, k, v, seq_lens, scale):
    import sigattn  # imported lazily: the kernel package may be absent in softmax-only use

    lens = seq_lens.to(torch.int32)
    return sigattn.sigmoid_attention(q, k, v, seq_lens_q=lens, seq_lens_k=lens, scale=scale)


def attend(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, seq_lens: torch.Tensor, attention: str
) -> torch.Tensor:
    """Bidirectional attention over the valid tokens of each row; returns ``[B, L, H, D]``."""
    scale = 1.0 / math.sqrt(q.shape[-1])
    if attention == "sigmoid":
        return _sigmoid(q, k, v, seq_lens, scale)
    if attention == "softmax":
        # FA2 takes half precision only; fp32 calls (e.g. score probes) take the SDPA path
        if softmax_backend(q.device) == "fa2_varlen" and q.dtype in (torch.float16, torch.bfloat16):
            return _softmax_varlen(q, k, v, seq_lens, scale)
        return _softmax_sdpa(q, k, v, seq_lens, scale)
    check_attention(attention)
    raise AssertionError("unreachable")


def attention_bias(attention: str, seq_lens: torch.Tensor) -> torch.Tensor:
    """Per-cell additive score bias: ``-log(valid keys)`` for sigmoid, 0 for softmax. ``[B]``."""
    if attention == "sigmoid":
        return -torch.log(seq_lens.to(torch.float32))
    return torch.zeros(seq_lens.shape, dtype=torch.float32, device=seq_lens.device)


@torch.no_grad()
def max_logit_proxy(q: torch.Tensor, k: torch.Tensor, seq_lens: torch.Tensor, n_rows: int = 64):
    """Largest |q·k|·scale over valid keys for up to ``n_rows`` evenly spaced valid query rows
    per cell (all rows when the cell is shorter): a cheap proxy of the largest attention logit."""
    bsz, length, _, dim = q.shape
    stride = max(1, length // n_rows)
    rows = torch.arange(0, length, stride, device=q.device)
    qs = q[:, rows].float()  # [B, R, H, D]
    scores = torch.einsum("brhd,bkhd->bhrk", qs, k.float()).abs() / math.sqrt(dim)
    key_ok = valid_mask(seq_lens, length)[:, None, None, :]
    row_ok = (rows[None, :] < seq_lens[:, None])[:, None, :, None]
    scores = scores.masked_fill(~(key_ok & row_ok), 0.0)
    return scores.amax()


def attend_packed(q, k, v, cu_seqlens: torch.Tensor, max_len: int, attention: str) -> torch.Tensor:
    """Attention within each packed cell: ``q/k/v [T, H, D]``, int32 ``cu_seqlens [N+1]``."""
    check_attention(attention)
    scale = 1.0 / math.sqrt(q.shape[-1])
    if attention == "sigmoid":
        import sigattn

        return sigattn.sigmoid_attention_varlen(q, k, v, cu_seqlens, max_seqlen_q=max_len,
                                                max_seqlen_k=max_len, scale=scale)
    if softmax_backend(q.device) == "fa2_varlen" and q.dtype in (torch.float16, torch.bfloat16):
        from torch.nn.attention.varlen import varlen_attn

        return varlen_attn(q, k, v, cu_seqlens, cu_seqlens, max_len, max_len, scale=scale)
    bounds = cu_seqlens.tolist()
    pieces = [
        F.scaled_dot_product_attention(*(t[a:b].transpose(0, 1)[None] for t in (q, k, v)),
                                       scale=scale)[0].transpose(0, 1)
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    return torch.cat(pieces)


def segment_ids(cu_seqlens: torch.Tensor, total: int) -> torch.Tensor:
    """``[T]`` index of the cell each packed token belongs to."""
    return torch.searchsorted(cu_seqlens[1:].long(), torch.arange(total, device=cu_seqlens.device),
                              right=True)


@torch.no_grad()
def max_logit_proxy_packed(q, k, cu_seqlens: torch.Tensor, n_rows: int = 256):
    """Packed counterpart of :func:`max_logit_proxy`: ``n_rows`` evenly spaced query tokens of the
    whole pack against the keys of their own cell."""
    total, _, dim = q.shape
    rows = torch.arange(0, total, max(1, total // n_rows), device=q.device)
    seg = segment_ids(cu_seqlens, total)
    scores = torch.einsum("rhd,khd->hrk", q[rows].float(), k.float()).abs() / math.sqrt(dim)
    same = (seg[rows][:, None] == seg[None, :])[None]
    return scores.masked_fill(~same, 0.0).amax()
