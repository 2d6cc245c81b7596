"""Plain PyTorch attention on [B, H, L, D] tensors: the "standard attention" baseline (sigmoid,
computed in the input dtype) and, in fp32, the reference the correctness gate compares against."""

from __future__ import annotations

import math

import torch


def key_padding_mask(lengths: torch.Tensor, seq_len: int) -> torch.Tensor:
    """[B, 1, 1, L] boolean: True where the key position is a real (non-padded) token."""
    positions = torch.arange(seq_len, device=lengths.device)
    return (positions[None, :] < lengths[:, None].to(positions.dtype))[:, None, None, :]


def query_valid_mask(lengths: torch.Tensor, seq_len: int) -> torch.Tensor:
    """[B, L] boolean: True where the query position is a real token."""
    positions = torch.arange(seq_len, device=lengths.device)
    return positions[None, :] < lengths[:, None].to(positions.dtype)


def eager_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                    lengths: torch.Tensor | None = None, *, kind: str = "sigmoid",
                    bias: float | None = 0.0, causal: bool = False,
                    scale: float | None = None) -> torch.Tensor:
    """O = σ(QKᵀ·scale + b)·V (kind='sigmoid') or softmax(QKᵀ·scale)·V, keys beyond each
    sequence's length masked out. bias=None means b = -log(valid keys) (training default)."""
    if kind not in ("sigmoid", "softmax"):
        raise ValueError(f"kind must be 'sigmoid' or 'softmax'; got {kind!r}.")
    batch, _, seq_len, head_dim = q.shape
    scale = 1.0 / math.sqrt(head_dim) if scale is None else scale
    scores = torch.matmul(q * scale, k.transpose(-1, -2))
    keep = None
    if lengths is not None:
        keep = key_padding_mask(lengths, seq_len)
    if causal:
        lower = torch.ones(seq_len, seq_len, dtype=torch.bool, device=q.device).tril()
        keep = lower if keep is None else keep & lower
    if kind == "sigmoid":
        if bias is None:
            valid = lengths if lengths is not None else torch.full((batch,), seq_len, device=q.device)
            scores = scores - torch.log(valid.to(scores.dtype))[:, None, None, None]
        elif bias != 0.0:
            scores = scores + bias
        probs = torch.sigmoid(scores)
        if keep is not None:
            probs = probs.masked_fill(~keep, 0.0)
    else:
        if keep is not None:
            scores = scores.masked_fill(~keep, float("-inf"))
        probs = torch.softmax(scores, dim=-1)
    return torch.matmul(probs, v)
