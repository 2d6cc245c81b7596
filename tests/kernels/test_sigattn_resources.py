"""The sm_90 compile report (sigattn.resources) and the per-head-dim autotune tables, checked
without a GPU: Triton lowers to a Hopper cubin with its own ptxas. These run in a subprocess,
because the other kernel tests put this process in interpreter mode."""

import csv
import json
import os
import subprocess
import sys

ENV = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}


def _python(*args, timeout=600):
    return subprocess.run([sys.executable, *args], env=ENV, capture_output=True, text=True,
                          timeout=timeout, check=True).stdout


def test_resources_report_compiles_for_hopper(tmp_path):
    out = tmp_path / "res.csv"
    stdout = _python("-m", "sigattn.resources", "--out", str(out), "--kernels", "fwd", "dkdv", "fwd_tma",
                     "dq_tma", "--head-dims", "64", "--limit", "1")
    rows = list(csv.DictReader(out.open()))
    assert [r["kernel"] for r in rows] == ["fwd", "dkdv", "fwd_tma", "dq_tma"] and "wrote" in stdout
    for r in rows:
        assert 0 < int(r["registers"]) <= 255 and int(r["spill_stack_bytes"]) >= 0
        assert int(r["sass_hgmma"]) > 0, "bf16 tl.dot must lower to Hopper wgmma (HGMMA)"
        assert int(r["sass_mufu"]) > 0 and int(r["shared_bytes"]) > 0 and r["arch"] == "sm_90"
        # the TMA variant's K/V tiles are TMA copies, the pointer kernels have none
        assert (int(r["sass_utmaldg"]) > 0) == r["kernel"].endswith("_tma"), r


def test_autotune_prune_picks_the_head_dim_row():
    code = """
from sigattn import triton_kernels as tk
key = lambda c: (c.kwargs["BLOCK_M"], c.kwargs["BLOCK_N"], c.num_warps, c.num_stages)
for name, configs, prune in (("fwd", tk.FWD_CONFIGS, tk._FWD_PRUNE), ("dq", tk.BWD_DQ_CONFIGS, tk._DQ_PRUNE),
                             ("dkdv", tk.BWD_DKDV_CONFIGS, tk._DKDV_PRUNE)):
    for hd, row in ((16, 64), (32, 64), (64, 64), (128, 128), (256, 256)):
        for tma in (False, True):
            for fused in ((False, True) if name == "dkdv" else (False,)):
                table = tk.kernel_name(name, tma, fused)
                kept = [key(c) for c in prune["early_config_prune"](configs, {}, HEAD_DIM=hd, TMA=tma, FUSE_DQ=fused)]
                assert sorted(kept) == sorted(tk.TUNE_TABLE[table][row]) and len(set(kept)) == len(kept), (table, hd)
print("ok")
"""
    assert _python("-c", code).strip().endswith("ok")


def test_main_loop_is_the_smallest_loop_with_matmuls_and_sigmoid():
    """`main_loop` on a hand-written SASS listing: of the three back-branches, one loop has no
    MUFU (a pipeline prologue's matmuls), the masked loop is longer than the unmasked one."""
    code = """
from sigattn.resources import main_loop
lines = [
    "HGMMA.64x64x16.F32.BF16 R24, gdesc[UR4], RZ ;",   # 0x0000: prologue loop, no MUFU
    "BRA 0x0000 ;",                                    # 0x0010
    "FFMA R1, R2, R3, R4 ;",                           # 0x0020: unmasked loop
    "MUFU.EX2 R5, R1 ;",
    "HGMMA.64x64x16.F32.BF16 R24, gdesc[UR4], R24 ;",
    "@P0 BRA 0x0020 ;",                                # 0x0050
    "FSEL R1, R1, -INF , P1 ;",                        # 0x0060: masked loop, one more op
    "FFMA R1, R2, R3, R4 ;",
    "MUFU.EX2 R5, R1 ;",
    "HGMMA.64x64x16.F32.BF16 R24, gdesc[UR4], R24 ;",
    "@!P2 BRA 0x0060 ;",                               # 0x00a0
    "EXIT ;",
]
sass = "\\n".join(f"        /*{16 * i:04x}*/                   {line}   /* 0x000fe20000000f00 */"
                  for i, line in enumerate(lines))
loop = main_loop(sass)
assert dict(loop) == {"FFMA": 1, "MUFU": 1, "HGMMA": 1, "BRA": 1}, dict(loop)
assert not main_loop(sass.replace("MUFU.EX2", "FMUL"))
print("ok")
"""
    assert _python("-c", code).strip().endswith("ok")


