"""The warp-specialised Gluon backward (SIGATTN_WSB=1, variant word "wsb", sigattn.gluon_backward):
five matmuls a tile pair in one kernel, dQ added by ``red`` reductions; and its form adding dQ by
TMA reductions from shared memory (SIGATTN_WSB=tma, variant word "wsbt", kernel "bwd_wsbt"), and the
persistent form of that (SIGATTN_WSB=persistent, variant word "wsbp", kernel "bwd_wsbp"). Gluon
has no CPU interpreter: on the CPU every autotune entry is compiled for sm_90 and held to what the
design needs (the partitions' register budgets, asynchronous wgmma that ptxas does not serialise,
the dQ reductions, a barrier of the compute warps only), and the dispatch is checked (where the kernel cannot run, the Triton backward
runs and is right); on a GPU its gradients are held against the fp64 truth beside the Triton
backward's."""

import os
import subprocess
import sys

import pytest
import sigattn
import torch
import triton
from sigattn import triton_kernels as tk
from sigattn.reference import sigmoid_attention_ref, sigmoid_attention_varlen_ref
from sigattn_testutil import EPS, check_accuracy, forward_backward, leaf, qkv, randn, use_variant

ENV = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}


@pytest.mark.parametrize("kernel", ["bwd_wsb", "bwd_wsbt", "bwd_wsbp"])
def test_wsb_configs_compile_for_sm90_with_asynchronous_wgmma(kernel):
    """Every entry: the CTA-wide register budget (the compute warps grow to 240, the loader shrinks
    to 24), no spills, five matmuls' wgmmas not serialised by ptxas, TMA copies, the shared memory
    an SM has; the compute partition's barrier (before the dQ matmul reads both warpgroups' dS) a
    named barrier of its own 256 threads: a barrier of the whole CTA would wait for the loader warp
    forever. dQ: bwd_wsb by two-wide fp32 reductions that return nothing (RED, not the ATOMG of
    gl.atomic_add, whose returned values the next tile waits for: session 33), 16 a thread a tile
    at hd128; bwd_wsbt and bwd_wsbp by TMA reductions (UTMAREDG: one in the loop, one for the last
    tile) and no reduction instruction of their threads (bwd_wsbp: one atomic, its item counter's)."""
    code = f"""
from sigattn import resources as R, triton_kernels as tk
for hd, row in tk.TUNE_TABLE["{kernel}"].items():
    for block in row:
        k = R.compile_ws_config(hd, block, kernel="{kernel}")
        r, sass, ptx = R.resources(k), R.sass(k), k.asm["ptx"]
        print(hd, block[2], r["registers"], r["spill_stack_bytes"], r["sass_hgmma"], r["sass_utmaldg"],
              "USETMAXREG.TRY_ALLOC.CTAPOOL UP0, 0xf0" in sass, "USETMAXREG.DEALLOC.CTAPOOL 0x18" in sass,
              sass.count("REDG.E.ADD.F32x2"), sass.count("ATOMG.E.ADD"), sass.count("UTMAREDG"),
              "bar.sync \\t0, 256;" in ptx, len(R.ptxas_notes(k)), r["shared_bytes"])
"""
    out = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=600,
                         check=True).stdout
    rows = [line.split() for line in out.strip().splitlines()]
    assert len(rows) == sum(len(r) for r in tk.TUNE_TABLE[kernel].values())
    for row in rows:
        hd = int(row[0])
        regs, spills, hgmma, tma, grow, shrink, reds, atoms, tma_reds, named, notes, shared = row[2:]
        assert int(spills) == 0 and int(regs) == 168, row
        assert grow == "True" and shrink == "True", row
        # five matmuls a tile: Sᵀ and dPᵀ (K = HEAD_DIM), dV and dK (K = 64 query rows), dQ (K = 128 keys);
        # each warpgroup one k16 instruction a 16 of K
        assert int(hgmma) == 2 * hd // 16 + 2 * 64 // 16 + 128 // 16, row
        assert int(tma) >= 4, row  # K, V, Q, dO
        # [64 query rows, hd] of dQ a tile over 256 threads, two values a reduction; no atomics but
        # the persistent form's item counter (one thread's, an item)
        assert int(atoms) == (kernel == "bwd_wsbp") and named == "True", row
        if kernel == "bwd_wsb":
            assert int(reds) == 64 * hd // 256 // 2 and int(tma_reds) == 0, row
        else:
            assert int(reds) == 0 and int(tma_reds) == 2, row
        assert int(notes) == 0, f"ptxas serialises the wgmmas: {row}"
        assert int(shared) <= 232448 - 1024, row


