"""The tuned-config table (sigattn.tuned) and the launch path that uses it."""

import csv
import gc
import json
import subprocess
import sys
import weakref
from pathlib import Path

import pytest
import sigattn
import torch
from sigattn import ops, triton_kernels, tuned
from sigattn.debug import poison_outputs
from torch.utils._python_dispatch import TorchDispatchMode

ROOT = Path(__file__).resolve().parents[2]
H200 = tuned.TUNED["NVIDIA H200"]


def _derived(source: str) -> dict:
    """The entries the measurement file named in an entry's source gives (sigattn.tuned)."""
    name, impls = tuned.split_source(source)
    path = ROOT / name
    if path.suffix == ".json":
        return tuned.entries_from_compile_report(json.loads(path.read_text()), source)
    with open(path) as fh:
        return tuned.entries_from_bench(list(csv.DictReader(fh)), source, impls)


def test_every_entry_is_the_autotune_choice_in_the_file_it_names():
    """The table is derived from measurements, not typed in: each entry equals what its source
    file (compile report or benchmark CSV, committed under results/) gives for its key."""
    for device, entries in tuned.TUNED.items():
        for source in {e[4] for e in entries.values()}:
            derived = _derived(source)
            mine = {k: e[:4] for k, e in entries.items() if e[4] == source}
            assert mine and all(derived.get(k, (None,))[:4] == cfg for k, cfg in mine.items()), (device, source)
    # the compile report's keys are all in (hand-checked: its hd128 L2048 and L1024 shapes); where the
    # session-30 grid measured the same key it wins (hand-checked: its ours_dense rows at hd64, fwd L = 512,
    # bwd L = 8K, against the report's hd64 L512 forward choice 64,64,4,3)
    assert set(_derived(tuned._H200_COMPILE)) <= set(H200)
    assert H200[("dkdv", 128, False, "bfloat16", 2048)][:4] == (32, 128, 8, 2)
    assert H200[("dq", 128, False, "bfloat16", 1024)][:4] == (64, 32, 4, 3)
    assert _derived(tuned._H200_COMPILE)[("fwd", 64, False, "bfloat16", 512)][:4] == (64, 64, 4, 3)
    assert H200[("fwd", 64, False, "bfloat16", 512)] == (128, 64, 8, 3, tuned._H200_GRID_FWD)
    assert H200[("dq_tma", 64, False, "bfloat16", 8192)] == (64, 64, 4, 3, tuned._H200_GRID_BWD)


def test_every_entry_is_in_its_kernels_autotune_list():
    for device, entries in tuned.TUNED.items():
        for (kernel, head_dim, _, _, _), entry in entries.items():
            assert entry[:4] in triton_kernels.TUNE_TABLE[kernel][triton_kernels.head_dim_class(head_dim)], (
                device, kernel, head_dim, entry)


def test_compile_report_entries_name_the_variant_each_launch_took():
    """A report with launch_config cells (the default launches the TMA or fused kernels at some
    head dims) keys each autotune choice by the kernel that ran, at the launch's bucket; table
    and fixed launches give no entry; a report without the cells keeps the plain names."""
    shape = {"shape": {"head_dim": 64, "dtype": "bf16", "seq_len": 3000, "causal": False},
             "autotune_config": {"forward": "BLOCK_M: 128, BLOCK_N: 64, num_warps: 8, num_ctas: 1, num_stages: 3",
                                 "backward_dkdv": "BLOCK_M: 64, BLOCK_N: 64, num_warps: 4, num_ctas: 1, num_stages: 3"},
             "launch_config": "fwd@4096=128,64,8,3:autotune;dkdv_fused_tma@4096=64,64,4,3:autotune;"
                              "dq_tma@4096=64,64,4,3:table"}
    report = {"device_type": "cuda", "shapes": [shape]}
    assert tuned.entries_from_compile_report(report, "r.json") == {
        ("fwd", 64, False, "bfloat16", 4096): (128, 64, 8, 3, "r.json"),
        ("dkdv_fused_tma", 64, False, "bfloat16", 4096): (64, 64, 4, 3, "r.json")}
    del shape["launch_config"]
    assert set(tuned.entries_from_compile_report(report, "r.json")) == {("fwd", 64, False, "bfloat16", 4096),
                                                                         ("dkdv", 64, False, "bfloat16", 4096)}


