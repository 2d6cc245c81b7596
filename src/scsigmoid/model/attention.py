"""Attention, chosen in ONE place: sigmoid (our ``sigattn`` kernel, or the authors' TritonSigmoid)
or the fastest padding-aware softmax, over one of two batch layouts.

Layouts (built ONCE per batch, so no layer reads a tensor's values on the host):

- :class:`Packed`: cells back to back, ``[T, ...]`` + int32 ``cu_seqlens`` + ``max_len`` (a Python
  int) + ``positions`` (rank of each token in its cell). No padding anywhere.
- :class:`Padded`: ``[B, L, ...]`` with trailing padding, ``seq_lens [B]``, plus the packing of the
  valid tokens (``flat_index``, ``cu_seqlens``, ``max_len``) for kernels that take packed input.
  A bare ``seq_lens`` tensor is accepted too and turned into a :class:`Padded` once per forward.

Kernels:

- ``sigmoid`` + ``sigattn``: ``sigattn.sigmoid_attention[_varlen]`` with ``b = -log(valid keys)``.
- ``sigmoid`` + ``tritonsigmoid``: the authors' ``triton_sigmoid.sigmoid_attention_padded``
  (padded layout only; same default bias); imported lazily, CUDA only.
- ``softmax``: on CUDA, FA2 varlen (``torch.nn.attention.varlen.varlen_attn``, torch >= 2.10) on the
  packed valid tokens, so padding costs no FLOPs (padded layout: gathered with the batch's
  precomputed index, no host sync); elsewhere SDPA with a key-padding mask (plain PyTorch on CPU).

Padded query rows of the output are zero in every arm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from sigattn import cu_seqlens

from scsigmoid import ATTENTIONS

SIGMOID_KERNELS = ("sigattn", "tritonsigmoid")
#: Kernels see the longest sequence rounded up to this: launch grids (and Triton's integer
#: specialisation) then change only between buckets, not with every batch.
MAX_LEN_MULTIPLE = 64


def check_attention(attention: str, sigmoid_kernel: str = "sigattn") -> None:
    if attention not in ATTENTIONS:
        raise ValueError(f"attention must be one of {ATTENTIONS}; got {attention!r}.")
    if sigmoid_kernel not in SIGMOID_KERNELS:
        raise ValueError(f"sigmoid_kernel must be one of {SIGMOID_KERNELS}; got {sigmoid_kernel!r}.")


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


def attention_backend(attention: str, device: torch.device | str, sigmoid_kernel: str = "sigattn") -> str:
    """Name of the implementation behind ``attention`` on ``device``."""
    check_attention(attention, sigmoid_kernel)
    if attention == "softmax":
        return softmax_backend(device)
    if sigmoid_kernel == "tritonsigmoid":
        return "tritonsigmoid"
    import sigattn

    return "sigattn_" + sigattn.backend_for(torch.empty(0, device=device))


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def segment_ids(cu_seqlens: torch.Tensor, total: int) -> torch.Tensor:
    """``[T]`` index of the cell each packed token belongs to."""
    return torch.searchsorted(cu_seqlens[1:].long(), torch.arange(total, device=cu_seqlens.device),
                              right=True)


@dataclass(frozen=True)
class Packed:
    """Packed (varlen) layout: cell ``i`` at ``cu_seqlens[i]:cu_seqlens[i+1]`` (int32), ``max_len``
    the longest cell (a Python int), ``positions [T]`` each token's rank in its cell (0 = CLS)."""

    cu_seqlens: torch.Tensor
    max_len: int
    positions: torch.Tensor

    @classmethod
    def from_lengths(cls, seq_lens: torch.Tensor) -> Packed:
        """From cell lengths; reads them once on the host (build it where they live: the CPU)."""
        cu = cu_seqlens(seq_lens)
        total = int(cu[-1])
        positions = torch.arange(total, device=cu.device) - cu[segment_ids(cu, total)].long()
        return cls(cu, int(seq_lens.max()) if len(seq_lens) else 0, positions)

    def to(self, device) -> Packed:
        return Packed(self.cu_seqlens.to(device), self.max_len, self.positions.to(device))


@dataclass(frozen=True)
class Padded:
    """Padded layout ``[B, L]`` (trailing padding) with the packing of its valid tokens:
    ``flat_index [T]`` = b·L + t of every valid token, in cell order; ``cu_seqlens``/``max_len`` as
    in :class:`Packed`."""

    seq_lens: torch.Tensor
    width: int
    flat_index: torch.Tensor
    cu_seqlens: torch.Tensor
    max_len: int

    @classmethod
    def from_lengths(cls, seq_lens: torch.Tensor, width: int | None = None) -> Padded:
        """From ``seq_lens [B]``; one host read of the lengths (none per layer)."""
        longest = int(seq_lens.max())
        width = longest if width is None else int(width)
        keep = valid_mask(seq_lens, width)
        flat = torch.arange(len(seq_lens) * width, device=seq_lens.device).view(-1, width)[keep]
        return cls(seq_lens, width, flat, cu_seqlens(seq_lens), longest)

    def to(self, device) -> Padded:
        return Padded(self.seq_lens.to(device), self.width, self.flat_index.to(device),
                      self.cu_seqlens.to(device), self.max_len)


