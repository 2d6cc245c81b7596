"""The TMA variant (SIGATTN_TMA=1): which launches take it, the fall-back to pointer loads for
tensors a descriptor cannot address, what it records, and its selection by name. Its accuracy is
tested with the default's own tests (the ``kernel_variant`` fixture of test_sigattn_accuracy.py
and test_sigattn_layouts.py); the interpreter runs tensor descriptors like the GPU (rows past the
descriptor's shape read as zeros)."""

import subprocess
import sys
from pathlib import Path

import pytest
import sigattn
import torch
from sigattn import triton_kernels, tuned
from sigattn.reference import sigmoid_attention_ref
from sigattn_testutil import qkv, randn, use_variant

ROOT = Path(__file__).resolve().parents[2]


def _run(q, k, v, lens):
    out = sigattn.sigmoid_attention(q, k, v, seq_lens_q=lens)
    grads = torch.autograd.grad(out, (q, k, v), torch.ones_like(out))
    return [out.detach(), *grads], {n: c["kernel"] for n, c in triton_kernels.LAST_CONFIG.items()}


def test_blocker_names_what_a_descriptor_cannot_address(device):
    base = randn(2, 40, 2, 17, device=device)
    ok = base[..., :16].contiguous()
    assert triton_kernels.tma_blocker([ok], padded=True) == ""
    assert triton_kernels.tma_blocker([ok.transpose(-1, -2)], padded=True) == "head dim not contiguous"
    # rows of 17 fp32 = 68 bytes: token and head strides are not 16-byte multiples
    assert triton_kernels.tma_blocker([base[..., :16]], padded=True) == "base or strides not 16-byte aligned"
    flat = randn(2 * 40 * 2 * 16 + 1, device=device)
    shifted = flat[1:].view(2, 40, 2, 16)  # base 4 bytes past an aligned address
    assert triton_kernels.tma_blocker([ok, shifted], padded=True) == "base or strides not 16-byte aligned"
    packed = ok.reshape(80, 2, 16)
    assert triton_kernels.tma_blocker([packed], padded=False) == ""
    assert triton_kernels.tma_blocker([ok[:, :1].expand(2, 40, 2, 16)], padded=True) == "token stride not positive"