def test_wsb_asks_for_the_gluon_backward_where_listed_and_never_for_determinism(monkeypatch):
    use_variant(monkeypatch, "wsb")
    assert tk.gluon_backward(128, 16) == "bwd_wsb" and tk.gluon_backward(64, 16) == "bwd_wsb"
    assert not tk.gluon_backward(256, 16384)  # no list there
    assert tk.pass_kernels("bwd", 128) == ("bwd_wsb",) and tk.current_variant() == "wsb"
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        assert not tk.gluon_backward(128, 16384)
    finally:
        torch.use_deterministic_algorithms(before)
    use_variant(monkeypatch, "wsbt")
    assert tk.gluon_backward(128, 16) == "bwd_wsbt" and tk.gluon_backward(64, 16) == "bwd_wsbt"
    use_variant(monkeypatch, "wsbp")
    assert tk.gluon_backward(128, 16) == "bwd_wsbp" and tk.pass_kernels("bwd", 64) == ("bwd_wsbp",)
    use_variant(monkeypatch, "wsbt")
    assert tk.pass_kernels("bwd", 128) == ("bwd_wsbt",) and tk.current_variant() == "wsbt"
    use_variant(monkeypatch, "fast")
    assert not tk.gluon_backward(128, 16384)
    assert tk.pass_kernels("bwd", 128) == ("dq", "dkdv")


@pytest.mark.parametrize(("head_dim", "rows", "takes"), [
    (128, 1024, "bwd_wsbp"),   # TUNED_WSB: hd128 the persistent form from L = 1K (session 36's rules)
    (128, 2048, "bwd_wsbp"),
    (128, 4095, "bwd_wsbp"),
    (128, 4096, "bwd_wsbt"),   # from 4K the per-sequence form (sessions 34-35; wsbp at parity there)
    (128, 16384, "bwd_wsbt"),
    (128, 1023, None),         # shorter batches keep the Triton kernels
    (128, 512, None),
    (64, 16384, None),         # none at hd64 (0.78-1.05x)
    (256, 16384, None),
])
def test_the_default_takes_the_gluon_backwards_over_their_spans_at_hd128(monkeypatch, head_dim, rows, takes):
    use_variant(monkeypatch, "default")
    assert tk.gluon_backward(head_dim, rows) == takes


def test_backward_spans_run_from_each_entry_to_the_next(monkeypatch):
    monkeypatch.setattr(tk, "TUNED_WSB", {128: ((1024, "bwd_wsbp"), (4096, "bwd_wsbt")), 64: ((2048, "bwd_wsbt"),)})
    assert tk.backward_spans(128) == {"bwd_wsbp": (1024, 4096), "bwd_wsbt": (4096, float("inf"))}
    assert tk.backward_spans(64) == {"bwd_wsbt": (2048, float("inf"))}
    assert tk.backward_spans(256) == {}


def test_the_default_names_both_backwards_it_takes_and_never_the_gluon_one_for_determinism(monkeypatch):
    use_variant(monkeypatch, "default")
    assert tk.pass_kernels("bwd", 128) == ("dq", "dkdv", "bwd_wsbp", "bwd_wsbt")
    assert tk.pass_kernels("bwd", 64) == ("dq_tma", "dkdv_tma")
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        assert tk.gluon_backward(128, 16384) is None and tk.pass_kernels("bwd", 128) == ("dq", "dkdv")
    finally:
        torch.use_deterministic_algorithms(before)


