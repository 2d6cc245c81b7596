"""The paper's kernel benchmark protocol: shapes from (tokens, hidden, L, head_dim), seeded
padded lengths shared by all implementations, and useful-token FLOP counting."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PASSES = ("fwd", "bwd")
BACKWARD_FLOP_FACTOR = 2.5  # FlashAttention / paper convention: backward = 2.5 x forward


@dataclass(frozen=True)
class BenchShape:
    """One benchmark point: batch x seq_len tokens, heads x head_dim hidden."""

    seq_len: int
    head_dim: int
    batch: int
    heads: int
    padding_pct: int


def derive_shape(tokens_per_batch: int, hidden: int, seq_len: int, head_dim: int,
                 padding_pct: int = 0) -> BenchShape:
    """batch = tokens / L, heads = hidden / head_dim; both must divide exactly."""
    if seq_len <= 0 or tokens_per_batch % seq_len:
        raise ValueError(
            f"seq_len={seq_len} must be a positive divisor of tokens_per_batch={tokens_per_batch}; "
            "pick seq_lens that divide bench.tokens_per_batch in the config."
        )
    if head_dim <= 0 or hidden % head_dim:
        raise ValueError(
            f"head_dim={head_dim} must be a positive divisor of hidden={hidden}; "
            "fix bench.head_dims or bench.hidden in the config."
        )
    if not 0 <= padding_pct < 100:
        raise ValueError(f"padding_pct={padding_pct} must be in [0, 100).")
    return BenchShape(seq_len, head_dim, tokens_per_batch // seq_len, hidden // head_dim, padding_pct)


def sample_lengths(batch: int, seq_len: int, padding_pct: int, seed: int) -> np.ndarray:
    """Per-sequence valid lengths, uniform in [(1 - p/100)·L, L] (inclusive).

    Depends only on (seed, seq_len, padding_pct, batch), so every implementation and both head
    dims see the same lengths. padding_pct=0 gives all L."""
    if padding_pct == 0:
        return np.full(batch, seq_len, dtype=np.int64)
    low = max(1, math.ceil((1 - padding_pct / 100) * seq_len))
    rng = np.random.default_rng([seed, seq_len, padding_pct])
    return rng.integers(low, seq_len + 1, size=batch, dtype=np.int64)


def attention_flops(lengths, heads: int, head_dim: int, pass_: str, causal: bool = False) -> float:
    """4·H·D·Σ Lᵢ² forward (useful tokens only), 2.5x that backward; halved when causal."""
    if pass_ not in PASSES:
        raise ValueError(f"pass must be one of {PASSES}; got {pass_!r}.")
    sum_sq = float(np.sum(np.asarray(lengths, dtype=np.float64) ** 2))
    flops = 4.0 * heads * head_dim * sum_sq
    if causal:
        flops /= 2
    return flops * (BACKWARD_FLOP_FACTOR if pass_ == "bwd" else 1.0)


def tflops(flops: float, ms: float) -> float:
    """FLOPs over milliseconds, in TFLOP/s (NaN for a missing or non-positive time)."""
    if ms is None or not ms > 0:
        return float("nan")
    return flops / (ms * 1e-3) / 1e12
