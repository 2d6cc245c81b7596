"""On a CUDA machine: the real adapters pass the correctness gate and time at a small point."""

import pytest
import torch

from scsigmoid.bench.adapters import default_adapters
from scsigmoid.bench.harness import BenchConfig, run_benchmark

pytestmark = pytest.mark.gpu


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_small_grid_on_gpu():
    cfg = BenchConfig(tokens_per_batch=4096, hidden=512, seq_lens=(1024,), paddings=(0, 25),
                      warmup_ms=5, rep_ms=10, seed=0)
    names = ["ours_dense", "ours_varlen", "fa2_dense", "fa2_varlen", "eager_sigmoid"]
    df = run_benchmark(default_adapters(names), cfg, [64], ["fwd", "bwd"], {}, device="cuda",
                       log=lambda msg: None)
    supported = df[df["status"] != "unsupported"]
    eager = supported[supported["impl"] == "eager_sigmoid"]
    assert (eager["status"] == "ok").all()
    fa2 = supported[supported["impl"].str.startswith("fa2")]
    assert (fa2["status"] == "ok").all(), fa2[["impl", "status", "reason"]]
    assert (supported[supported["status"] == "ok"]["tflops"] > 0).all()