@pytest.mark.parametrize("variant", ["wsb", "wsbt", "wsbp"])
def test_wsb_where_it_cannot_run_takes_the_triton_backward(monkeypatch, device, variant):
    """On the CPU (the interpreter) and on a GPU for what the kernel does not do (GQA, causal,
    score_mod): the Triton dQ and dK/dV kernels run, and the gradients are right."""
    use_variant(monkeypatch, variant)
    q, k, v = qkv(2, 40, 40, 4, 2, 16 if device == "cpu" else 64, device=device, seed=61)
    lens = torch.tensor([40, 23], dtype=torch.int32, device=device)
    check_accuracy(sigattn.sigmoid_attention, sigmoid_attention_ref, [q, k, v], dtype=torch.float32,
                   seq_lens_q=lens, causal=True, score_mod=randn(2, 40, seed=62, device=device))
    assert {c["kernel"] for n, c in tk.LAST_CONFIG.items() if n.startswith("backward")} == {"dq", "dkdv"}


def _run(q, k, v, lens, layout, bias):
    """(run, truth): the call of ``layout`` and its fp64 gradients (q, k, v already in that layout)."""
    if layout == "packed":
        cu = sigattn.cu_seqlens(lens)
        return (lambda *t: sigattn.sigmoid_attention_varlen(*t, cu, cu, bias=bias),  # noqa: E731
                lambda *t: sigmoid_attention_varlen_ref(*t, cu, cu, bias=bias))  # noqa: E731
    seq = None if layout == "dense" else lens
    return (lambda *t: sigattn.sigmoid_attention(*t, seq_lens_q=seq, seq_lens_k=seq, bias=bias),  # noqa: E731
            lambda *t: sigmoid_attention_ref(*t, seq_lens_q=seq, seq_lens_k=seq, bias=bias))  # noqa: E731


def _grads(fn, tensors, grad_out):
    return forward_backward(fn, [leaf(t) for t in tensors], grad_out)[1]


GLUON = {"wsb": "bwd_wsb", "wsbt": "bwd_wsbt", "wsbp": "bwd_wsbp"}  # variant -> the kernel it launches


@pytest.mark.gpu
@pytest.mark.parametrize("variant", GLUON)
@pytest.mark.parametrize("head_dim", [64, 128])
@pytest.mark.parametrize("layout", ["dense", "padded", "packed"])
@pytest.mark.parametrize("bias", [None, -2.0])
def test_wsb_backward_matches_the_truth(monkeypatch, variant, head_dim, layout, bias):
    """Lengths that end mid-tile, a single row, a key block past a sequence's end (its dK / dV rows
    stored as zeros), query tiles past it (no dQ added there: the packed rows belong to the next
    sequence), many query tiles a program (the rotated start): dQ, dK and dV within 1.25x the
    Triton backward's error against fp64, plus half an ulp."""
    torch.manual_seed(0)
    lens = [1, 64, 65, 200, 513] if layout != "dense" else [300] * 3
    longest = max(lens)
    q, k, v = (t.detach() for t in qkv(len(lens), longest, longest, 4, 4, head_dim, dtype=torch.bfloat16,
                                       device="cuda", packed=layout == "packed"))
    lengths = torch.tensor(lens, device="cuda", dtype=torch.int32)
    if layout == "packed":
        take = torch.cat([torch.arange(i * longest, i * longest + n) for i, n in enumerate(lens)]).cuda()
        q, k, v = q[take].contiguous(), k[take].contiguous(), v[take].contiguous()
    run, ref = _run(q, k, v, lengths, layout, bias)
    grad_out = randn(*q.shape, seed=63, device="cuda")
    truth = _grads(ref, [t.double() for t in (q, k, v)], grad_out.double())
    use_variant(monkeypatch, "fast")
    base = _grads(run, (q, k, v), grad_out)
    assert tk.LAST_CONFIG["backward_dkdv"]["kernel"] == "dkdv"
    use_variant(monkeypatch, variant)
    got = _grads(run, (q, k, v), grad_out)
    assert tk.LAST_CONFIG["backward_dkdv"]["kernel"] == GLUON[variant] and "backward_dq" not in tk.LAST_CONFIG
    for name, g, b, t in zip(("dq", "dk", "dv"), got, base, truth, strict=True):
        assert torch.isfinite(g).all(), name
        err, base_err = ((x.double() - t).abs().max().item() for x in (g, b))
        tol = 0.5 * EPS[torch.bfloat16] * t.abs().max().item()
        assert err <= 1.25 * base_err + tol, (name, err, base_err, tol)
    if layout == "padded":  # rows past each sequence: zeros, as the Triton backward writes them
        for i, n in enumerate(lens):
            assert all((g[i, n:] == 0).all() for g in got), i


