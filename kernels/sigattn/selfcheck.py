"""Compile step: compile (and autotune) the kernels for configured shapes and check them against
the reference. ``autotune_config`` holds the autotuner's choice where a kernel autotuned (run with
SIGATTN_AUTOTUNE=full to autotune every kernel); ``launch_config`` the config each kernel ran with.
Returns a JSON-ready report; writing it (with provenance) is the caller's job.

A shape is a dict: batch, seq_len, heads, head_dim, dtype ("bf16"/"fp16"/"fp32" or torch names),
optional padding (percent p: lengths uniform in [(1-p/100)·L, L], the paper's protocol; default 0),
kv_heads (default heads), causal (default False), layout ("padded" or "packed", default "padded").
"""

from __future__ import annotations

import time

import torch

from . import ops, reference, triton_kernels, tuned
from .backend import INTERPRETER, backend_for

DTYPES = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16,
          "float16": torch.float16, "fp32": torch.float32, "float32": torch.float32}
REQUIRED = ("batch", "seq_len", "heads", "head_dim", "dtype")


def _parse(shape: dict) -> dict:
    if not isinstance(shape, dict):
        raise TypeError(f"each shape must be a dict with keys {REQUIRED}, got {shape!r}")
    missing = [key for key in REQUIRED if key not in shape]
    if missing:
        raise ValueError(f"shape {shape} lacks keys {missing}; required: {REQUIRED}")
    if str(shape["dtype"]) not in DTYPES:
        raise ValueError(f"shape dtype must be one of {sorted(DTYPES)}, got {shape['dtype']!r}")
    layout = shape.get("layout", "padded")
    if layout not in ("padded", "packed"):
        raise ValueError(f"shape layout must be 'padded' or 'packed', got {layout!r}")
    padding = float(shape.get("padding", 0))
    if not 0 <= padding < 100:
        raise ValueError(f"shape padding must be a percent in [0, 100), got {padding}")
    return dict(batch=int(shape["batch"]), seq_len=int(shape["seq_len"]), heads=int(shape["heads"]),
                kv_heads=int(shape.get("kv_heads", shape["heads"])), head_dim=int(shape["head_dim"]),
                dtype=DTYPES[str(shape["dtype"])], padding=padding, layout=layout,
                causal=bool(shape.get("causal", False)))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def check_shape(shape: dict, device: str | torch.device, seed: int = 0) -> dict:
    """Compile + autotune forward and backward for one shape; errors vs an fp32 reference."""
    s = _parse(shape)
    device = torch.device(device)
    gen = torch.Generator().manual_seed(seed)
    b, seq_len = s["batch"], s["seq_len"]
    low = max(1, int(round((1.0 - s["padding"] / 100.0) * seq_len)))
    lens = torch.randint(low, seq_len + 1, (b,), generator=gen, dtype=torch.int32)

    def rand(*size):
        return torch.randn(*size, generator=gen).to(device=device, dtype=s["dtype"])

    q = rand(b, seq_len, s["heads"], s["head_dim"])
    k, v = (rand(b, seq_len, s["kv_heads"], s["head_dim"]) for _ in range(2))
    grad_out = rand(b, seq_len, s["heads"], s["head_dim"])
    lens_dev = lens.to(device)
    if s["layout"] == "packed":
        keep = torch.arange(seq_len)[None, :] < lens[:, None]
        q, k, v, grad_out = (t[keep.to(device)] for t in (q, k, v, grad_out))
        cu = ops.cu_seqlens(lens).to(device)
        kernel_fn = lambda *t: ops.sigmoid_attention_varlen(*t, cu, max_seqlen_q=int(lens.max()), causal=s["causal"])  # noqa: E731
        ref_fn = lambda *t: reference.sigmoid_attention_varlen_ref(*t, cu, causal=s["causal"])  # noqa: E731
    else:
        kernel_fn = lambda *t: ops.sigmoid_attention(*t, seq_lens_q=lens_dev, causal=s["causal"])  # noqa: E731
        ref_fn = lambda *t: reference.sigmoid_attention_ref(*t, seq_lens_q=lens_dev, causal=s["causal"])  # noqa: E731

    inputs = [t.detach().requires_grad_(True) for t in (q, k, v)]
    triton_kernels.LAST_LAUNCH.clear()
    triton_kernels.LAST_CONFIG.clear()
    _sync(device)
    start = time.perf_counter()
    out = kernel_fn(*inputs)
    _sync(device)
    forward_s = time.perf_counter() - start
    start = time.perf_counter()
    grads = torch.autograd.grad(out, inputs, grad_out)
    _sync(device)
    backward_s = time.perf_counter() - start
    registers = {name: {"n_regs": getattr(kernel, "n_regs", None), "n_spills": getattr(kernel, "n_spills", None)}
                 for name, kernel in triton_kernels.LAST_LAUNCH.items()}

    ref_inputs = [t.detach().float().requires_grad_(True) for t in (q, k, v)]
    ref_out = ref_fn(*ref_inputs)
    ref_grads = torch.autograd.grad(ref_out, ref_inputs, grad_out.float())
    errors = {"o": reference.relative_error(out, ref_out)}
    errors.update({f"d{n}": reference.relative_error(g, r) for n, g, r in zip("qkv", grads, ref_grads, strict=True)})
    finite = bool(torch.isfinite(out).all()) and all(bool(torch.isfinite(g).all()) for g in grads)
    fwd_tol, grad_tol = reference.TOLERANCES[s["dtype"]]
    passed = finite and errors["o"] <= fwd_tol and all(errors[n] <= grad_tol for n in ("dq", "dk", "dv"))
    return {
        "shape": {**shape, "seq_lens": lens.tolist()},
        "backend": backend_for(q),
        "autotune_config": triton_kernels.autotuned_configs(),
        "launch_config": tuned.format_config(triton_kernels.LAST_CONFIG),
        "compile_seconds": {"forward": round(forward_s, 3), "backward": round(backward_s, 3)},
        "rel_error": errors,  # relative L2 vs the fp32 reference (sigattn.reference.relative_error)
        "tolerance": {"forward": fwd_tol, "backward": grad_tol},
        "registers": registers,
        "finite": finite,
        "passed": passed,
    }


def run(shapes: list[dict], device: str | torch.device | None = None, seed: int = 0) -> dict:
    """Check every shape; ``passed`` is true only if all shapes pass. Triton must actually run."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if backend_for(torch.empty(0, device=device)) != "triton":
        raise RuntimeError(f"the Triton kernels do not run on {device}: use a CUDA device, or set "
                           "TRITON_INTERPRET=1 before importing sigattn to use the CPU interpreter")
    results = [check_shape(shape, device, seed=seed + i) for i, shape in enumerate(shapes)]
    return {"interpreter": INTERPRETER, "device_type": device.type, "shapes": results,
            "passed": all(r["passed"] for r in results)}