def test_compile_report_from_a_cpu_run_is_refused():
    with pytest.raises(ValueError, match="not a GPU compile report"):
        tuned.entries_from_compile_report({"device_type": "cpu", "interpreter": True, "shapes": []}, "cpu.json")


@pytest.mark.parametrize("n, expected", [(0, 1), (1, 1), (512, 512), (513, 1024), (16384, 16384), (1000, 1024)])
def test_bucket(n, expected):
    assert tuned.bucket(n) == expected


def test_lookup_exact_nearest_and_missing():
    dev = "NVIDIA H200"
    assert tuned.lookup(dev, "dkdv", 128, False, "torch.bfloat16", 2048) == ((32, 128, 8, 2), "table")
    # the default's hd64 dQ (TMA) is measured at every bucket 512 ... 16K (session 30's grid): 6000 rows
    # take the 8K bucket's entry, 300 rows the 512's
    assert tuned.lookup(dev, "dq_tma", 64, False, "bfloat16", 6000) == ((64, 64, 4, 3), "table")
    assert tuned.lookup(dev, "dq_tma", 64, False, "bfloat16", 16384) == ((128, 64, 8, 3), "table")
    assert tuned.lookup(dev, "dq_tma", 64, False, "bfloat16", 300) == ((128, 64, 8, 3), "table")
    assert tuned.lookup(dev, "dq", 128, False, "bfloat16", 300) == ((64, 32, 4, 3), "table~1024")
    assert tuned.lookup(dev, "dq", 128, False, "bfloat16", 700) == ((64, 32, 4, 3), "table")
    assert tuned.lookup(dev, "dkdv", 128, False, "bfloat16", 16384) == ((64, 64, 4, 2), "table")
    assert tuned.lookup(dev, "dkdv", 128, False, "bfloat16", 32768) == ((64, 64, 4, 2), "table~16384")
    # fp16 hd64 has no entry: the bf16 hd64 entry stands in (same 16-bit tensor-core path)
    assert tuned.lookup(dev, "fwd", 64, False, torch.float16, 512) == ((128, 64, 8, 3), "table~512")
    assert tuned.lookup(dev, "fwd", 64, False, "float32", 4096) == ((64, 32, 4, 2), "table~1024")
    assert tuned.lookup(dev, "fwd", 128, True, "bfloat16", 1024) is None  # causal hd128: autotune
    # the H100 (session 19's variant call, L = 512 ... 16K): its own entries; a GPU without any autotunes
    h100 = "NVIDIA H100 80GB HBM3"
    assert tuned.lookup(h100, "fwd", 64, False, "bfloat16", 512) == ((128, 64, 8, 3), "table")
    assert tuned.lookup(h100, "dkdv_tma", 64, False, "bfloat16", 16384) == ((32, 64, 4, 3), "table")
    assert tuned.lookup(h100, "dq", 128, False, "bfloat16", 40000) == ((128, 32, 8, 2), "table~16384")
    # the persistent Gluon forward is measured at 1K, 4K and 16K: 2K is one octave from 1K and from 4K,
    # the tie goes to the smaller bucket
    assert tuned.lookup(h100, "fwd_wsp", 64, False, "bfloat16", 2048) == ((128, 64, 8, 3), "table~1024")
    assert tuned.lookup(h100, "dkdv", 128, True, "bfloat16", 1024) is None  # causal: autotune
    assert tuned.lookup("NVIDIA A100-SXM4-80GB", "fwd", 64, False, "bfloat16", 4096) is None