def _main_loops(kernel: str, head_dim: int, tile: tuple, modes, ops) -> dict:
    """Per sigmoid mode: the compile report of one config (sigattn.resources) and the named SASS
    ops' counts in its main loop; compiled in a child process (the interpreter is on here)."""
    code = f"""
import json
from sigattn import resources as R
rows = {{}}
for mode in {tuple(modes)!r}:
    compiled = R.compile_config({kernel!r}, {head_dim}, {tuple(tile)!r}, sigmoid=mode)
    loop = R.main_loop(R.sass(compiled))
    rows[mode] = {{**R.resources(compiled, {tile[0] * tile[1] / (32 * tile[2])}), **{{op: loop[op] for op in {tuple(ops)!r}}}}}
print(json.dumps(rows))
"""
    return json.loads(_python("-c", code).strip().splitlines()[-1])


def test_sigmoid_modes_in_the_compiled_main_loop():
    """The forward's main loop compiled for sm_90 (hd64, 128x64 tiles, 8 warps): the special-
    function ops a score of each sigmoid mode (fast 2: ex2 and rcp; mixed 1.5: half the scores
    each way; the others 1), fast's reciprocal without div.full's range check (no FSETP/FSEL, no
    FMUL a score), the argument factor folded into the score's FFMA (no FMUL a score in the
    halley and tanh loops), the Halley step one FMA-pipe op a score cheaper than the two Newton
    steps of fma, mixed halfway between fast and halley, the split moving no data (no
    shared-memory op beyond the other modes' loops), and bf16x2 two instructions a score
    cheaper than halley."""
    rows = _main_loops("fwd", 64, (128, 64, 8, 3), ("fast", "fma", "halley", "mixed", "bf16x2", "tanh"),
                       ("FMUL", "FSETP", "STS", "LDS"))
    assert {m: r["loop_mufu_per_score"] for m, r in rows.items()} == {"fast": 2.0, "fma": 1.0, "halley": 1.0,
                                                                       "mixed": 1.5, "bf16x2": 1.0, "tanh": 1.0}, rows
    assert all(r["FMUL"] == 0 for m, r in rows.items() if m != "fma"), rows
    assert rows["fast"]["FSETP"] == 0, rows
    assert all(r["STS"] == rows["halley"]["STS"] and r["LDS"] == rows["halley"]["LDS"] for r in rows.values()), rows
    per_score = {m: r["loop_instr_per_score"] for m, r in rows.items()}
    assert per_score["halley"] <= per_score["fma"] - 0.9, rows
    assert per_score["fast"] < per_score["mixed"] < per_score["halley"], rows
    assert per_score["tanh"] < per_score["halley"] - 4, rows
    assert per_score["bf16x2"] <= per_score["halley"] - 2, rows  # 3 bf16x2 FMAs a pair, no F2FP for P


def test_backward_main_loop_per_score():
    """The dK/dV kernel's main loop (hd64, TMA 64x64 tiles, 4 warps: the measured hd64 choice):
    dS = (p - p·p)·dP costs an FFMA and an FMUL a score (no FADD beyond fast's 1 + 2^y), and the
    mixed sigmoid's 1.5 special-function ops a score."""
    rows = _main_loops("dkdv_tma", 64, (64, 64, 4, 3), ("fast", "mixed"), ("FADD", "FMUL"))
    scores = 64 * 64 / 128
    assert rows["fast"]["FADD"] == scores and rows["fast"]["FMUL"] == scores, rows
    assert rows["fast"]["loop_mufu_per_score"] == 2.0 and rows["mixed"]["loop_mufu_per_score"] == 1.5, rows
    assert rows["mixed"]["loop_instr_per_score"] < 13, rows