@pytest.mark.gpu
@pytest.mark.parametrize(("variant", "head_dim", "entry"),
                         [(v, hd, e) for v, kernel in GLUON.items() for hd, row in tk.TUNE_TABLE[kernel].items()
                          for e in row])
def test_every_autotune_entry_of_the_gluon_backward_matches_the_truth(monkeypatch, variant, head_dim, entry):
    """Each entry forced, padded, lengths ending mid-tile, bf16 against the fp64 truth."""
    use_variant(monkeypatch, variant)
    monkeypatch.setitem(tk.FORCED_CONFIGS, GLUON[variant], entry)
    q, k, v = qkv(4, 400, 400, 4, 4, head_dim, device="cuda", seed=64)
    lens = torch.tensor([1, 65, 130, 400], dtype=torch.int32, device="cuda")
    check_accuracy(sigattn.sigmoid_attention, sigmoid_attention_ref, [q, k, v], dtype=torch.bfloat16,
                   seq_lens_q=lens)
    assert tk.LAST_CONFIG["backward_dkdv"] == {**tk.LAST_CONFIG["backward_dkdv"], "kernel": GLUON[variant],
                                               "config": entry}


@pytest.mark.gpu
@pytest.mark.parametrize("variant", [*GLUON, "default"])
@pytest.mark.parametrize("head_dim, batch, seq_len, heads", [(64, 4, 2048, 8), (128, 4, 2048, 8), (128, 2, 4096, 8),
                                                              (128, 1, 16384, 4)])
def test_wsb_real_sizes_bf16(monkeypatch, variant, head_dim, batch, seq_len, heads):
    """bf16 at the benchmark's sizes (hundreds of programs, several waves), through the autotuner
    or the tuned table (the autotuner zeroes the dQ accumulator before each config it times); the
    default takes bwd_wsbp at hd128 from 1K to 4K keys and bwd_wsbt from 4K on (TUNED_WSB), the
    Triton kernels at hd64."""
    use_variant(monkeypatch, variant)
    q, k, v = qkv(batch, seq_len, seq_len, heads, heads, head_dim, device="cuda", seed=seq_len + head_dim)
    g = torch.Generator().manual_seed(head_dim)
    lens = torch.randint(int(0.75 * seq_len), seq_len + 1, (batch,), generator=g, dtype=torch.int32).cuda()
    check_accuracy(sigattn.sigmoid_attention, sigmoid_attention_ref, [q, k, v], dtype=torch.bfloat16,
                   seq_lens_q=lens)
    kernel = tk.LAST_CONFIG["backward_dkdv"]["kernel"]
    if variant in GLUON:
        assert kernel == GLUON[variant]
    elif head_dim == 128:
        assert kernel == ("bwd_wsbp" if seq_len < 4096 else "bwd_wsbt"), kernel
    else:  # the Triton dK/dV kernel (pointer or descriptor) at hd64
        assert kernel.startswith("dkdv"), kernel


def test_the_persistent_form_reads_tensors_it_can_view_in_two_dimensions():
    """persistent_blocker: its host-made descriptors read q, k, v and dO as 2-D [rows, heads · head
    dim] views (gluon_kernels._view_2d), q and dO starting their sequences every as many rows (one
    row origin for both); else launchable() takes the per-sequence kernel (bwd_wsbt)."""
    from sigattn import gluon_backward as gb

    q = torch.zeros(3, 100, 4, 64, dtype=torch.bfloat16)
    assert gb.persistent_blocker(q, q, q, q, padded=True) == ""
    heads_apart = torch.zeros(3, 100, 64, 4, dtype=torch.bfloat16).transpose(2, 3)  # a head's values 4 apart
    assert "do's heads are not side by side" in gb.persistent_blocker(q, q, q, heads_apart, padded=True)
    wide = torch.zeros(3, 107, 4, 64, dtype=torch.bfloat16)[:, :100]  # every sequence 107 rows apart
    assert "q and do" in gb.persistent_blocker(q, q, q, wide, padded=True)
    assert gb.persistent_blocker(wide, q, q, wide, padded=True) == ""  # q and dO alike, k and v alike
    assert "k and v" in gb.persistent_blocker(q, wide, q, q, padded=True)
    packed = torch.zeros(300, 4, 64, dtype=torch.bfloat16)
    assert gb.persistent_blocker(packed, packed, packed, packed, padded=False) == ""


