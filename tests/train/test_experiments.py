"""The one-process experiment entry point and the tables drawn from its configuration (the figures'
tests are in tests/plots/test_training_figures.py)."""

import json

import numpy as np
import pandas as pd
import pytest

from scsigmoid.train import experiments
from scsigmoid.train.synthetic import write_synthetic_corpus
from scsigmoid.train.tables import architecture_table, hyperparameter_table, to_markdown


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpora")
    write_synthetic_corpus(root / "pretrain", n_cells=64, vocab_size=60, max_len=40)
    write_synthetic_corpus(root / "dsA", n_cells=12, vocab_size=60, max_len=40, seed=1)
    return root


def test_main_experiment_writes_every_output(corpus_dir, tmp_path):
    experiments.main(["main", "--out", str(tmp_path), "--corpus-dir", str(corpus_dir),
                      "--size", "tiny", "--contexts", "32", "--steps", "3", "--batch-size", "4",
                      "--eval-context", "32", "--masking-seeds", "0", "1", "--device", "cpu"])
    for att in ("softmax", "sigmoid"):
        run = tmp_path / "train" / "runs" / f"tiny_32_{att}"
        assert json.loads((run / "summary.json").read_text())["steps_done"] == 3
        val = pd.read_csv(run / "val_loss.csv")
        assert set(val["dataset"]) == {"pretrain_val", "dsA"} and len(val) == 4
        emb = np.load(tmp_path / "embed" / f"tiny_32_{att}" / "dsA.npz")
        assert emb["mean"].shape == (12, 64) and emb["mean"].dtype == np.float16
        assert list(emb["cell_id"][:2]) == ["c0", "c1"]
        scores = np.load(run / "attention_scores.npz")
        assert sorted(scores.files) == ["layer0", "layer1", "meta"]
        assert scores["layer0"].shape[1:3] == (2, 8)  # [cells, heads, rows, keys]
        assert np.isfinite(scores["layer0"]).all()  # keys limited to the shortest picked cell
        assert json.loads(str(scores["meta"]))["attention"] == att
        assert (tmp_path / "checkpoints" / f"tiny_32_{att}" / "last.pt").exists()


def test_cli_rejects_a_directory_without_pretrain_corpus(tmp_path):
    with pytest.raises(SystemExit):
        experiments.parse_args(["main", "--out", str(tmp_path), "--corpus-dir", str(tmp_path)])


def test_run_trains_exactly_one_model_and_resumes(corpus_dir, tmp_path):
    args = ["run", "--out", str(tmp_path), "--corpus-dir", str(corpus_dir), "--size", "tiny",
            "--contexts", "32", "--attention", "sigmoid", "--batch-size", "4", "--device", "cpu",
            "--checkpoint-every", "2", "--grad-clip", "0"]
    experiments.main([*args, "--steps", "3"])
    run = tmp_path / "train" / "runs" / "tiny_32_sigmoid"
    assert [p.name for p in (tmp_path / "train" / "runs").iterdir()] == ["tiny_32_sigmoid"]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps_done"] == 3 and summary["config"]["grad_clip"] is None
    with pytest.raises(SystemExit):  # one model per call: one context, one attention
        experiments.parse_args(["run", "--out", str(tmp_path), "--corpus-dir", str(corpus_dir),
                                "--contexts", "32", "64", "--attention", "sigmoid"])
    with pytest.raises(SystemExit):
        experiments.parse_args(["run", "--out", str(tmp_path), "--corpus-dir", str(corpus_dir),
                                "--contexts", "32"])


def test_architecture_and_hyperparameter_tables():
    arch = architecture_table(1000)
    assert list(arch["size"]) == ["tiny", "small", "160M", "400M", "600M", "1.4B"]
    md = to_markdown(arch)
    assert md.count("\n") == len(arch) + 2 and "| 1.4B | 28 | 2048 | 32 | 64 | 8192 |" in md
    hp = hyperparameter_table({"steps": 1000, "contexts": [2048, 4096], "lr": 1e-3})
    assert "linear warm-up 50 steps" in " ".join(hp["value"].astype(str))
    assert "2048, 4096" in set(hp["value"])


def test_throughput_and_stress_experiments_write_their_csvs(corpus_dir, tmp_path):
    common = ["--out", str(tmp_path), "--corpus-dir", str(corpus_dir), "--device", "cpu"]
    experiments.main(["throughput", *common, "--sizes", "tiny", "--contexts", "32",
                      "--timed-steps", "1"])
    tp = pd.read_csv(tmp_path / "train" / "throughput_cpu.csv")
    assert set(tp["attention"]) == {"softmax", "sigmoid"} and (tp["status"] == "ok").all()
    assert (tp["samples_per_s"] > 0).all() and "commit" in tp
    experiments.main(["stress", *common, "--stress-size", "tiny", "--stress-context", "32",
                      "--stress-seconds", "0.5", "--stress-warmup", "2", "--stress-batch-size", "4"])
    stress = pd.read_csv(tmp_path / "train" / "stress_cpu.csv")
    assert set(stress["attention"]) == {"softmax", "sigmoid"} and "grad_norm" in stress
    assert not (tmp_path / "train" / "lr_sweep_cpu.csv").exists()  # its own experiment
    experiments.main(["lr_sweep", *common, "--sweep-size", "tiny", "--sweep-context", "32",
                      "--sweep-steps", "3", "--sweep-lrs", "1e-3", "1e3", "--sweep-batch-size", "4"])
    sweep = pd.read_csv(tmp_path / "train" / "lr_sweep_cpu.csv")
    assert len(sweep) == 4 and {"final_loss", "diverged", "stable", "max_grad_norm"} <= set(sweep)
    assert not sweep.loc[sweep["lr"] == 1e3, "stable"].any()  # lr 1000 cannot be stable
    assert not (tmp_path / "checkpoints").exists()  # stress and sweep keep logs only