def test_config_cell_round_trip_and_bench_entries():
    cell = tuned.format_config({
        "forward": {"bucket": 512, "config": (128, 64, 8, 3), "source": "autotune"},
        "backward_dq": {"bucket": 512, "config": (64, 64, 4, 2), "source": "table~1024"}})
    assert cell == "fwd@512=128,64,8,3:autotune;dq@512=64,64,4,2:table~1024"
    assert tuned.parse_config(cell) == [("fwd", 512, (128, 64, 8, 3), "autotune"),
                                        ("dq", 512, (64, 64, 4, 2), "table~1024")]
    tma = {"kernel": "dkdv_tma", "bucket": 4096, "config": (64, 128, 8, 2), "source": "forced"}
    assert tuned.format_config({"backward_dkdv": tma}) == "dkdv_tma@4096=64,128,8,2:forced"
    assert tuned.parse_config("dkdv_tma@4096=64,128,8,2:forced") == [("dkdv_tma", 4096, (64, 128, 8, 2), "forced")]
    # the Gluon forwards' names (the persistent form's was not read before session 24)
    assert tuned.parse_config("fwd_ws@8192=128,64,8,3:autotune;fwd_wsp@1024=128,64,8,2:table") == [
        ("fwd_ws", 8192, (128, 64, 8, 3), "autotune"), ("fwd_wsp", 1024, (128, 64, 8, 2), "table")]
    rows = [{"impl": "ours_dense", "status": "ok", "head_dim": "64", "config": cell},
            {"impl": "ours_dense_causal", "status": "ok", "head_dim": 64,
             "config": "fwd@1024=64,64,4,3:autotune"},
            {"impl": "ours_padded", "status": "error", "head_dim": 64, "config": "fwd@2048=64,32,4,2:autotune"},
            {"impl": "tritonsigmoid_dense", "status": "ok", "head_dim": 64, "config": ""}]
    entries = tuned.entries_from_bench(rows, "b.csv")
    assert entries == {("fwd", 64, False, "bfloat16", 512): (128, 64, 8, 3, "b.csv"),
                       ("fwd", 64, True, "bfloat16", 1024): (64, 64, 4, 3, "b.csv")}
    # a variant call's CSV: only the named rows' choices (another variant's come first in the file)
    other = {"impl": "ours_dense_halley", "status": "ok", "head_dim": 64, "config": "fwd@512=64,32,4,2:autotune"}
    picked = tuned.entries_from_bench([other, *rows], "v.csv[ours_dense]", ["ours_dense"])
    assert picked == {("fwd", 64, False, "bfloat16", 512): (128, 64, 8, 3, "v.csv[ours_dense]")}
    # impl:pass takes that pass's rows only: a variant's forward choice without its backward's
    fwd_row = {"impl": "ours_dense_bf16x2", "pass": "fwd", "status": "ok", "head_dim": 128,
               "config": "fwd@4096=128,64,4,3:autotune"}
    bwd_row = {"impl": "ours_dense_bf16x2", "pass": "bwd", "status": "ok", "head_dim": 128,
               "config": "fwd@4096=64,32,4,2:autotune;dq@4096=64,64,4,2:autotune"}
    picked = tuned.entries_from_bench([bwd_row, fwd_row], "v.csv", ["ours_dense_bf16x2:fwd"])
    assert picked == {("fwd", 128, False, "bfloat16", 4096): (128, 64, 4, 3, "v.csv")}
    assert tuned.split_source("v.csv[ours_dense,ours_padded] (abc)") == ("v.csv", ["ours_dense", "ours_padded"])
    assert tuned.split_source("results/kernels/compile_h200.json (abc)") == ("results/kernels/compile_h200.json", None)


def test_launch_records_its_config(device):
    triton_kernels.LAST_CONFIG.clear()
    q = torch.randn(1, 40, 2, 16, device=device, requires_grad=True)
    sigattn.sigmoid_attention(q, q, q).sum().backward()
    assert set(triton_kernels.LAST_CONFIG) == {"forward", "backward_dq", "backward_dkdv"}
    if sigattn.INTERPRETER:
        assert triton_kernels.LAST_CONFIG["forward"] == {"kernel": "fwd", "bucket": 64, "config": (32, 16, 1, 1),
                                                         "source": "interpreter"}
        assert triton_kernels.autotuned_configs() == dict.fromkeys(triton_kernels.LAST_CONFIG)


def test_autotuned_configs_report_the_pick_of_the_kernel_that_ran(monkeypatch):
    """From the launch's own record, so a Gluon forward (its own autotuner) reports its pick, not
    the Triton forward's last one; launches from the table or a fixed config report none; the text
    is what the compile report's reader parses (tuned._CONFIG_STR)."""
    for kernel in ("fwd", "fwd_ws", "fwd_wsp"):
        monkeypatch.setattr(triton_kernels, "LAST_CONFIG", {
            "forward": {"kernel": kernel, "bucket": 4096, "config": (128, 64, 8, 3), "source": "autotune"},
            "backward_dq": {"kernel": "dq", "bucket": 4096, "config": (64, 64, 8, 2), "source": "table"}})
        got = triton_kernels.autotuned_configs()
        assert got["backward_dq"] is None and got["backward_dkdv"] is None
        assert tuple(map(int, tuned._CONFIG_STR.search(got["forward"]).groups())) == (128, 64, 8, 3)


