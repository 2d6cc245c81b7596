"""Debug hooks for tests: fill kernel outputs with NaN before launch so unwritten elements show."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

_poison = False


@contextlib.contextmanager
def poison_outputs(enabled: bool = True) -> Iterator[None]:
    """Within this block every output buffer of the Triton path starts as NaN instead of empty."""
    global _poison
    previous, _poison = _poison, enabled
    try:
        yield
    finally:
        _poison = previous


def new_output(shape, like: torch.Tensor) -> torch.Tensor:
    """A fresh contiguous output buffer: uninitialised normally, NaN-filled under poison_outputs()."""
    if _poison:
        return torch.full(shape, float("nan"), dtype=like.dtype, device=like.device)
    return torch.empty(shape, dtype=like.dtype, device=like.device)