def test_fused_backward_main_loop():
    """The fused dK/dV kernel (SIGATTN_FUSED=1) compiled for sm_90 (hd64, 64x64 tiles, 4 warps):
    its main loop does the five matmuls a tile pair (dQ's dS·K beside S, dP, dV, dK: a quarter
    more wgmma groups than the split dK/dV kernel's four), still one sigmoid (2 MUFU a score with
    fast); the pointer kernel adds dQ with four-float vector atomics (a scalar atomic a value
    would issue 4x as many), the TMA kernel with one TMA reduction a tile and no atomic in the
    loop; per score the TMA kernel issues fewer instructions than the split backward's two
    kernels together (dK/dV at this tile plus dQ at TMA 128x64/8), without spills."""
    code = """
import json, re
from sigattn import resources as R
out = {}
for kernel, tile in (("dkdv", (64, 64, 4, 2)), ("dkdv_fused", (64, 64, 4, 2)), ("dkdv_tma", (64, 64, 4, 3)),
                     ("dkdv_fused_tma", (64, 64, 4, 3)), ("dq_tma", (128, 64, 8, 3))):
    compiled = R.compile_config(kernel, 64, tile)
    listing = R.sass(compiled)
    loop = R.main_loop(listing)
    out[kernel] = {**R.resources(compiled, tile[0] * tile[1] / (32 * tile[2])), "HGMMA": loop["HGMMA"],
                   "ATOMG": loop["ATOMG"] + loop["RED"] + loop["REDG"], "UTMAREDG": loop["UTMAREDG"],
                   "vector_atomics": len(re.findall(r"(?:ATOMG|REDG|RED)[.\\w]*ADD\\.F32x4", listing))}
print(json.dumps(out))
"""
    rows = json.loads(_python("-c", code).strip().splitlines()[-1])
    for split, fused in ((rows["dkdv"], rows["dkdv_fused"]), (rows["dkdv_tma"], rows["dkdv_fused_tma"])):
        assert fused["HGMMA"] * 4 == split["HGMMA"] * 5, rows
        assert fused["loop_mufu_per_score"] == split["loop_mufu_per_score"] == 2.0, rows
        assert split["ATOMG"] == split["UTMAREDG"] == 0, rows
    pointer, tma = rows["dkdv_fused"], rows["dkdv_fused_tma"]
    assert pointer["ATOMG"] == 64 * 64 / 128 / 4 and pointer["vector_atomics"] >= pointer["ATOMG"], rows
    assert tma["ATOMG"] == 0 and tma["UTMAREDG"] >= 1, rows
    assert tma["loop_instr_per_score"] < rows["dkdv_tma"]["loop_instr_per_score"] + rows["dq_tma"][
        "loop_instr_per_score"] - 7, rows
    assert tma["spill_stack_bytes"] == 0, rows


def test_fixed_configs_fit_hopper_shared_memory_at_head_dim_256():
    """SIGATTN_AUTOTUNE=0 (the GPU tests' mode) launches one config per kernel; at head dim 256
    with fp32 inputs (the largest tiles: test_head_dim_256_tiny) every kernel's must fit sm_90's
    shared memory: the TMA kernels' 32x64 tiles did not (OutOfResources on an H100, session 18)."""
    code = """
from concurrent.futures import ProcessPoolExecutor
from sigattn import resources, triton_kernels as tk

def shared(kernel):
    block = tk.fixed_config(kernel, 256)
    return kernel, block, resources.compile_config(kernel, 256, block, dtype="fp32").metadata.shared

if __name__ == "__main__":
    with ProcessPoolExecutor(2) as pool:  # two compiles at a time (CI's two cores)
        for kernel, block, size in pool.map(shared, resources.KERNELS):
            print(kernel, block, size)
            assert size <= resources.SHARED_LIMIT[90], (kernel, block, size)
    print("ok")
"""
    out = _python("-c", code, timeout=900)
    assert out.strip().endswith("ok") and out.count("\n") == 9, out
