"""The warp-specialised Gluon dQ kernel (SIGATTN_WS_DQ=1, variant word "wsdq": gluon_kernels._ws_dq_kernel).
On the CPU every autotune entry is compiled for sm_90 and held to the design (no spills, no
serialised wgmma, TMA copies of Q, dO, K and V, the shared memory an SM has) and the launcher's
arguments are checked by name; on a GPU its dQ runs against the fp64 truth beside the Triton dQ
kernel's, and dK/dV stay the Triton kernel's."""

import os
import subprocess
import sys

import pytest
import sigattn
import torch
from sigattn import triton_kernels as tk
from sigattn.reference import sigmoid_attention_ref, sigmoid_attention_varlen_ref
from sigattn_testutil import EPS, qkv, use_variant

ENV = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}


def test_dq_ws_configs_compile_for_sm90_with_asynchronous_wgmma():
    code = """
from sigattn import resources as R, triton_kernels as tk
for hd, row in tk.TUNE_TABLE["dq_ws"].items():
    for block in row:
        k = R.compile_ws_config(hd, block, sigmoid="fast", kernel="dq_ws")
        r = R.resources(k)
        print(hd, *block, r["registers"], r["spill_stack_bytes"], r["sass_hgmma"], r["sass_utmaldg"], r["sass_mufu"],
              len(R.ptxas_notes(k)), r["shared_bytes"])
"""
    out = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=600,
                         check=True).stdout
    rows = [[int(x) for x in line.split()] for line in out.strip().splitlines()]
    assert len(rows) == sum(len(r) for r in tk.TUNE_TABLE["dq_ws"].values())
    for hd, m, n, warps, stages, regs, spills, hgmma, tma, mufu, notes, shared in rows:
        assert stages >= 3, "the ring needs three slots (gluon_kernels._dq_attend)"
        assert spills == 0 and regs == {8: 168, 4: 128}[warps], (hd, m, n, warps)
        assert notes == 0, f"ptxas serialises the wgmmas: {(hd, m, n, warps, stages)}"
        assert hgmma > 0 and tma >= 4 and mufu > 0, (hd, m, n)  # wgmma; TMA copies of Q, dO, K, V; the sigmoid
        assert shared <= 232448 // {8: 1, 4: 2}[warps] - 1024, (hd, m, n, warps, stages, shared)


def test_a_two_slot_ring_is_refused_at_compile_time():
    """Two K/V slots would deadlock (_dq_attend's docstring): the kernel refuses to compile them."""
    code = "from sigattn import resources as R; R.compile_ws_config(64, (64, 64, 4, 2), sigmoid='fast', kernel='dq_ws')"
    done = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode != 0 and "needs >= 3 slots" in done.stderr


def test_launcher_hands_each_kernel_parameter_its_value(monkeypatch):
    from sigattn import gluon_kernels as gk

    seen = {}
    monkeypatch.setattr(tk, "_launch", lambda name, kernel, autotuner, grid, args, flags, *a, **kw: seen.update(
        name=name, kernel=kernel, fn=autotuner.fn, grid=grid, args=args, flags=flags))
    q = torch.zeros(3, 300, 4, 64, dtype=torch.bfloat16)
    k = v = torch.zeros(3, 300, 2, 64, dtype=torch.bfloat16)
    do, dq = torch.zeros_like(q), torch.empty_like(q)
    table = torch.zeros(4, 3, dtype=torch.int32)
    gk.backward_dq(do, q, k, v, table, scale=0.125, bias=-2.0, padded=True, rows_q=300, dq=dq)
    assert (seen["name"], seen["kernel"]) == ("backward_dq", "dq_ws")
    assert seen["flags"]["SIGMOID"] == "fast" and seen["flags"]["STORE_PADDED"] and not seen["flags"]["DEFAULT_BIAS"]
    params = [a for a in seen["fn"].arg_names if a not in seen["flags"] and a not in
              ("BLOCK_M", "BLOCK_N", "STAGES", "num_warps")]
    got = dict(zip(params, seen["args"], strict=True))
    assert got["Q"] is q and got["K"] is k and got["V"] is v and got["DO"] is do and got["DQ"] is dq
    assert got["SEQ"] is table
    assert (got["n_seqs"], got["heads_q"], got["group"], got["rows_q"]) == (3, 4, 2, 300)
    assert (got["scale"], got["bias_value"], got["seqlen_bucket"]) == (0.125, -2.0, 512)
    assert (got["stride_kb"], got["stride_kt"], got["stride_kh"]) == k.stride()[:3]
    assert (got["stride_dqb"], got["stride_dqt"], got["stride_dqh"]) == dq.stride()[:3]
    assert seen["grid"]({"BLOCK_M": 128}) == (3 * 3 * 4,)


