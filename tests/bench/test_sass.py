"""The authors' kernels compiled for sm_90 on the CPU (scsigmoid.bench.sass), where the
gpu-baselines extra (triton-sigmoid) is installed; in a subprocess without TRITON_INTERPRET and
PYTEST_VERSION (under pytest TritonSigmoid swaps its autotune lists for one test config)."""

import csv
import importlib.util
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("triton_sigmoid") is None,
                                reason="needs the gpu-baselines extra (triton-sigmoid)")


def test_tritonsigmoid_main_loop_report(tmp_path):
    out = tmp_path / "ts.csv"
    env = {k: v for k, v in os.environ.items() if k not in ("TRITON_INTERPRET", "PYTEST_VERSION")}
    subprocess.run([sys.executable, "-m", "scsigmoid.bench.sass", "--out", str(out), "--head-dims", "64"],
                   env=env, check=True, capture_output=True, text=True, timeout=900)
    rows = list(csv.DictReader(out.open()))
    kernels = [r["kernel"] for r in rows]
    assert (kernels.count("fwd"), kernels.count("dq"), kernels.count("dkdv")) == (18, 15, 15), \
        "TritonSigmoid 0.1.2's Hopper lists: 18 forward, 15 dQ, 15 dK/dV entries"
    by_tile = {(r["kernel"], int(r["block_m"]), int(r["block_n"]), int(r["num_warps"]), int(r["num_stages"])): r
               for r in rows}
    # one tanh.approx a score; its 64x64 forward tile over 8 warps evaluates every sigmoid twice
    assert float(by_tile["fwd", 128, 64, 4, 3]["loop_mufu_per_score"]) == 1.0
    assert float(by_tile["fwd", 64, 64, 8, 2]["loop_mufu_per_score"]) == 2.0
    assert 6 < float(by_tile["fwd", 128, 64, 4, 3]["loop_instr_per_score"]) < 12
    # the backward recomputes the sigmoid once and adds dS = p·dP - p·(p·dP) and a third matmul
    dkdv = float(by_tile["dkdv", 64, 64, 4, 2]["loop_instr_per_score"])
    assert float(by_tile["dkdv", 64, 64, 4, 2]["loop_mufu_per_score"]) == 1.0
    assert float(by_tile["fwd", 128, 64, 4, 3]["loop_instr_per_score"]) < dkdv < 25


def test_adapters_name_kernels_tritonsigmoid_has():
    """The kernels whose autotuner choices fill a TritonSigmoid row's ``config`` cell exist in the
    pinned version (a name it lacks would leave the cell silently short)."""
    code = """
from scsigmoid.bench.adapters import TritonSigmoidDense, TritonSigmoidPadded
from scsigmoid.bench.sass import import_tritonsigmoid
import_tritonsigmoid()
for adapter in (TritonSigmoidDense(), TritonSigmoidPadded()):
    assert len(adapter._autotuners()) == 3, adapter.name
    assert all(hasattr(t, "configs") for t in adapter._autotuners().values()), adapter.name
print("ok")
"""
    env = {k: v for k, v in os.environ.items() if k not in ("TRITON_INTERPRET", "PYTEST_VERSION")}
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True,
                         timeout=300)
    assert out.stdout.strip().endswith("ok")