def valid_mask(seq_lens: torch.Tensor, max_len: int) -> torch.Tensor:
    """``[B, L]`` bool, True at valid (non-padding) positions."""
    return torch.arange(max_len, device=seq_lens.device)[None, :] < seq_lens[:, None]


def _fa2_varlen(q, k, v, cu_seqlens, max_len, scale):
    """FlashAttention-2 varlen (packed ``[T, H, D]``); a separate function so tests can stand in."""
    from torch.nn.attention.varlen import varlen_attn

    return varlen_attn(q, k, v, cu_seqlens, cu_seqlens, max_len, max_len, scale=scale)


def _use_fa2(q) -> bool:
    # FA2 takes half precision only; fp32 calls (e.g. score probes) take the SDPA path
    return softmax_backend(q.device) == "fa2_varlen" and q.dtype in (torch.float16, torch.bfloat16)


def _kernel_len(max_len: int) -> int:
    return _round_up(max(max_len, 1), MAX_LEN_MULTIPLE)


def _softmax_padded(q, k, v, layout: Padded, scale):
    bsz, width = q.shape[:2]
    if _use_fa2(q):
        flat = layout.flat_index
        pack = lambda t: t.flatten(0, 1).index_select(0, flat)  # noqa: E731
        out_packed = _fa2_varlen(pack(q), pack(k), pack(v), layout.cu_seqlens,
                                 _kernel_len(layout.max_len), scale)
        out = q.new_zeros((bsz * width, *q.shape[2:]))
        return out.index_copy(0, flat, out_packed.to(q.dtype)).view(q.shape)
    keep = valid_mask(layout.seq_lens, width)
    out = F.scaled_dot_product_attention(
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=keep[:, None, None, :],
        scale=scale,
    ).transpose(1, 2)
    return out * keep[:, :, None, None].to(out.dtype)


def _sigmoid_padded(q, k, v, layout: Padded, scale, sigmoid_kernel: str):
    lens = layout.seq_lens.to(torch.int32)
    if sigmoid_kernel == "tritonsigmoid":
        from triton_sigmoid import sigmoid_attention_padded  # the authors' kernel (CUDA only)

        return sigmoid_attention_padded(q, k, v, seq_lens_k=lens, seq_lens_q=lens, is_causal=False,
                                        scale=scale)
    import sigattn  # imported lazily: the kernel package may be absent in softmax-only use

    with sigattn.trusted_lengths():  # our own layouts: no host check of their values
        return sigattn.sigmoid_attention(q, k, v, seq_lens_q=lens, seq_lens_k=lens, scale=scale)


def attend(q, k, v, layout, attention: str, sigmoid_kernel: str = "sigattn") -> torch.Tensor:
    """Bidirectional attention over the valid tokens of each row of a padded ``[B, L, H, D]``
    batch (``layout``: a :class:`Padded` or the ``seq_lens`` tensor); returns ``[B, L, H, D]``."""
    check_attention(attention, sigmoid_kernel)
    if not isinstance(layout, Padded):
        layout = Padded.from_lengths(layout, q.shape[1])
    scale = 1.0 / math.sqrt(q.shape[-1])
    if attention == "sigmoid":
        return _sigmoid_padded(q, k, v, layout, scale, sigmoid_kernel)
    return _softmax_padded(q, k, v, layout, scale)


def attend_packed(q, k, v, layout: Packed, attention: str, sigmoid_kernel: str = "sigattn") -> torch.Tensor:
    """Attention within each packed cell: ``q/k/v [T, H, D]`` and a :class:`Packed` layout."""
    check_attention(attention, sigmoid_kernel)
    scale = 1.0 / math.sqrt(q.shape[-1])
    if attention == "sigmoid":
        if sigmoid_kernel != "sigattn":
            raise ValueError(f"sigmoid_kernel {sigmoid_kernel!r} has no packed layout; use the "
                             "padded layout for it (TritonSigmoid takes [B, L, H, D] only).")
        import sigattn

        n = _kernel_len(layout.max_len)
        with sigattn.trusted_lengths():  # our own layouts: no host check of their values
            return sigattn.sigmoid_attention_varlen(q, k, v, layout.cu_seqlens, max_seqlen_q=n,
                                                    max_seqlen_k=n, scale=scale)
    if _use_fa2(q):
        return _fa2_varlen(q, k, v, layout.cu_seqlens, _kernel_len(layout.max_len), scale)
    bounds = layout.cu_seqlens.tolist()  # CPU fallback: one SDPA call per cell
    pieces = [
        F.scaled_dot_product_attention(*(t[a:b].transpose(0, 1)[None] for t in (q, k, v)),
                                       scale=scale)[0].transpose(0, 1)
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    return torch.cat(pieces)


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
