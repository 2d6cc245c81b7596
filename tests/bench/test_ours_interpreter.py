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

# the timed calls read no lengths on the host (a sync per call the baselines do not pay), whatever
# SIGATTN_CHECK_VALUES says; a direct call with lengths does (the control)
from sigattn import checks
from scsigmoid.bench.adapters import make_inputs
reads = []
for name in ("check_lengths", "check_max_seqlen"):
    original = getattr(checks, name)
    setattr(checks, name, lambda *a, _f=original, _n=name, **k: (reads.append(_n), _f(*a, **k))[1])
inputs = make_inputs(2, 32, 2, 16, [24, 31], 25, device="cpu", dtype=torch.float32, seed=0)
for adapter in default_adapters(["ours_padded", "ours_varlen"]):
    adapter.prepare(inputs).run()
print("adapter reads", reads)
assert reads == [], reads
with torch.inference_mode():  # no table is kept there: the dense call's fresh one is trusted too
    sigattn.sigmoid_attention(inputs.q, inputs.k, inputs.v)
assert reads == [], reads
sigattn.sigmoid_attention(inputs.q, inputs.k, inputs.v, seq_lens_q=inputs.lengths)
sigattn.sigmoid_attention_varlen(inputs.q[0], inputs.k[0], inputs.v[0], torch.tensor([0, 32], dtype=torch.int32))
print("direct reads", reads)
assert reads == ["check_lengths", "check_lengths", "check_max_seqlen", "check_max_seqlen"], reads
"""


def test_ours_adapters_pass_the_gate_under_the_interpreter():
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    done = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(" True ") == 5