def test_unknown_tuning_mode_is_refused():
    done = subprocess.run([sys.executable, "-c", "import sigattn"], capture_output=True, text=True,
                          env={"SIGATTN_AUTOTUNE": "fast", "PYTHONPATH": str(ROOT / "kernels"),
                               "PATH": "/usr/bin:/bin"}, timeout=120)
    assert done.returncode != 0 and "SIGATTN_AUTOTUNE='fast'" in done.stderr


# ----------------------------------------------------------------------------------------------
# Host work of an eager call (issue #15: short-sequence points measured the host, not the kernel)
# ----------------------------------------------------------------------------------------------


class OpLog(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(str(func))
        return func(*args, **(kwargs or {}))


def _no_launch(monkeypatch):
    monkeypatch.setattr(triton_kernels, "forward", lambda *a, o, **kw: o)
    monkeypatch.setattr(triton_kernels, "backward", lambda *a, dq, dk, dv, **kw: (dq, dk, dv))


def test_eager_dense_call_allocates_its_output_and_nothing_else(monkeypatch, device):
    """An eager dense call does no per-call tensor work besides its output: no length/table
    kernels, no custom-op dispatch (tens of microseconds each on the host). On the test device:
    CPU tensors on a CUDA machine take the eager reference, not this path."""
    _no_launch(monkeypatch)
    q, k, v = (torch.randn(2, 24, 2, 16, device=device, requires_grad=True) for _ in range(3))
    with poison_outputs(False):
        sigattn.sigmoid_attention(q, k, v, bias=0.0)  # first call: builds the cached table
        with OpLog() as log:
            out = sigattn.sigmoid_attention(q, k, v, bias=0.0)
        assert log.ops == ["aten.empty.memory_format"]
        with OpLog() as log:
            torch.autograd.grad(out, (q, k, v), torch.ones_like(out))
        assert not [op for op in log.ops if "sigattn" in op or "full" in op or "cat" in op], log.ops


def test_the_op_log_sees_the_custom_op_path(monkeypatch, device):
    """Control for the test above: the custom-op path (as under torch.compile) shows in the log."""
    _no_launch(monkeypatch)
    monkeypatch.setattr(ops, "EAGER_CUSTOM_OP", True)
    q = torch.randn(2, 24, 2, 16, device=device)
    with poison_outputs(False), OpLog() as log:
        sigattn.sigmoid_attention(q, q, q, bias=0.0)
    assert "sigattn.forward.default" in log.ops


def test_table_made_in_inference_mode_is_not_kept(monkeypatch):
    """A cached table made under inference_mode would be an inference tensor: saving it for
    backward later raises. Such calls build their own table."""
    _no_launch(monkeypatch)
    ops._cached_table.cache_clear()
    q = torch.randn(3, 8, 1, 16)
    with torch.inference_mode():
        sigattn.sigmoid_attention(q, q, q)
    leaf = q.clone().requires_grad_(True)
    out = sigattn.sigmoid_attention(leaf, leaf, leaf)
    torch.autograd.grad(out, leaf, torch.ones_like(out))
    table = ops._cached_table(q.device, 3, 8, 8)
    assert table.tolist() == [[0, 0, 0], [8, 8, 8], [0, 0, 0], [8, 8, 8]]


def test_capture_reuses_a_table_made_before_it_and_keeps_it_alive(monkeypatch):
    """Inside a CUDA-graph capture (here: _capturing forced) a dense call takes the table an eager
    call made before (no small kernels in every replay) and keeps it alive past the cache, whose
    least recent it would otherwise free under a graph that reads it; a shape not made before is
    built for the capture and not kept; a call with lengths builds its table as before."""
    ops._cached_table.cache_clear()
    monkeypatch.setattr(ops, "_CAPTURED_TABLES", {})
    q = torch.randn(3, 8, 1, 16)
    made = ops._padded_table(q, q, None, None)  # an eager call: cached
    monkeypatch.setattr(ops, "_capturing", lambda t: True)
    assert ops._padded_table(q, q, None, None) is made
    other = torch.randn(3, 9, 1, 16)
    built = ops._padded_table(other, other, None, None)
    assert built.tolist() == [[0, 0, 0], [9, 9, 9], [0, 0, 0], [9, 9, 9]]
    assert ops._padded_table(other, other, None, None) is not built  # not kept: built each capture
    lens = torch.tensor([8, 5, 3], dtype=torch.int32)
    assert ops._padded_table(q, q, lens, lens).tolist() == [[0, 0, 0], [8, 5, 3], [0, 0, 0], [8, 5, 3]]
    alive = weakref.ref(made)
    del made
    ops._cached_table.cache_clear()
    gc.collect()
    assert alive() is not None and ops._padded_table(q, q, None, None) is alive()  # kept for the graph
    monkeypatch.setattr(ops, "CACHE_SHAPE_TABLES", False)  # caching off (the session-2 path): never reused
    assert ops._padded_table(q, q, None, None) is not alive()


def test_eager_padded_call_with_the_same_lengths_does_no_table_work_the_second_time(monkeypatch, device):
    """The layers of a model pass the same length tensors: the padded table is built once (its two
    small kernels were the padded call's extra host time at L = 512), then the call does no more
    tensor work than a dense one."""
    _no_launch(monkeypatch)
    monkeypatch.setattr(ops, "CHECK_VALUES", False)  # the value check reads the table on purpose
    q, k, v = (torch.randn(2, 24, 2, 16, device=device, requires_grad=True) for _ in range(3))
    lens = torch.tensor([24, 17], dtype=torch.int32, device=device)
    with poison_outputs(False):
        with OpLog() as first:
            sigattn.sigmoid_attention(q, k, v, seq_lens_q=lens, seq_lens_k=lens, bias=0.0)
        with OpLog() as again:
            sigattn.sigmoid_attention(q, k, v, seq_lens_q=lens, seq_lens_k=lens, bias=0.0)
    assert any("stack" in op for op in first.ops), first.ops  # control: the first call builds it
    assert again.ops == ["aten.empty.memory_format"], again.ops


def test_padded_table_cache_follows_the_length_tensors_not_their_ids():
    """A hit needs the same tensor objects at the same version: an in-place change, another tensor
    with the same values, other shapes and inference mode all get tables of their own values."""
    q = torch.randn(2, 24, 1, 16)
    lens = torch.tensor([24, 17], dtype=torch.int32)
    table = ops._padded_table(q, q, lens, None)
    assert ops._padded_table(q, q, lens, None) is table
    assert table.tolist() == [[0, 0], [24, 17], [0, 0], [24, 17]]
    lens[1] = 5  # in place: the version counter moves
    changed = ops._padded_table(q, q, lens, None)
    assert changed is not table and changed.tolist() == [[0, 0], [24, 5], [0, 0], [24, 5]]
    twin = lens.clone()
    assert ops._padded_table(q, q, twin, None) is not changed
    assert ops._padded_table(q, q, lens, twin) is not changed  # another key tensor
    assert ops._padded_table(q[:, :20], q[:, :20], lens.clamp(max=20), None).tolist()[1] == [20, 5]
    with torch.inference_mode():
        inf = ops._padded_table(q, q, twin, twin)
    assert all(entry[2] is not inf for entry in ops._KEPT_TABLES.values())
    assert len(ops._KEPT_TABLES) <= ops._KEPT_TABLES_MAX


def test_eager_packed_call_with_the_same_offsets_does_no_table_work_the_second_time(monkeypatch, device):
    """The packed layout's table (starts and lengths from cu_seqlens) is kept per offset tensors
    too; an in-place change of the offsets builds a table of the new values."""
    _no_launch(monkeypatch)
    monkeypatch.setattr(ops, "CHECK_VALUES", False)
    q, k, v = (torch.randn(40, 2, 16, device=device, requires_grad=True) for _ in range(3))
    cu = torch.tensor([0, 24, 40], dtype=torch.int32, device=device)
    with poison_outputs(False):
        with OpLog() as first:
            sigattn.sigmoid_attention_varlen(q, k, v, cu, max_seqlen_q=24, max_seqlen_k=24, bias=0.0)
        with OpLog() as again:
            sigattn.sigmoid_attention_varlen(q, k, v, cu, max_seqlen_q=24, max_seqlen_k=24, bias=0.0)
    assert any("stack" in op for op in first.ops), first.ops
    assert again.ops == ["aten.empty.memory_format"], again.ops
    table = ops._packed_table(q, k, cu, None)
    assert table.tolist() == [[0, 24], [24, 16], [0, 24], [24, 16]]
    cu[1] = 30
    assert ops._packed_table(q, k, cu, None).tolist() == [[0, 30], [30, 10], [0, 30], [30, 10]]
