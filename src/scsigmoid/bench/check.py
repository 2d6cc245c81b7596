"""The correctness gate: before an implementation is timed, its output (and, for the backward
pass, its q/k/v gradients) at one small shape must match the fp32 eager reference."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from sigattn.reference import TOLERANCES, relative_error

from scsigmoid.bench.adapters import Adapter, from_canonical, make_inputs, to_canonical
from scsigmoid.bench.eager import eager_attention
from scsigmoid.bench.protocol import sample_lengths


@dataclass(frozen=True)
class CheckShape:
    batch: int = 2
    seq_len: int = 256
    heads: int = 2


def check_adapter(adapter: Adapter, head_dim: int, padding_pct: int, pass_: str, *,
                  device: str, dtype: torch.dtype, seed: int = 0,
                  shape: CheckShape | None = None) -> tuple[bool, str]:
    """(passed, reason). The reason names the tensor and its error when the check fails."""
    shape = CheckShape() if shape is None else shape
    lengths = sample_lengths(shape.batch, shape.seq_len, padding_pct, seed)
    inputs = make_inputs(shape.batch, shape.seq_len, shape.heads, head_dim, lengths, padding_pct,
                         device=device, dtype=dtype, seed=seed + 1)
    fwd_tol, grad_tol = TOLERANCES.get(dtype, TOLERANCES[torch.bfloat16])

    # fp32 reference in [B, H, L, D]
    ref_leaves = [t.float().transpose(1, 2).detach().requires_grad_(True)
                  for t in (inputs.q, inputs.k, inputs.v)]
    ref_out = eager_attention(*ref_leaves, inputs.lengths, kind=adapter.kind, bias=adapter.bias,
                              causal=adapter.causal, scale=inputs.scale)
    ref_canonical = to_canonical("bhsd", ref_out, inputs)

    prepared = adapter.prepare(inputs)
    out = prepared.run()
    err = relative_error(to_canonical(prepared.layout, out, inputs), ref_canonical)
    if not err <= fwd_tol:
        return False, f"forward output rel. error {err:.3g} > {fwd_tol:g} vs fp32 reference"
    if pass_ == "fwd":
        return True, f"forward rel. error {err:.2g}"

    grad = torch.randn(ref_canonical.shape, generator=torch.Generator().manual_seed(seed + 2))
    grad = to_canonical("bshd", grad.to(device), inputs)  # zero on padded query rows
    ref_grads = torch.autograd.grad(ref_canonical, ref_leaves, grad.float())
    grads = torch.autograd.grad(out, prepared.leaves, from_canonical(prepared.layout, grad.to(dtype), inputs))
    worst = 0.0
    for name, g, rg in zip("qkv", grads, ref_grads, strict=True):
        g_err = relative_error(to_canonical(prepared.layout, g, inputs),
                               to_canonical("bhsd", rg, inputs))
        if not g_err <= grad_tol:
            return False, f"d{name} rel. error {g_err:.3g} > {grad_tol:g} vs fp32 reference"
        worst = max(worst, g_err)
    return True, f"forward rel. error {err:.2g}, worst gradient {worst:.2g}"
