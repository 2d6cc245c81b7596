"""Argument checking shared by the kernels and the reference.

Static checks (ranks, dtypes, devices, head dims, shapes) run on every call, also while
``torch.compile`` traces. Value checks (sequence lengths, cu_seqlens) read tensor contents, so they
run where values are concrete: inside the custom op, or eagerly on the reference path.
"""

from __future__ import annotations

import math

import torch

SUPPORTED_DTYPES = (torch.float16, torch.bfloat16, torch.float32)
SUPPORTED_HEAD_DIMS = (16, 32, 64, 128, 256)


def _fail(exc: type[Exception], msg: str):
    raise exc(msg)


def check_qkv(q, k, v, *, rank: int, layout: str, kernel_dtypes: bool) -> None:
    """q/k/v: tensors of one dtype and device, the given rank, matching sizes, supported head dim."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            _fail(TypeError, f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() != rank:
            _fail(ValueError, f"{name} must have rank {rank} ({layout}), got shape {tuple(t.shape)}")
    if not (q.dtype == k.dtype == v.dtype):
        _fail(TypeError, f"q, k, v must share one dtype, got {q.dtype}, {k.dtype}, {v.dtype}; cast them first")
    if kernel_dtypes and q.dtype not in SUPPORTED_DTYPES:
        _fail(TypeError, f"q dtype must be one of float16, bfloat16, float32, got {q.dtype} "
                         "(use sigattn.reference for other dtypes)")
    if not q.dtype.is_floating_point:
        _fail(TypeError, f"q, k, v must be floating point, got {q.dtype}")
    if not (q.device == k.device == v.device):
        _fail(ValueError, f"q, k, v must be on one device, got {q.device}, {k.device}, {v.device}")
    if k.shape != v.shape:
        _fail(ValueError, f"k and v must have the same shape, got {tuple(k.shape)} and {tuple(v.shape)}")
    d = q.shape[-1]
    if k.shape[-1] != d:
        _fail(ValueError, f"head dim of k ({k.shape[-1]}) must equal head dim of q ({d})")
    if d not in SUPPORTED_HEAD_DIMS:
        _fail(ValueError, f"head dim must be one of {SUPPORTED_HEAD_DIMS}, got {d}; pad the head dim")
    hq, hkv = q.shape[-2], k.shape[-2]
    if hkv == 0 or hq % hkv != 0:
        _fail(ValueError, f"query heads ({hq}) must be a multiple of key/value heads ({hkv}) for GQA/MQA")
    if rank == 4 and k.shape[0] != q.shape[0]:
        _fail(ValueError, f"batch of k ({k.shape[0]}) must equal batch of q ({q.shape[0]})")


def check_scalars(scale, bias, causal) -> None:
    if scale is not None and not isinstance(scale, (int, float)):
        _fail(TypeError, f"scale must be a float or None, got {type(scale).__name__}")
    if bias is not None and not isinstance(bias, (int, float)):
        _fail(TypeError, f"bias must be a float or None (None: -log(valid keys)), got {type(bias).__name__}")
    for name, value in (("scale", scale), ("bias", bias)):
        if value is not None and not math.isfinite(value):
            _fail(ValueError, f"{name} must be finite, got {value} (a NaN or infinite {name} would make "
                              "every score non-finite)")
    if not isinstance(causal, bool):
        _fail(TypeError, f"causal must be a bool, got {type(causal).__name__}")


def check_int_vector(name: str, t, length: int, device) -> None:
    if not isinstance(t, torch.Tensor):
        _fail(TypeError, f"{name} must be an integer torch.Tensor, got {type(t).__name__}")
    if t.dtype.is_floating_point or t.dtype.is_complex or t.dtype == torch.bool:
        _fail(TypeError, f"{name} must have an integer dtype (int32), got {t.dtype}")
    if t.dim() != 1 or t.shape[0] != length:
        _fail(ValueError, f"{name} must have shape [{length}], got {tuple(t.shape)}")


def check_score_mod(score_mod, expected_shape: tuple[int, ...], where: str, device) -> None:
    if score_mod is None:
        return
    if not isinstance(score_mod, torch.Tensor) or not score_mod.dtype.is_floating_point:
        _fail(TypeError, f"score_mod must be a floating-point tensor of shape {list(expected_shape)} ({where})")
    if tuple(score_mod.shape) != tuple(expected_shape):
        _fail(ValueError, f"score_mod must have shape {list(expected_shape)} ({where}), got {tuple(score_mod.shape)}")
    if score_mod.device != device:
        _fail(ValueError, f"score_mod must be on {device}, got {score_mod.device}")


def check_lengths(name: str, lens: torch.Tensor, max_len: int) -> None:
    """Value check: 0 <= lens <= max_len (padded layout)."""
    if lens.numel() == 0:
        return
    lo, hi = int(lens.min()), int(lens.max())
    if lo < 0 or hi > max_len:
        _fail(ValueError, f"{name} must lie in [0, {max_len}] (the padded length), got min {lo}, max {hi}")


def check_cu_seqlens(name: str, cu: torch.Tensor, total_tokens: int) -> None:
    """Value check: starts at 0, non-decreasing, ends at the number of packed tokens."""
    if cu.dim() != 1 or cu.numel() < 1:
        _fail(ValueError, f"{name} must be a 1-D tensor [N+1], got shape {tuple(cu.shape)}")
    values = cu.detach().to("cpu", torch.int64)
    if int(values[0]) != 0:
        _fail(ValueError, f"{name} must start at 0, got {int(values[0])}")
    if values.numel() > 1 and bool((values[1:] < values[:-1]).any()):
        _fail(ValueError, f"{name} must be non-decreasing, got {values.tolist()[:16]}")
    if int(values[-1]) != total_tokens:
        _fail(ValueError, f"{name}[-1] must equal the number of packed tokens ({total_tokens}), "
                          f"got {int(values[-1])}")


def check_max_seqlen(side: str, given: int | None, longest: int) -> None:
    """Value check: a caller's max_seqlen_<side> (None: computed) covers the longest sequence."""
    if given is not None and 0 <= given < longest:
        _fail(ValueError, f"max_seqlen_{side} ({given}) is smaller than the longest sequence "
                          f"({longest}); pass None to compute it")