def test_tma_launches_record_their_variant_and_match_pointer_loads(monkeypatch, device):
    """Same inputs, both variants: the TMA launches are recorded as *_tma (in the benchmark's
    config cell too) and give the pointer loads' output and gradients to fp32 rounding (not
    bitwise: a transposed tile changes the summation order of the matmul)."""
    q, k, v = qkv(2, 40, 40, 4, 2, 32, device=device, seed=21)
    lens = torch.tensor([40, 9], dtype=torch.int32, device=device)
    use_variant(monkeypatch, "fast")
    pointer, kernels = _run(q, k, v, lens)
    assert kernels == {"forward": "fwd", "backward_dq": "dq", "backward_dkdv": "dkdv"}
    use_variant(monkeypatch, "tma")
    tma, kernels = _run(q, k, v, lens)
    assert kernels == {"forward": "fwd_tma", "backward_dq": "dq_tma", "backward_dkdv": "dkdv_tma"}
    cell = tuned.format_config(triton_kernels.LAST_CONFIG)
    assert [k for k, *_ in tuned.parse_config(cell)] == ["fwd_tma", "dq_tma", "dkdv_tma"]
    for a, b in zip(pointer, tma, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_unaddressable_inputs_fall_back_to_pointer_loads(monkeypatch, device):
    """Rows of 17 values sliced to 16: no descriptor can address them, so the TMA variant launches
    the pointer kernels, with the same results as contiguous copies through descriptors."""
    use_variant(monkeypatch, "tma")
    base = randn(2, 24, 1, 3 * 17, seed=22, device=device)
    q, k, v = (base[..., i * 17:i * 17 + 16].detach().requires_grad_(True) for i in range(3))
    lens = torch.tensor([24, 11], dtype=torch.int32, device=device)
    strided, kernels = _run(q, k, v, lens)
    assert kernels == {"forward": "fwd", "backward_dq": "dq", "backward_dkdv": "dkdv"}
    dense = [t.detach().contiguous().requires_grad_(True) for t in (q, k, v)]
    contiguous, kernels = _run(*dense, lens)
    assert kernels == {"forward": "fwd_tma", "backward_dq": "dq_tma", "backward_dkdv": "dkdv_tma"}
    for a, b in zip(strided, contiguous, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(strided[0], sigmoid_attention_ref(*dense, seq_lens_q=lens).detach(),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("variant, env", [
    ("default", {"SIGATTN_TMA": "0", "SIGATTN_FUSED": "0", "SIGATTN_QREG": "0", "SIGATTN_KVREG": "0", "SIGATTN_WS": "0", "SIGATTN_WSB": "0", "SIGATTN_SIGMOID": "fast", "SIGATTN_VARIANT": "tuned"}),
    ("fast", {"SIGATTN_TMA": "0", "SIGATTN_FUSED": "0", "SIGATTN_QREG": "0", "SIGATTN_KVREG": "0", "SIGATTN_WS": "0", "SIGATTN_WSB": "0", "SIGATTN_SIGMOID": "fast", "SIGATTN_VARIANT": "single"}),
    ("tma", {"SIGATTN_TMA": "1", "SIGATTN_FUSED": "0", "SIGATTN_QREG": "0", "SIGATTN_KVREG": "0", "SIGATTN_WS": "0", "SIGATTN_WSB": "0", "SIGATTN_SIGMOID": "fast", "SIGATTN_VARIANT": "single"}),
    ("fma", {"SIGATTN_TMA": "0", "SIGATTN_FUSED": "0", "SIGATTN_QREG": "0", "SIGATTN_KVREG": "0", "SIGATTN_WS": "0", "SIGATTN_WSB": "0", "SIGATTN_SIGMOID": "fma", "SIGATTN_VARIANT": "single"}),
    ("tma_fma", {"SIGATTN_TMA": "1", "SIGATTN_FUSED": "0", "SIGATTN_QREG": "0", "SIGATTN_KVREG": "0", "SIGATTN_WS": "0", "SIGATTN_WSB": "0", "SIGATTN_SIGMOID": "fma", "SIGATTN_VARIANT": "single"}),
    ("tma_exact", {"SIGATTN_TMA": "1", "SIGATTN_FUSED": "0", "SIGATTN_QREG": "0", "SIGATTN_KVREG": "0", "SIGATTN_WS": "0", "SIGATTN_WSB": "0", "SIGATTN_SIGMOID": "exact", "SIGATTN_VARIANT": "single"}),
    ("fused", {"SIGATTN_TMA": "0", "SIGATTN_FUSED": "1", "SIGATTN_QREG": "0", "SIGATTN_KVREG": "0", "SIGATTN_WS": "0", "SIGATTN_WSB": "0", "SIGATTN_SIGMOID": "fast", "SIGATTN_VARIANT": "single"}),
    ("tma_fused", {"SIGATTN_TMA": "1", "SIGATTN_FUSED": "1", "SIGATTN_QREG": "0", "SIGATTN_KVREG": "0", "SIGATTN_WS": "0", "SIGATTN_WSB": "0", "SIGATTN_SIGMOID": "fast", "SIGATTN_VARIANT": "single"}),
    ("fused_mixed", {"SIGATTN_TMA": "0", "SIGATTN_FUSED": "1", "SIGATTN_QREG": "0", "SIGATTN_KVREG": "0", "SIGATTN_WS": "0", "SIGATTN_WSB": "0", "SIGATTN_SIGMOID": "mixed", "SIGATTN_VARIANT": "single"}),
    ("tma_fused_fma", {"SIGATTN_TMA": "1", "SIGATTN_FUSED": "1", "SIGATTN_QREG": "0", "SIGATTN_KVREG": "0", "SIGATTN_WS": "0", "SIGATTN_WSB": "0", "SIGATTN_SIGMOID": "fma",
                       "SIGATTN_VARIANT": "single"}),
    ("ws_bf16x2", {"SIGATTN_TMA": "0", "SIGATTN_FUSED": "0", "SIGATTN_QREG": "0", "SIGATTN_KVREG": "0", "SIGATTN_WS": "1", "SIGATTN_WSB": "0", "SIGATTN_SIGMOID": "bf16x2",
                   "SIGATTN_VARIANT": "single"}),
    ("qreg", {"SIGATTN_TMA": "0", "SIGATTN_FUSED": "0", "SIGATTN_QREG": "1", "SIGATTN_KVREG": "0", "SIGATTN_WS": "0", "SIGATTN_WSB": "0", "SIGATTN_SIGMOID": "fast",
              "SIGATTN_VARIANT": "single"}),
    ("tma_qreg_mixed", {"SIGATTN_TMA": "1", "SIGATTN_FUSED": "0", "SIGATTN_QREG": "1", "SIGATTN_KVREG": "0", "SIGATTN_WS": "0", "SIGATTN_WSB": "0",
                        "SIGATTN_SIGMOID": "mixed", "SIGATTN_VARIANT": "single"}),
    ("qreg_kvreg", {"SIGATTN_TMA": "0", "SIGATTN_FUSED": "0", "SIGATTN_QREG": "1", "SIGATTN_KVREG": "1", "SIGATTN_WS": "0", "SIGATTN_WSB": "0",
                    "SIGATTN_SIGMOID": "fast", "SIGATTN_VARIANT": "single"}),
    ("qreg_bf16x2", {"SIGATTN_TMA": "0", "SIGATTN_FUSED": "0", "SIGATTN_QREG": "1", "SIGATTN_KVREG": "0", "SIGATTN_WS": "0", "SIGATTN_WSB": "0",
                     "SIGATTN_SIGMOID": "bf16x2", "SIGATTN_VARIANT": "single"}),
    ("wsp_bf16x2", {"SIGATTN_TMA": "0", "SIGATTN_FUSED": "0", "SIGATTN_QREG": "0", "SIGATTN_KVREG": "0", "SIGATTN_WS": "persistent", "SIGATTN_WSB": "0", "SIGATTN_SIGMOID": "bf16x2",
                    "SIGATTN_VARIANT": "single"}),
    ("wsb", {"SIGATTN_TMA": "0", "SIGATTN_FUSED": "0", "SIGATTN_QREG": "0", "SIGATTN_KVREG": "0", "SIGATTN_WS": "0", "SIGATTN_WSB": "1", "SIGATTN_SIGMOID": "fast",
             "SIGATTN_VARIANT": "single"}),
    ("ws_wsb_bf16x2", {"SIGATTN_TMA": "0", "SIGATTN_FUSED": "0", "SIGATTN_QREG": "0", "SIGATTN_KVREG": "0", "SIGATTN_WS": "1", "SIGATTN_WSB": "1",
                       "SIGATTN_SIGMOID": "bf16x2", "SIGATTN_VARIANT": "single"}),
    ("wsbt", {"SIGATTN_TMA": "0", "SIGATTN_FUSED": "0", "SIGATTN_QREG": "0", "SIGATTN_KVREG": "0", "SIGATTN_WS": "0",
              "SIGATTN_WSB": "tma", "SIGATTN_SIGMOID": "fast", "SIGATTN_VARIANT": "single"}),
    ("wsp_wsbp_bf16x2", {"SIGATTN_TMA": "0", "SIGATTN_FUSED": "0", "SIGATTN_QREG": "0", "SIGATTN_KVREG": "0",
                         "SIGATTN_WS": "persistent", "SIGATTN_WSB": "persistent", "SIGATTN_SIGMOID": "bf16x2",
                         "SIGATTN_VARIANT": "single"})])
def test_variant_env_and_suffix_are_inverse(monkeypatch, variant, env):
    """Each name selects its environment and is the name rows of that variant carry: "" for the
    default ("tuned" is its other name), "_fast" for the single pointer-load kernel with the fast
    sigmoid."""
    assert triton_kernels.variant_env(variant) == env
    use_variant(monkeypatch, variant)
    assert triton_kernels.variant_suffix() == ("" if variant == "default" else f"_{variant}")
    assert triton_kernels.current_variant() == variant
    assert triton_kernels.variant_env("tuned") == triton_kernels.variant_env("default")


def test_single_variant_environment_is_honoured_at_import():
    """SIGATTN_TMA or SIGATTN_SIGMOID set alone asks for that single variant; nothing set, or
    SIGATTN_VARIANT=tuned, the default; a wrong SIGATTN_VARIANT is refused."""
    code = "from sigattn import triton_kernels as tk; print(tk.IMPORTED_VARIANT)"

    def imported(**env):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                              env={"PYTHONPATH": str(ROOT / "kernels"), "PATH": "/usr/bin:/bin", **env})
        return done.stdout.strip() or done.stderr.strip().splitlines()[-1]

    assert imported() == "default"
    assert imported(SIGATTN_SIGMOID="fma") == "fma"
    assert imported(SIGATTN_TMA="1") == "tma"
    assert imported(SIGATTN_TMA="1", SIGATTN_VARIANT="tuned") == "default"
    assert imported(SIGATTN_FUSED="1") == "fused"
    assert imported(SIGATTN_FUSED="1", SIGATTN_TMA="1", SIGATTN_SIGMOID="mixed") == "tma_fused_mixed"
    assert imported(SIGATTN_WS="1") == "ws"
    assert imported(SIGATTN_QREG="1", SIGATTN_TMA="1") == "tma_qreg"
    assert imported(SIGATTN_KVREG="1") == "kvreg"
    assert imported(SIGATTN_WS="persistent", SIGATTN_SIGMOID="bf16x2") == "wsp_bf16x2"
    assert imported(SIGATTN_WSB="1") == "wsb"
    assert imported(SIGATTN_WSB="tma") == "wsbt"
    assert imported(SIGATTN_WSB="persistent") == "wsbp"
    assert "SIGATTN_VARIANT='pointer'" in imported(SIGATTN_VARIANT="pointer")


@pytest.mark.parametrize("head_dim, fwd, bwd", [(32, ("", "halley"), ("_tma", "fast")),
                                                (128, ("", "halley"), ("", "fast"))])
def test_tuned_variant_launches_each_pass_with_its_own_variant(monkeypatch, device, head_dim, fwd, bwd):
    """Under the default ("tuned") the forward takes TUNED_VARIANTS' forward entry and the dQ /
    dK/dV kernels the backward's, by head-dim class (16-64 -> 64): fp16 inputs (the interpreter's
    bf16 dot is wrong), so the forward's bf16x2 entry launches its fp16 stand-in, halley, and not
    the fp32 fall-back; bf16 inputs would launch bf16x2 itself; the result is the reference's either
    way; the variant is back to the one before the block after it."""
    launched = {}
    real_launch = triton_kernels._launch

    def spy(name, kernel, autotuner, grid, args, flags, *rest):
        launched[name] = ("_tma" if flags["TMA"] else "", flags["SIGMOID"])
        return real_launch(name, kernel, autotuner, grid, args, flags, *rest)

    monkeypatch.setattr(triton_kernels, "_launch", spy)
    q, k, v = qkv(2, 24, 24, 2, 2, head_dim, device=device, seed=23, dtype=torch.float16)
    lens = torch.tensor([24, 13], dtype=torch.int32, device=device)
    use_variant(monkeypatch, "fast")
    with triton_kernels.using_variant("default"):
        assert triton_kernels.current_variant() == "default"
        out, *grads = _run(q, k, v, lens)[0]
    assert triton_kernels.current_variant() == "fast"
    assert launched == {"forward": fwd, "backward_dq": bwd, "backward_dkdv": bwd}
    with triton_kernels.using_variant("default"):
        assert triton_kernels.sigmoid_mode(q.to(torch.bfloat16), "fwd") == "bf16x2"
        assert triton_kernels.sigmoid_mode(q.to(torch.bfloat16), "bwd") == "fast"
    ref = sigmoid_attention_ref(*(t.detach().float().requires_grad_(True) for t in (q, k, v)), seq_lens_q=lens)
    torch.testing.assert_close(out.float(), ref.detach(), rtol=2e-2, atol=2e-3)


@pytest.mark.parametrize("variant", ["fast_fma", "tma_tma", "ws_tma", "fast_ws", "tma_", "tuned_tma", "fused_tma", "fma_fused",
                                     "fused_fused", "tma_fast_fused", "ws_wsp", "wsp_ws",
                                     "qreg_tma", "qreg_fused", "ws_qreg", "qreg_qreg",
                                     "kvreg_qreg", "ws_kvreg", "wsb_ws", "wsb_wsb", "wsb_tma",
                                     "wsb_wsbt", "wsbt_wsb", "wsbt_ws", "wsbt_wsbp", "wsb_wsbp", "wsbp_wsbt"])
def test_unknown_variant_is_refused(variant):
    with pytest.raises(ValueError, match="kernel variant"):
        triton_kernels.variant_env(variant)


@pytest.mark.parametrize("name", ["SIGATTN_TMA", "SIGATTN_FUSED", "SIGATTN_QREG", "SIGATTN_KVREG", "SIGATTN_WS",
                                  "SIGATTN_WSB"])
def test_unknown_tma_or_fused_setting_is_refused(name):
    done = subprocess.run([sys.executable, "-c", "import sigattn"], capture_output=True, text=True,
                          env={name: "yes", "PYTHONPATH": str(ROOT / "kernels"), "PATH": "/usr/bin:/bin"},
                          timeout=120)
    assert done.returncode != 0 and f"{name}='yes'" in done.stderr