def test_which_dq_kernel_a_variant_takes(monkeypatch):
    """Only the single variant with the word wsdq asks for the Gluon dQ kernel (16-bit inputs):
    the default has no rule for it met; its dK/dV kernel stays the variant's Triton one."""
    use_variant(monkeypatch, "default")
    assert not tk.backward_gluon_dq(128, torch.bfloat16)
    assert tk.pass_kernels("bwd", 128) == ("dq", "dkdv")
    use_variant(monkeypatch, "wsdq")
    assert tk.backward_gluon_dq(128, torch.bfloat16) and tk.backward_gluon_dq(64, torch.float16)
    assert not tk.backward_gluon_dq(128, torch.float32)
    assert tk.pass_kernels("bwd", 128) == ("dq_ws", "dkdv")
    assert tk.pass_kernels("bwd", 256) == ("dq", "dkdv")  # no list at hd256
    use_variant(monkeypatch, "tma_wsdq")
    assert tk.pass_kernels("bwd", 64) == ("dq_ws", "dkdv_tma")


def _grads(q, k, v, do, lens, layout, bias):
    """(dq, dk, dv) of our kernel for the output gradient do; the kernels that ran."""
    leaves = [t.detach().requires_grad_(True) for t in (q, k, v)]
    if layout == "packed":
        cu = sigattn.cu_seqlens(lens)
        out = sigattn.sigmoid_attention_varlen(*leaves, cu, cu, bias=bias)
    else:
        seq = None if layout == "dense" else lens
        out = sigattn.sigmoid_attention(*leaves, seq_lens_q=seq, seq_lens_k=seq, bias=bias)
    grads = torch.autograd.grad(out, leaves, do)
    return grads, {n: c["kernel"] for n, c in tk.LAST_CONFIG.items() if n.startswith("backward")}


def _truth_dq(q, k, v, do, lens, layout, bias):
    leaves = [t.detach().double().requires_grad_(True) for t in (q, k, v)]
    if layout == "packed":
        cu = sigattn.cu_seqlens(lens)
        out = sigmoid_attention_varlen_ref(*leaves, cu, cu, bias=bias)
    else:
        seq = None if layout == "dense" else lens
        out = sigmoid_attention_ref(*leaves, seq_lens_q=seq, seq_lens_k=seq, bias=bias)
    return torch.autograd.grad(out, leaves[0], do.double())[0]


def _inputs(lens, heads_kv, head_dim, packed, seed=0):
    longest = max(lens)
    q, k, v = (t.detach() for t in qkv(len(lens), longest, longest, 4, heads_kv, head_dim, dtype=torch.bfloat16,
                                       device="cuda", packed=packed, seed=seed))
    do = torch.randn(q.shape, device="cuda", generator=torch.Generator("cuda").manual_seed(seed + 7)).to(q.dtype)
    lengths = torch.tensor(lens, device="cuda", dtype=torch.int32)
    if packed:
        take = torch.cat([torch.arange(i * longest, i * longest + n) for i, n in enumerate(lens)]).cuda()
        q, k, v, do = (t[take].contiguous() for t in (q, k, v, do))
    return q, k, v, do, lengths


