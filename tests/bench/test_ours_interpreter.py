"""Our sigattn adapters pass the correctness gate with the real Triton kernels under the CPU
interpreter (fp32, tiny shape). A subprocess, because TRITON_INTERPRET must be set before the
kernels are defined."""

import importlib.util
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("sigattn") is None,
                                reason="sigattn not installed")

PROGRAM = r"""
import torch, sigattn
from scsigmoid.bench.adapters import default_adapters
from scsigmoid.bench.check import CheckShape, check_adapter
assert sigattn.backend_for(torch.zeros(1)) == "triton", "interpreter not active"
names = ["ours_dense", "ours_padded", "ours_varlen", "ours_dense_trainbias", "ours_dense_causal"]
for adapter in default_adapters(names):
    padding = 25 if adapter.padded else 0
    ok, reason = check_adapter(adapter, 16, padding, "bwd", device="cpu", dtype=torch.float32,
                               shape=CheckShape(2, 32, 2))
    print(adapter.name, ok, reason)
    assert ok, (adapter.name, reason)
"""


def test_ours_adapters_pass_the_gate_under_the_interpreter():
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    done = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(" True ") == 5