def padded_lengths(q, k, seq_lens_q, seq_lens_k) -> tuple[torch.Tensor, torch.Tensor]:
    """Valid lengths per sequence for the padded layout, as int32 tensors on q's device.

    Rules: a missing ``seq_lens_k`` means all keys are valid, except that when only ``seq_lens_q`` is
    given and Lq == Lk it is used for the keys too (padded self-attention). Only ``seq_lens_q`` with
    Lq != Lk is ambiguous and raises. A missing ``seq_lens_q`` means all query rows are valid.
    """
    b, lq, lk = q.shape[0], q.shape[1], k.shape[1]
    if seq_lens_q is not None:
        check_int_vector("seq_lens_q", seq_lens_q, b, q.device)
    if seq_lens_k is not None:
        check_int_vector("seq_lens_k", seq_lens_k, b, q.device)
    if seq_lens_k is None and seq_lens_q is not None:
        if lq != lk:
            _fail(ValueError, f"seq_lens_q given without seq_lens_k but Lq ({lq}) != Lk ({lk}); "
                              "pass seq_lens_k for cross-attention")
        seq_lens_k = seq_lens_q
    lens_q = (torch.full((b,), lq, dtype=torch.int32, device=q.device) if seq_lens_q is None
              else seq_lens_q.to(device=q.device, dtype=torch.int32))
    lens_k = (torch.full((b,), lk, dtype=torch.int32, device=q.device) if seq_lens_k is None
              else seq_lens_k.to(device=q.device, dtype=torch.int32))
    return lens_q, lens_k


def resolve_scale(scale, head_dim: int) -> float:
    return float(head_dim) ** -0.5 if scale is None else float(scale)


def cu_seqlens_pair(cu_seqlens_q, cu_seqlens_k, q, k, *, check_values: bool):
    """Checked (cu_q, cu_k) for the packed layout; cu_seqlens_k defaults to cu_seqlens_q."""
    if not isinstance(cu_seqlens_q, torch.Tensor):
        raise TypeError(f"cu_seqlens_q must be an int32 torch.Tensor [N+1], got {type(cu_seqlens_q).__name__}")
    if cu_seqlens_k is None:
        cu_seqlens_k = cu_seqlens_q
    for name, cu in (("cu_seqlens_q", cu_seqlens_q), ("cu_seqlens_k", cu_seqlens_k)):
        if not isinstance(cu, torch.Tensor):
            raise TypeError(f"{name} must be an int32 torch.Tensor [N+1], got {type(cu).__name__}")
        if cu.dtype.is_floating_point or cu.dtype == torch.bool:
            raise TypeError(f"{name} must have an integer dtype (int32), got {cu.dtype}")
        if cu.dim() != 1 or cu.numel() < 1:
            raise ValueError(f"{name} must have shape [N+1] with N >= 0, got {tuple(cu.shape)}")
    if cu_seqlens_q.numel() != cu_seqlens_k.numel():
        raise ValueError(f"cu_seqlens_q and cu_seqlens_k must describe the same number of sequences, "
                         f"got {cu_seqlens_q.numel() - 1} and {cu_seqlens_k.numel() - 1}")
    if check_values and not torch.compiler.is_compiling():
        check_cu_seqlens("cu_seqlens_q", cu_seqlens_q, q.shape[0])
        check_cu_seqlens("cu_seqlens_k", cu_seqlens_k, k.shape[0])
    return (cu_seqlens_q.to(device=q.device, dtype=torch.int32),
            cu_seqlens_k.to(device=q.device, dtype=torch.int32))