@pytest.mark.gpu
@pytest.mark.parametrize("head_dim", [64, 128])
@pytest.mark.parametrize("layout", ["dense", "padded", "packed"])
@pytest.mark.parametrize("heads_kv", [4, 2])
@pytest.mark.parametrize("bias", [None, -2.0])
def test_ws_dq_matches_the_truth(monkeypatch, head_dim, layout, heads_kv, bias):
    """Lengths that end mid-tile, one to three key tiles (the loop's odd/even tails), a query block
    past a sequence's end, GQA: the Gluon dQ's error against fp64 within 1.25x the Triton dQ
    kernel's plus half an ulp; dK and dV the Triton kernel's, bitwise; padding rows of dQ zero."""
    lens = [1, 32, 33, 64, 65, 200, 513] if layout != "dense" else [300] * 3
    q, k, v, do, lengths = _inputs(lens, heads_kv, head_dim, layout == "packed")
    use_variant(monkeypatch, "fast")
    (base_dq, base_dk, base_dv), ran = _grads(q, k, v, do, lengths, layout, bias)
    assert ran["backward_dq"] == "dq"
    use_variant(monkeypatch, "wsdq")
    (dq, dk, dv), ran = _grads(q, k, v, do, lengths, layout, bias)
    assert ran == {"backward_dq": "dq_ws", "backward_dkdv": "dkdv"}, ran
    assert torch.equal(dk, base_dk) and torch.equal(dv, base_dv)
    truth = _truth_dq(q, k, v, do, lengths, layout, bias)
    assert not torch.isnan(dq).any()
    err, base_err = ((x.double() - truth).abs().max().item() for x in (dq, base_dq))
    tol = 0.5 * EPS[torch.bfloat16] * truth.abs().max().item()
    assert err <= 1.25 * base_err + tol, (err, base_err, tol)
    if layout == "padded":
        for i, n in enumerate(lens):
            assert (dq[i, n:] == 0).all()


@pytest.mark.gpu
@pytest.mark.parametrize(("head_dim", "entry"), [(hd, e) for hd, row in tk.TUNE_TABLE["dq_ws"].items() for e in row])
def test_every_autotune_entry_of_the_gluon_dq_matches_the_truth(monkeypatch, head_dim, entry):
    """Each entry forced, padded with NaN in the padding (0 · NaN is NaN: what the kernel must not
    read), lengths ending mid-tile, 16 heads x 4 sequences so that several programs share an SM."""
    lens = [1, 65, 130, 700]
    q, k, v, do, lengths = _inputs(lens, 2, head_dim, False, seed=3)
    for t in (q, k, v, do):
        for i, n in enumerate(lens):
            t[i, n:] = float("nan")
    use_variant(monkeypatch, "fast")
    (base_dq, _, _), _ = _grads(q, k, v, do, lengths, "padded", None)
    use_variant(monkeypatch, "wsdq")
    monkeypatch.setitem(tk.FORCED_CONFIGS, "dq_ws", entry)
    (dq, _, _), ran = _grads(q, k, v, do, lengths, "padded", None)
    assert ran["backward_dq"] == "dq_ws" and tuple(tk.LAST_CONFIG["backward_dq"]["config"]) == entry
    truth = _truth_dq(*(torch.nan_to_num(t) for t in (q, k, v, do)), lengths, "padded", None)
    for i, n in enumerate(lens):
        assert (dq[i, n:] == 0).all() and not torch.isnan(dq[i, :n]).any()
        err, base_err = ((x[i, :n].double() - truth[i, :n]).abs().max().item() for x in (dq, base_dq))
        assert err <= 1.25 * base_err + 0.5 * EPS[torch.bfloat16] * truth.abs().max().item(), (i, err, base_err)


@pytest.mark.gpu
def test_ws_dq_falls_back_where_it_cannot_run(monkeypatch):
    """Causal, fp32 and an output gradient whose tokens share one row (stride 0: a sum's gradient)
    take the Triton dQ kernel under wsdq."""
    use_variant(monkeypatch, "wsdq")
    q, k, v, do, lengths = _inputs([128, 128], 2, 64, False)
    for kwargs, tensors, grad in (({"causal": True}, (q, k, v), do), ({}, (q.float(), k.float(), v.float()), do.float()),
                                  ({}, (q, k, v), do[:, :1].expand_as(do))):
        leaves = [t.detach().requires_grad_(True) for t in tensors]
        torch.autograd.grad(sigattn.sigmoid_attention(*leaves, **kwargs), leaves, grad)
        assert tk.LAST_CONFIG["backward_dq"]["kernel"] == "dq", kwargs
    _, ran = _grads(q, k, v, do, lengths, "dense", None)
    assert ran["backward_dq"] == "dq_ws"
