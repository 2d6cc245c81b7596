"""The warp-specialised Gluon forward (SIGATTN_WS=1, sigattn.gluon_kernels) and its persistent form
(SIGATTN_WS=persistent). Gluon has no CPU
interpreter: on the CPU every autotune entry is compiled for sm_90 and held to what the design
needs (the loader's and compute partitions' register budgets, TMA copies, asynchronous wgmma that
ptxas does not serialise); on a GPU the forward runs against the fp64 truth beside the Triton
forward with the same sigmoid."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sigattn
import torch
import triton
from sigattn import triton_kernels as tk
from sigattn.reference import sigmoid_attention_ref, sigmoid_attention_varlen_ref
from sigattn_testutil import EPS, qkv, use_variant

ENV = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
ROOT = Path(__file__).resolve().parents[2]


def test_ws_configs_compile_for_sm90_with_asynchronous_wgmma():
    """Every entry (bf16x2; the fast sigmoid, which changes only the elementwise code, for each
    list's first): the register split, no spills, asynchronous wgmma, TMA copies, the shared
    memory an SM has."""
    code = """
from sigattn import gluon_kernels as gk, resources as R, triton_kernels as tk
for kernel in ("fwd_ws", "fwd_wsp"):
  for hd, row in tk.TUNE_TABLE[kernel].items():
    for i, block in enumerate(row):
        for sigmoid in ("bf16x2", "fast")[:1 if i else 2]:
            k = R.compile_ws_config(hd, block, sigmoid=sigmoid, kernel=kernel)
            r, sass = R.resources(k), R.sass(k)
            grow = hex((gk.MAX_REGISTERS[block[2]] * (block[2] + 4) - 24 * 4) // block[2])  # what the loader leaves
            print(kernel, hd, block[2], sigmoid, r["registers"], r["spill_stack_bytes"], r["sass_hgmma"],
                  r["sass_utmaldg"], f"USETMAXREG.TRY_ALLOC.CTAPOOL UP0, {grow}" in sass,
                  "USETMAXREG.DEALLOC.CTAPOOL 0x18" in sass, len(R.ptxas_notes(k)), r["shared_bytes"],
                  sass.count("ATOMG.E.ADD"))
"""
    out = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=600, check=True).stdout
    rows = [line.split() for line in out.strip().splitlines()]
    lists = [r for k in ("fwd_ws", "fwd_wsp") for r in tk.TUNE_TABLE[k].values()]
    assert len(rows) == sum(len(r) for r in lists) + len(lists)
    for row in rows:
        warps = int(row[2])
        regs, spills, hgmma, tma, grow, shrink, notes, shared, atoms = row[-9:]
        assert int(spills) == 0 and int(regs) == {8: 168, 4: 128}[warps], row  # the CTA-wide budget the partitions share
        assert grow == "True" and shrink == "True", f"compute warps to 240 (232) registers, the loader to 24: {row}"
        assert int(hgmma) > 0 and int(tma) >= 3, row  # wgmma matmuls; TMA copies of Q, K, V
        assert int(notes) == 0, f"ptxas serialises the wgmmas: {row}"
        ctas = 232448 // {8: 1, 4: 2}[warps] - 1024  # two CTAs an SM with 4 compute warps: each half the SM
        assert int(shared) <= ctas, row
        assert int(atoms) == (row[0] == "fwd_wsp"), f"one atomic, the persistent form's item counter: {row}"


GLUON = {"ws_bf16x2": "fwd_ws", "wsp_bf16x2": "fwd_wsp"}  # variant -> the kernel it launches


@pytest.mark.gpu
@pytest.mark.parametrize("variant", list(GLUON))
@pytest.mark.parametrize("head_dim", [64, 128])
@pytest.mark.parametrize("layout", ["dense", "padded", "packed"])
@pytest.mark.parametrize("heads_kv", [4, 2])
@pytest.mark.parametrize("bias", [None, -2.0])
def test_ws_forward_matches_the_truth(monkeypatch, variant, head_dim, layout, heads_kv, bias):
    """Lengths that end mid-tile, one and two tiles (the loop's odd/even tails), a query block past
    a sequence's end (padding rows are zeros), GQA: the Gluon forward's error against fp64 within
    1.25x the Triton forward's (same bf16 P) plus half an ulp."""
    torch.manual_seed(0)
    lens = [1, 64, 65, 200, 513] if layout != "dense" else [300] * 3
    longest = max(lens)
    packed = layout == "packed"
    q, k, v = (t.detach() for t in qkv(len(lens), longest, longest, 4, heads_kv, head_dim, dtype=torch.bfloat16,
                                       device="cuda", packed=packed))
    lengths = torch.tensor(lens, device="cuda", dtype=torch.int32)
    if packed:
        cu = sigattn.cu_seqlens(lengths)
        take = torch.cat([torch.arange(i * longest, i * longest + n) for i, n in enumerate(lens)]).cuda()
        q, k, v = q[take].contiguous(), k[take].contiguous(), v[take].contiguous()
        run = lambda: sigattn.sigmoid_attention_varlen(q, k, v, cu, cu, bias=bias)  # noqa: E731
        truth = sigmoid_attention_varlen_ref(q.double(), k.double(), v.double(), cu, cu, bias=bias)
    else:
        seq = None if layout == "dense" else lengths
        run = lambda: sigattn.sigmoid_attention(q, k, v, seq_lens_q=seq, seq_lens_k=seq, bias=bias)  # noqa: E731
        truth = sigmoid_attention_ref(q.double(), k.double(), v.double(), seq_lens_q=seq, seq_lens_k=seq, bias=bias)
    use_variant(monkeypatch, "bf16x2")
    base = run()
    assert tk.LAST_CONFIG["forward"]["kernel"] == "fwd"
    use_variant(monkeypatch, variant)
    got = run()
    assert tk.LAST_CONFIG["forward"]["kernel"] == GLUON[variant], tk.LAST_CONFIG
    assert not torch.isnan(got).any()
    err = (got.double() - truth).abs().max().item()
    base_err = (base.double() - truth).abs().max().item()
    tol = 0.5 * EPS[torch.bfloat16] * truth.abs().max().item()
    assert err <= 1.25 * base_err + tol, (err, base_err, tol)
    if layout == "padded":  # padding rows written as zeros, as the Triton forward does
        for i, n in enumerate(lens):
            assert (got[i, n:] == 0).all()


@pytest.mark.gpu
@pytest.mark.parametrize(("variant", "head_dim", "entry"), [
    (variant, hd, entry) for variant, kernel in GLUON.items() for hd, row in tk.TUNE_TABLE[kernel].items()
    for entry in row])
def test_every_autotune_entry_of_the_gluon_forwards_matches_the_truth(monkeypatch, variant, head_dim, entry):
    """Each entry forced (two CTAs an SM for the 4-warp ones): padded, lengths ending mid-tile."""
    torch.manual_seed(2)
    lens = [1, 65, 130, 400]
    q, k, v = (t.detach() for t in qkv(len(lens), 400, 400, 4, 2, head_dim, dtype=torch.bfloat16, device="cuda"))
    seq = torch.tensor(lens, device="cuda", dtype=torch.int32)
    truth = sigmoid_attention_ref(q.double(), k.double(), v.double(), seq_lens_q=seq, seq_lens_k=seq)
    use_variant(monkeypatch, "bf16x2")
    base = sigattn.sigmoid_attention(q, k, v, seq_lens_q=seq, seq_lens_k=seq)
    use_variant(monkeypatch, variant)
    monkeypatch.setitem(tk.FORCED_CONFIGS, GLUON[variant], entry)
    got = sigattn.sigmoid_attention(q, k, v, seq_lens_q=seq, seq_lens_k=seq)
    assert tk.LAST_CONFIG["forward"]["kernel"] == GLUON[variant] and tuple(tk.LAST_CONFIG["forward"]["config"]) == entry
    err, base_err = ((x.double() - truth).abs().max().item() for x in (got, base))
    assert err <= 1.25 * base_err + 0.5 * EPS[torch.bfloat16] * truth.abs().max().item(), (err, base_err)


@pytest.mark.gpu
@pytest.mark.parametrize(("variant", "head_dim"), [(v, hd) for v, kernel in GLUON.items() for hd in tk.TUNE_TABLE[kernel]])
def test_every_autotune_entry_returns_on_a_grid_of_several_programs_an_sm(tmp_path, variant, head_dim):
    """Session 24: hd64 64 x 64 / 4 warps / 3 slots of the Gluon forward passed the truth test
    above (112 programs: one an SM) but never returned at the benchmark's grids, where several
    programs share an SM. Each entry forced at 16 x 1024 tokens, 16 heads (2048-4096 programs) in
    a process of its own under a deadline (probe_configs.py), so that a hang fails the test."""
    out = tmp_path / "probe.csv"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "kernels"), str(ROOT / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, str(ROOT / "workflow/scripts/probe_configs.py"), "--variant", variant,
                    "--kernel", GLUON[variant], "--head-dim", str(head_dim), "--shapes", "16x1024",
                    "--timeout-s", "90", "--jobs", "2", "--out", str(out)], env=env, check=True, timeout=600)
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(tk.TUNE_TABLE[GLUON[variant]][head_dim]) + 1  # each entry, then the autotuner's pick
    assert all(r["status"] == "ok" for r in rows), [(r["config"], r["status"], r["reason"]) for r in rows]
    assert all(r["launched"].startswith(GLUON[variant] + ":") for r in rows), [r["launched"] for r in rows]


@pytest.mark.gpu
@pytest.mark.parametrize("head_dim", [64, 128])
@pytest.mark.parametrize("padded", [False, True])
def test_persistent_form_over_many_items_a_program_ignores_what_lies_past_each_sequence(monkeypatch, head_dim, padded):
    """More row blocks than programs (each program carries its ring's slots and phases from item to
    item), ragged lengths (last tiles reaching into the next sequence or the padding), and NaN in
    every padding row of q, k and v: finite, and within the Triton forward's error of the truth."""
    torch.manual_seed(1)
    lens = torch.randint(1, 700, (48,)).tolist()
    longest, heads = max(lens), 4
    q, k, v = (t.detach() for t in qkv(len(lens), longest, longest, heads, 2, head_dim, dtype=torch.bfloat16,
                                       device="cuda", packed=not padded))
    lengths = torch.tensor(lens, device="cuda", dtype=torch.int32)
    if padded:
        for t in (q, k, v):
            for i, n in enumerate(lens):
                t[i, n:] = float("nan")
        run = lambda: sigattn.sigmoid_attention(q, k, v, seq_lens_q=lengths, seq_lens_k=lengths)  # noqa: E731
        clean = [t.nan_to_num(0.0).double() for t in (q, k, v)]
        truth = sigmoid_attention_ref(*clean, seq_lens_q=lengths, seq_lens_k=lengths)
    else:
        take = torch.cat([torch.arange(i * longest, i * longest + n) for i, n in enumerate(lens)]).cuda()
        q, k, v = q[take].contiguous(), k[take].contiguous(), v[take].contiguous()
        cu = sigattn.cu_seqlens(lengths)
        run = lambda: sigattn.sigmoid_attention_varlen(q, k, v, cu, cu)  # noqa: E731
        truth = sigmoid_attention_varlen_ref(q.double(), k.double(), v.double(), cu, cu)
    items = triton.cdiv(longest, 128) * len(lens) * heads
    assert items > 2 * torch.cuda.get_device_properties(0).multi_processor_count
    use_variant(monkeypatch, "bf16x2")
    base = run()
    use_variant(monkeypatch, "wsp_bf16x2")
    got = run()
    assert tk.LAST_CONFIG["forward"]["kernel"] == "fwd_wsp", tk.LAST_CONFIG
    assert torch.isfinite(got).all()
    valid = torch.ones_like(truth, dtype=torch.bool)
    if padded:
        for i, n in enumerate(lens):
            valid[i, n:] = False
            assert (got[i, n:] == 0).all()
    err = (got.double() - truth)[valid].abs().max().item()
    base_err = (base.double() - truth)[valid].abs().max().item()
    assert err <= 1.25 * base_err + 0.5 * EPS[torch.bfloat16] * truth.abs().max().item(), (err, base_err)


def test_persistent_form_reads_tensors_it_can_view_in_two_dimensions():
    """persistent_blocker and the 2-D views the persistent form's descriptors are made over:
    padded [B, L, H, D] as B - 1 batch strides of rows and L more, packed [T, H, D] as T rows;
    heads not side by side in a token, or a batch stride that is not whole token strides, go back
    to the per-sequence-descriptor kernel."""
    from sigattn import gluon_kernels as gk

    q = torch.zeros(3, 100, 4, 64, dtype=torch.bfloat16)
    assert gk.persistent_blocker(q, q, q, padded=True) == ""
    assert gk._view_2d(q, True) == ([300, 256], [256, 1], 100)
    wide = torch.zeros(3, 107, 4, 64, dtype=torch.bfloat16)[:, :100]  # a slice: every sequence 107 rows apart
    assert gk._view_2d(wide, True) == ([2 * 107 + 100, 256], [256, 1], 107)
    assert gk.persistent_blocker(wide, wide, wide, padded=True) == ""
    packed = torch.zeros(250, 4, 64, dtype=torch.bfloat16)
    assert gk._view_2d(packed, False) == ([250, 256], [256, 1], 0)
    heads_outer = torch.zeros(3, 4, 100, 64, dtype=torch.bfloat16).transpose(1, 2)
    assert "side by side" in gk.persistent_blocker(heads_outer, q, q, padded=True)
    odd = torch.zeros(3 * (100 * 256 + 64), dtype=torch.bfloat16).as_strided((3, 100, 4, 64), (100 * 256 + 64, 256, 64, 1))
    assert "not a multiple" in gk.persistent_blocker(q, odd, odd, padded=True)
    assert "different number of rows" in gk.persistent_blocker(q, q, wide, padded=True)
    assert "empty" in gk.persistent_blocker(q, q[:, :0], q[:, :0], padded=True)


@pytest.mark.gpu
def test_ws_falls_back_where_it_cannot_run(monkeypatch):
    """Causal, score_mod and fp32 launches take the Triton forward under SIGATTN_WS=1."""
    use_variant(monkeypatch, "ws_bf16x2")
    q, k, v = (t.detach() for t in qkv(2, 128, 128, 2, 2, 64, dtype=torch.bfloat16, device="cuda"))
    sigattn.sigmoid_attention(q, k, v, causal=True)
    assert tk.LAST_CONFIG["forward"]["kernel"] == "fwd"
    sigattn.sigmoid_attention(q.float(), k.float(), v.float())
    assert tk.LAST_CONFIG["forward"]["kernel"] == "fwd"
    sigattn.sigmoid_attention(q, k, v)
    assert tk.LAST_CONFIG["forward"]["kernel"] == "fwd_ws"


@pytest.mark.parametrize(("variant", "head_dim", "rows", "dtype", "takes"), [
    ("default", 128, 8192, torch.bfloat16, "fwd_ws"),    # TUNED_WS_FROM: hd128 from L = 8K on (session 22's rule)
    ("default", 128, 16384, torch.bfloat16, "fwd_ws"),
    ("default", 128, 8191, torch.bfloat16, None),        # shorter batches keep the Triton forward (TUNED_WSP
    ("default", 128, 1024, torch.bfloat16, None),        # empty: session 24's rule for its form not met)
    ("default", 128, 16384, torch.float16, None),        # the rules measured bf16 P (fp16 takes halley)
    ("default", 128, 4096, torch.float16, None),
    ("default", 64, 4096, torch.bfloat16, None),         # no switch at hd64 (0.82-0.97x the Triton forward)
    ("default", 64, 16384, torch.bfloat16, None),
    ("default", 256, 16384, torch.bfloat16, None),       # no Gluon forward there
    ("bf16x2", 128, 4096, torch.bfloat16, None),         # a single variant: only SIGATTN_WS decides
    ("ws_bf16x2", 64, 16, torch.float32, "fwd_ws"),      # (fp32 then falls back in blocker)
    ("wsp_bf16x2", 64, 16, torch.bfloat16, "fwd_wsp"),
])
def test_which_forward_the_variant_takes(monkeypatch, variant, head_dim, rows, dtype, takes):
    use_variant(monkeypatch, variant)
    assert tk.forward_gluon(head_dim, rows, dtype) == takes


def test_a_length_range_of_the_persistent_form_under_the_default(monkeypatch):
    """TUNED_WSP (empty since session 24's rule was not met) routes [from, until) rows to the
    persistent form, bf16 only, TUNED_WS_FROM's lengths after it."""
    use_variant(monkeypatch, "default")
    monkeypatch.setattr(tk, "TUNED_WSP", {128: (1024, 8192)})
    takes = {rows: tk.forward_gluon(128, rows, torch.bfloat16) for rows in (1023, 1024, 8191, 8192)}
    assert takes == {1023: None, 1024: "fwd_wsp", 8191: "fwd_wsp", 8192: "fwd_ws"}
    assert tk.forward_gluon(128, 4096, torch.float16) is None
    assert tk.forward_gluon(64, 4096, torch.bfloat16) is None


def test_the_default_names_every_forward_it_switches_to(monkeypatch):
    """pass_kernels (the variant check's list): under the default, hd128's forward is the Triton
    kernel and the per-sequence Gluon one (TUNED_WS_FROM), with the persistent form where
    TUNED_WSP names the head dim; hd64 only the Triton one."""
    use_variant(monkeypatch, "default")
    assert tk.pass_kernels("fwd", 128) == ("fwd", "fwd_ws")
    assert tk.pass_kernels("fwd", 64) == ("fwd",)
    monkeypatch.setattr(tk, "TUNED_WSP", {128: (1024, 8192)})
    assert tk.pass_kernels("fwd", 128) == ("fwd", "fwd_wsp", "fwd_ws")
    use_variant(monkeypatch, "ws_bf16x2")
    assert tk.pass_kernels("fwd", 128) == ("fwd_ws",)
    use_variant(monkeypatch, "wsp_bf16x2")
    assert tk.pass_kernels("fwd", 128) == ("fwd_wsp",)
    use_variant(monkeypatch, "bf16x2")
    assert tk.pass_kernels("fwd", 128) == ("fwd",)


def test_a_persistent_launch_the_2d_view_cannot_take_falls_back_by_mode(monkeypatch):
    """launchable: where persistent_blocker refuses (heads not side by side in a token), the
    default takes the Triton forward (its rule timed the persistent form against it) and the
    single variant SIGATTN_WS=persistent the per-sequence Gluon kernel."""
    from sigattn import gluon_kernels as gk

    monkeypatch.setattr(gk, "blocker", lambda *a: "")  # CPU tensors: past the GPU checks
    q = torch.zeros(2, 300, 64, 4, dtype=torch.bfloat16).transpose(-1, -2)  # head stride 1
    k = v = torch.zeros(2, 300, 2, 64, dtype=torch.bfloat16)
    assert gk.persistent_blocker(q, k, v, True)
    use_variant(monkeypatch, "default")
    assert gk.launchable("fwd_wsp", q, k, v, None, False, True) is None
    assert gk.launchable("fwd_wsp", k, k, v, None, False, True) == "fwd_wsp"
    use_variant(monkeypatch, "wsp_bf16x2")
    assert gk.launchable("fwd_wsp", q, k, v, None, False, True) == "fwd_ws"
    monkeypatch.setattr(gk, "blocker", lambda *a: "causal")
    assert gk.launchable("fwd_wsp", k, k, v, None, True, True) is None


@pytest.mark.gpu
@pytest.mark.parametrize("padded", [False, True])
def test_the_default_forward_switches_at_8k(monkeypatch, padded):
    """The default (tuned) at hd128, bf16: a batch whose longest sequence is 8K takes the Gluon
    forward, one of 8K - 1 the Triton forward; the Gluon one within 1.25x of the Triton one's
    error against a fp64 truth on the same 8K batch."""
    use_variant(monkeypatch, "default")
    torch.manual_seed(0)
    q, k, v = (t.detach() for t in qkv(1, 8192, 8192, 2, 2, 128, dtype=torch.bfloat16, device="cuda"))
    seq = torch.tensor([8192 - 200], device="cuda", dtype=torch.int32) if padded else None
    got = sigattn.sigmoid_attention(q, k, v, seq_lens_q=seq, seq_lens_k=seq)
    assert tk.LAST_CONFIG["forward"]["kernel"] == "fwd_ws", tk.LAST_CONFIG
    truth = sigmoid_attention_ref(q.double(), k.double(), v.double(), seq_lens_q=seq, seq_lens_k=seq)
    use_variant(monkeypatch, "bf16x2")
    base = sigattn.sigmoid_attention(q, k, v, seq_lens_q=seq, seq_lens_k=seq)
    err, base_err = ((x.double() - truth).abs().max().item() for x in (got, base))
    assert err <= 1.25 * base_err + 0.5 * EPS[torch.bfloat16] * truth.abs().max().item(), (err, base_err)
    use_variant(monkeypatch, "default")
    sigattn.sigmoid_attention(*(t[:, : 8192 - 1] for t in (q, k, v)))
    assert tk.LAST_CONFIG["forward"]["kernel"] == "fwd", tk.LAST_CONFIG


@pytest.mark.parametrize("persistent", [False, True])
def test_launcher_hands_each_kernel_parameter_its_value(monkeypatch, persistent):
    """The launch arguments line up with the kernel's parameters by name (the launch is captured,
    CPU tensors): tensors/descriptors, the sequence table, shapes, the persistent form's rows a
    sequence and item count, scale and bias, O's strides; every other parameter a launch flag or
    config keyword."""
    from sigattn import gluon_kernels as gk
    from triton.experimental.gluon.nvidia.hopper import TensorDescriptor

    seen = {}
    monkeypatch.setattr(tk, "_launch", lambda name, kernel, autotuner, grid, args, flags, *a, **kw: seen.update(
        kernel=kernel, fn=autotuner.fn, grid=grid, args=args, flags=flags))
    monkeypatch.setattr(gk, "_sm_count", lambda device: 132)
    q = torch.zeros(3, 300, 4, 64, dtype=torch.bfloat16)
    k = v = torch.zeros(3, 300, 2, 64, dtype=torch.bfloat16)
    o = torch.empty_like(q)
    table = torch.zeros(4, 3, dtype=torch.int32)
    gk.forward(q, k, v, table, scale=0.125, bias=-2.0, padded=True, rows_q=300, o=o,
               kernel="fwd_wsp" if persistent else "fwd_ws")
    assert seen["kernel"] == ("fwd_wsp" if persistent else "fwd_ws")
    params = [a for a in seen["fn"].arg_names if a not in seen["flags"] and a not in
              ("BLOCK_M", "BLOCK_N", "STAGES", "num_warps")]
    got = dict(zip(params, seen["args"], strict=True))
    assert got["Out"] is o and got["SEQ"] is table
    assert (got["n_seqs"], got["heads_q"], got["group"], got["rows_q"]) == (3, 4, 2, 300)
    assert (got["scale"], got["bias_value"], got["seqlen_bucket"]) == (0.125, -2.0, 512)
    assert (got["stride_ob"], got["stride_ot"], got["stride_oh"]) == o.stride()[:3]
    if persistent:
        assert all(isinstance(got[d], TensorDescriptor) for d in ("q_desc", "k_desc", "v_desc"))
        assert got["q_desc"].shape == [900, 256] and got["k_desc"].shape == [900, 128]
        assert (got["q_seq_rows"], got["k_seq_rows"], got["n_items"]) == (300, 300, 3 * 3 * 4)
        assert seen["grid"] == (36,)  # fewer items than SMs: one program each
        # the item counter and each program's two-slot mailbox, counting from 0
        assert got["SCHED"].dtype == torch.int32 and got["SCHED"].tolist() == [0] * (1 + 2 * 36)
    else:
        assert got["Q"] is q and got["K"] is k and got["V"] is v and got["stride_kh"] == k.stride(2)


def test_ws_resources_report(tmp_path):
    """`python -m sigattn.resources --kernels fwd_ws` (results/kernels/resources_sm90_ws.csv): the
    head dims without a fwd_ws list are skipped, and no main-loop count is reported for it."""
    out = tmp_path / "ws.csv"
    subprocess.run([sys.executable, "-m", "sigattn.resources", "--out", str(out), "--kernels", "fwd_ws",
                    "--head-dims", "64", "256", "--limit", "1", "--sigmoid", "bf16x2"], env=ENV, check=True,
                   capture_output=True, timeout=600)
    rows = list(csv.DictReader(out.open()))
    assert [(r["kernel"], r["head_dim"]) for r in rows] == [("fwd_ws", "64")]
    assert int(rows[0]["sass_utmaldg"]) > 0 and int(rows[0]["sass_hgmma"]) > 0 and rows[0]["loop_instr"] == ""
