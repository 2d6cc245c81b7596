"""The sm_90 compile report (sigattn.resources) and the per-head-dim autotune tables, checked
without a GPU: Triton lowers to a Hopper cubin with its own ptxas. These run in a subprocess,
because the other kernel tests put this process in interpreter mode."""

import csv
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
        for tma, table in ((False, name), (True, name + "_tma")):
            kept = [key(c) for c in prune["early_config_prune"](configs, {}, HEAD_DIM=hd, TMA=tma)]
            assert sorted(kept) == sorted(tk.TUNE_TABLE[table][row]) and len(set(kept)) == len(kept), (table, hd)
print("ok")
"""
    assert _python("-c", code).strip().endswith("ok")
