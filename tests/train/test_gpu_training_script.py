"""gpu/h200_training.sh, the GPU machine's entry point for the main runs and the throughput grid, on
the CPU with a tiny overlay: the call next session's device time depends on must not fail on its
own arguments."""

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

from scsigmoid.train.synthetic import write_synthetic_corpus

ROOT = Path(__file__).resolve().parents[2]


def test_main_call_trains_the_chosen_context_and_packs_its_outputs(tmp_path):
    """Then a second call on the same machine bundles two runs' checkpoints (what a CPU user's
    train.checkpoints gets), in parts the device returns."""
    corpora = tmp_path / "corpora"
    write_synthetic_corpus(corpora / "pretrain", n_cells=48, vocab_size=60, max_len=40)
    write_synthetic_corpus(corpora / "dsA", n_cells=12, vocab_size=60, max_len=40, seed=1)
    overlay = tmp_path / "tiny.yaml"
    overlay.write_text(yaml.safe_dump({
        "train": {"size": "tiny", "contexts": [16, 32], "seeds": [0], "steps": 3, "batch_size": 4,
                  "max_time_s": None, "early_stop": {"val_every": 0}, "oom_retries": 1},
        "evaluate": {"context": 32, "masking_seeds": [0]}}))
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "OUT": str(out), "SUITE_COMMIT": "test", "CONFIGFILE": str(overlay),
           "CORPUS_DIR": str(corpora), "RES": str(tmp_path / "res"), "CKPT_ROOT": str(tmp_path / "ckpt"),
           "CONTEXTS": "32", "PARALLEL": "2", "BUDGET": "300",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "gpu/h200_training.sh", "main"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    packed = b"".join(p.read_bytes() for p in sorted(out.glob("main.tgz.part-*")))
    with tarfile.open(fileobj=io.BytesIO(packed)) as tar:
        names = tar.getnames()
    runs = {n.split("/")[2] for n in names if n.startswith("train/runs/") and n.count("/") >= 2}
    assert runs == {"tiny_32_softmax_s0", "tiny_32_sigmoid_s0"}  # CONTEXTS=32: no 16-token runs
    assert "embed/tiny_32_sigmoid_s0/dsA.npz" in names
    summary = json.loads((tmp_path / "res" / "train" / "runs" / "tiny_32_sigmoid_s0" / "summary.json").read_text())
    assert summary["steps_done"] == 3 and summary["oom_retries"] == 0
    assert "tiny_32_softmax_s0" in done.stdout  # the per-run summary the call prints

    pair = ["tiny_32_softmax_s0", "tiny_32_sigmoid_s0"]
    done = subprocess.run(["bash", "gpu/h200_training.sh", "bundle", *pair], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    from scsigmoid.train.bundle import unpack
    from scsigmoid.train.trainer import load_checkpoint
    for path in unpack(out / "bundle", tmp_path / "cpu_ckpt"):
        assert load_checkpoint(path).cfg.max_len == 32
    assert sorted(p.parent.name for p in (tmp_path / "cpu_ckpt").glob("*/last.pt")) == sorted(pair)


def test_throughput_call_writes_its_part_and_every_timed_step(tmp_path):
    """The throughput call on a CPU (no nvidia-smi: no clock log, the part left as measured): the
    part with its audit columns, the steps CSV, a second call that skips the first's points."""
    import pandas as pd

    corpora = tmp_path / "corpora"
    write_synthetic_corpus(corpora / "pretrain", n_cells=48, vocab_size=60, max_len=40)
    overlay = tmp_path / "tiny.yaml"
    overlay.write_text(yaml.safe_dump({"train": {"throughput": {
        "workloads": {"full_context": {"sizes": ["tiny"], "contexts": [32]},
                      "corpus": {"sizes": ["tiny"], "contexts": [32]}},
        "arms": ["softmax", "sigmoid"], "tokens_per_step": 64, "warmup_steps": 2, "timed_steps": 4,
        "repeats": 2, "compile": False, "peak_tflops": {"cpu": 1.0}}}}))
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "OUT": str(out), "SUITE_COMMIT": "test", "CONFIGFILE": str(overlay),
           "CORPUS_DIR": str(corpora), "BUDGET": "300",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/bin{os.pathsep}/bin"}  # no nvidia-smi
    done = subprocess.run(["bash", "gpu/h200_training.sh", "throughput", "tiny"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    part = pd.read_csv(out / "throughput_tiny.csv")
    assert len(part) == 2 * 2 * 2 and (part.kernel_ms_per_step > 0).all() and (part.rate_basis == "round_total").all()
    assert "sm_clock_mhz_median" not in part and not (out / "throughput_tiny_gpu_clocks.log").exists()
    steps = pd.read_csv(out / "throughput_tiny_steps.csv")
    assert len(steps) == 2 * 2 * 2 * 4 and (steps.commit == "test").all()
    env["SKIP"] = str(out / "throughput_tiny.csv")
    env["OUT"] = str(tmp_path / "again")
    (tmp_path / "again").mkdir()
    done = subprocess.run(["bash", "gpu/h200_training.sh", "throughput", "tiny"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "no point measured" in done.stdout and not (tmp_path / "again" / "throughput_tiny.csv").exists()
