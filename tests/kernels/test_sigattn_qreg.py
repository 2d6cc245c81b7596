"""The "qreg" variant (SIGATTN_QREG=1): the Triton forward and dQ kernel keep the A operand they load
once (Q; dO) in registers. Its compiled code is checked here for sm_90 without a GPU (a
subprocess: the other kernel tests put this process in interpreter mode), its launches' flags under
the interpreter; its results on a GPU by the ``kernel_variant`` fixture's "qreg" params (conftest.py)."""

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
for kernel, hd, block, per_tile, loaded in (("dq", 128, (64, 64, 4, 2), 3, 2), ("fwd", 128, (128, 64, 8, 3), 2, 1),
                                             ("dq_tma", 64, (64, 64, 4, 3), 3, 2), ("fwd", 64, (64, 64, 4, 3), 2, 1)):
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
    """Compiled for sm_90: without qreg the wgmma of S = Q·Kᵀ (and of dP = dO·Vᵀ in the dQ kernel)
    reads its A operand from shared memory and only P·V (dS·K) takes registers; with it every
    wgmma's A operand is in registers, no spill and no ptxas note (a serialised wgmma) at the
    configs the default measures (hd128 dQ 64x64/4/2, forward 128x64/8/3; hd64 TMA dQ, forward)."""
    done = subprocess.run([sys.executable, "-c", _COMPILED], env=ENV, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]


@pytest.mark.parametrize("dtype, want", [(torch.float16, True), (torch.float32, False)])
def test_qreg_reaches_the_forward_and_dq_launches_of_16_bit_inputs(monkeypatch, device, dtype, want):
    """Under "qreg" the forward and dQ launches of 16-bit inputs carry A_REGS (the register move
    works on pairs of 16-bit values; fp32 inputs keep shared memory), the dK/dV launch has no such
    flag; the result is the reference's; the default launches A_REGS=False."""
    launched = {}
    real_launch = triton_kernels._launch

    def spy(name, kernel, autotuner, grid, args, flags, *rest):
        launched[name] = flags.get("A_REGS")
        return real_launch(name, kernel, autotuner, grid, args, flags, *rest)

    monkeypatch.setattr(triton_kernels, "_launch", spy)
    q, k, v = qkv(2, 24, 24, 2, 2, 32, device=device, seed=5, dtype=dtype)
    lens = torch.tensor([24, 11], dtype=torch.int32, device=device)
    use_variant(monkeypatch, "qreg")
    out = sigattn.sigmoid_attention(q, k, v, seq_lens_q=lens)
    grads = torch.autograd.grad(out, (q, k, v), torch.ones_like(out))
    assert launched == {"forward": want, "backward_dq": want, "backward_dkdv": None}
    ref_in = [t.detach().float().requires_grad_(True) for t in (q, k, v)]
    ref = sigmoid_attention_ref(*ref_in, seq_lens_q=lens)
    ref_grads = torch.autograd.grad(ref, ref_in, torch.ones_like(ref))
    tol = dict(rtol=2e-2, atol=2e-3) if dtype == torch.float16 else dict(rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out.float(), ref.detach(), **tol)
    for g, r in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g.float(), r, **(tol if dtype == torch.float32 else dict(rtol=3e-2, atol=1e-2)))
    use_variant(monkeypatch, "default")
    sigattn.sigmoid_attention(q, k, v, seq_lens_q=lens)
    assert launched["forward"] is False