@pytest.mark.gpu
def test_the_persistent_form_falls_back_to_the_per_sequence_kernel_where_it_cannot_view_the_tensors():
    from sigattn import gluon_backward as gb

    q = torch.zeros(2, 100, 4, 64, dtype=torch.bfloat16, device="cuda")
    wide = torch.zeros(2, 107, 4, 64, dtype=torch.bfloat16, device="cuda")[:, :100]
    assert gb.launchable("bwd_wsbp", q, q, q, q, None, False, True) == "bwd_wsbp"
    assert gb.launchable("bwd_wsbp", q, q, q, wide, None, False, True) == "bwd_wsbt"
    assert gb.launchable("bwd_wsbp", q, q, q, q, None, True, True) is None  # causal: the Triton kernels


@pytest.mark.gpu
@pytest.mark.parametrize("head_dim", [64, 128])
@pytest.mark.parametrize("layout", ["padded", "packed"])
def test_persistent_form_over_many_items_a_program_ignores_what_lies_past_each_sequence(monkeypatch, head_dim,
                                                                                         layout):
    """More (key block, sequence, head) items than programs (each program carries its ring's slots
    and phases, its dS and dQ staging parities and the last tile's dQ reduction from item to
    item), ragged lengths (key blocks and query tiles reaching into the next sequence or the
    padding, which the kernel zeroes in shared memory), and NaN in every padding row of q, k, v and
    dO: finite gradients, zeros in the padding rows, within 1.25x the Triton backward's error
    against fp64, plus half an ulp."""
    torch.manual_seed(2)
    lens = torch.randint(1, 700, (48,)).tolist()
    longest, heads = max(lens), 4
    q, k, v = (t.detach() for t in qkv(len(lens), longest, longest, heads, heads, head_dim, dtype=torch.bfloat16,
                                       device="cuda", packed=layout == "packed"))
    grad_out = randn(*q.shape, seed=66, device="cuda")
    lengths = torch.tensor(lens, device="cuda", dtype=torch.int32)
    if layout == "packed":
        take = torch.cat([torch.arange(i * longest, i * longest + n) for i, n in enumerate(lens)]).cuda()
        q, k, v, grad_out = (t[take].contiguous() for t in (q, k, v, grad_out))
    else:
        for t in (q, k, v, grad_out):
            for i, n in enumerate(lens):
                t[i, n:] = float("nan")
    run, ref = _run(q, k, v, lengths, layout, None)
    truth = _grads(ref, [t.nan_to_num(0.0).double() for t in (q, k, v)], grad_out.nan_to_num(0.0).double())
    items = triton.cdiv(longest, 128) * len(lens) * heads
    assert items > 2 * torch.cuda.get_device_properties(0).multi_processor_count
    use_variant(monkeypatch, "fast")
    base = _grads(run, (q, k, v), grad_out)
    use_variant(monkeypatch, "wsbp")
    got = _grads(run, (q, k, v), grad_out)
    assert tk.LAST_CONFIG["backward_dkdv"]["kernel"] == "bwd_wsbp", tk.LAST_CONFIG
    valid = torch.ones_like(truth[0], dtype=torch.bool)
    if layout == "padded":
        for i, n in enumerate(lens):
            valid[i, n:] = False
            assert all((g[i, n:] == 0).all() for g in got), i
    for name, g, b, t in zip(("dq", "dk", "dv"), got, base, truth, strict=True):
        assert torch.isfinite(g).all(), name
        err, base_err = ((x.double() - t)[valid].abs().max().item() for x in (g, b))
        tol = 0.5 * EPS[torch.bfloat16] * t[valid].abs().max().item()
        assert err <= 1.25 * base_err + tol, (name, err, base_err, tol)
