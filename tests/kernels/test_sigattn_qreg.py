"""The "qreg" and "kvreg" variants (SIGATTN_QREG=1, SIGATTN_KVREG=1): the Triton forward and dQ
kernel, and the dK/dV kernel, keep the A operands they load once a program (Q; dO; K and V) in
registers. Their compiled code is checked here for sm_90 without a GPU (a subprocess: the other
kernel tests put this process in interpreter mode), their launches' flags under the interpreter;
their results on a GPU by the ``kernel_variant`` fixture's "qreg" params (conftest.py)."""

import os
import subprocess
import sys

import pytest
import sigattn
import torch
from sigattn import triton_kernels
from sigattn.reference import sigmoid_attention_ref
from sigattn_testutil import qkv, use_variant

ENV = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}

_COMPILED = """
from sigattn import resources as r

def a_from_registers(compiled):
    # one entry per wgmma (ttng.warp_group_dot) of the kernel: whether its A operand is a register tensor
    out = []
    for line in compiled.asm["ttgir"].splitlines():
        if "ttng.warp_group_dot " in line:
            out.append(line.split("} : ", 1)[1].split(" * ")[0].startswith("tensor<"))
    return out

# kernel, head dim, config, matmuls a key tile, of which the A operand is loaded once a program
CASES = (("dq", 128, (64, 64, 4, 2), 3, 2), ("fwd", 128, (128, 64, 8, 3), 2, 1),
         ("dq_tma", 64, (64, 64, 4, 3), 3, 2), ("fwd", 64, (64, 64, 4, 3), 2, 1),
         ("dkdv", 128, (32, 128, 8, 2), 4, 2), ("dkdv_tma", 64, (64, 64, 4, 3), 4, 2))
for kernel, hd, block, per_tile, loaded in CASES:
    base, qreg = (r.compile_config(kernel, hd, block, a_regs=a) for a in (False, True))
    b, q = a_from_registers(base), a_from_registers(qreg)
    assert len(b) == len(q) and len(b) % per_tile == 0 and len(b) > 0, (kernel, b, q)
    assert b.count(True) == len(b) // per_tile * (per_tile - loaded), (kernel, "base", b)
    assert all(q), (kernel, "qreg", q)
    res = r.resources(qreg)
    assert res["spill_stack_bytes"] == 0 and res["registers"] <= 255 and not r.ptxas_notes(qreg), (kernel, res)
print("ok")
"""


def test_qreg_keeps_the_loaded_a_operand_in_registers():
    """Compiled for sm_90: without it the wgmma of S = Q·Kᵀ (and of dP = dO·Vᵀ in the dQ kernel; Sᵀ =
    K·Qᵀ and dPᵀ = V·dOᵀ in the dK/dV kernel) reads its A operand from shared memory and only the
    matmuls of computed operands (P·V, dS·K, Pᵀ·dO, dSᵀ·Q) take registers; with it every wgmma's A
    operand is in registers, no spill and no ptxas note (a serialised wgmma) at the configs the
    default measures (hd128 dQ 64x64/4/2, forward 128x64/8/3; hd64 TMA dQ, forward) and at a
    dK/dV entry of each head dim."""
    done = subprocess.run([sys.executable, "-c", _COMPILED], env=ENV, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]


@pytest.mark.parametrize("variant, dtype, want", [
    ("qreg", torch.float16, {"forward": True, "backward_dq": True, "backward_dkdv": False}),
    ("kvreg", torch.float16, {"forward": False, "backward_dq": False, "backward_dkdv": True}),
    ("qreg_kvreg", torch.float32, {"forward": False, "backward_dq": False, "backward_dkdv": False})])
def test_register_words_reach_their_launches_for_16_bit_inputs(monkeypatch, device, variant, dtype, want):
    """"qreg" sets A_REGS on the forward and dQ launches, "kvreg" on the dK/dV launch, for 16-bit
    inputs only (the register move works on pairs of 16-bit values; fp32 inputs keep shared
    memory); the result is the reference's; the default launches none."""
    launched = {}
    real_launch = triton_kernels._launch

    def spy(name, kernel, autotuner, grid, args, flags, *rest):
        launched[name] = flags.get("A_REGS")
        return real_launch(name, kernel, autotuner, grid, args, flags, *rest)

    monkeypatch.setattr(triton_kernels, "_launch", spy)
    q, k, v = qkv(2, 24, 24, 2, 2, 32, device=device, seed=5, dtype=dtype)
    lens = torch.tensor([24, 11], dtype=torch.int32, device=device)
    use_variant(monkeypatch, variant)
    out = sigattn.sigmoid_attention(q, k, v, seq_lens_q=lens)
    grads = torch.autograd.grad(out, (q, k, v), torch.ones_like(out))
    assert launched == want
    ref_in = [t.detach().float().requires_grad_(True) for t in (q, k, v)]
    ref = sigmoid_attention_ref(*ref_in, seq_lens_q=lens)
    ref_grads = torch.autograd.grad(ref, ref_in, torch.ones_like(ref))
    tol = dict(rtol=2e-2, atol=2e-3) if dtype == torch.float16 else dict(rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out.float(), ref.detach(), **tol)
    for g, r in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g.float(), r, **(tol if dtype == torch.float32 else dict(rtol=3e-2, atol=1e-2)))
    use_variant(monkeypatch, "default")
    out = sigattn.sigmoid_attention(q, k, v, seq_lens_q=lens)
    torch.autograd.grad(out, (q, k, v), torch.ones_like(out))
    assert launched == {"forward": False, "backward_dq": False, "backward_dkdv": False}
