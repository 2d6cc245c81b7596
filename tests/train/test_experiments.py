"""The one-process experiment entry point and the tables drawn from its configuration (the figures'
tests are in tests/plots/test_training_figures.py)."""

import json

import numpy as np
import pandas as pd
import pytest

from scsigmoid.train import experiments
from scsigmoid.train.synthetic import write_synthetic_corpus
from scsigmoid.train.tables import architecture_table, hyperparameter_table, write_table


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpora")
    write_synthetic_corpus(root / "pretrain", n_cells=64, vocab_size=60, max_len=40)
    write_synthetic_corpus(root / "dsA", n_cells=12, vocab_size=60, max_len=40, seed=1)
    return root


def _overlay(tmp_path, **train):
    """A config overlay for the tiny CPU model (the experiments read every setting from config)."""
    import yaml

    t = {"size": "tiny", "contexts": [32], "seeds": [0], "steps": 3, "batch_size": 4,
         "max_time_s": None, "early_stop": {"val_every": 0}, **train}
    path = tmp_path / "overlay.yaml"
    path.write_text(yaml.safe_dump({"train": t, "evaluate": {"context": 32, "masking_seeds": [0, 1]}}))
    return ["--configfile", str(path)]


def test_main_experiment_writes_every_output(corpus_dir, tmp_path):
    experiments.main(["main", "--out", str(tmp_path), "--corpus-dir", str(corpus_dir),
                      "--device", "cpu", *_overlay(tmp_path)])
    for att in ("softmax", "sigmoid"):
        run = tmp_path / "train" / "runs" / f"tiny_32_{att}_s0"
        summary = json.loads((run / "summary.json").read_text())
        assert summary["steps_done"] == 3 and summary["stop_reason"] == "max_steps"
        settings = json.loads((run / "settings.json").read_text())
        assert settings["train"]["steps"] == 3 and settings["train"]["size"] == "tiny"
        val = pd.read_csv(run / "val_loss.csv")
        assert set(val["dataset"]) == {"pretrain_val", "dsA"} and len(val) == 4
        emb = np.load(tmp_path / "embed" / f"tiny_32_{att}_s0" / "dsA.npz")
        assert emb["mean"].shape == (12, 64) and emb["mean"].dtype == np.float16
        assert list(emb["cell_id"][:2]) == ["c0", "c1"]
        scores = np.load(run / "attention_scores.npz")
        assert sorted(scores.files) == ["layer0", "layer1", "meta"]
        assert scores["layer0"].shape[1:3] == (2, 8)  # [cells, heads, rows, keys]
        assert np.isfinite(scores["layer0"]).all()  # keys limited to the shortest picked cell
        assert json.loads(str(scores["meta"]))["attention"] == att
        assert (tmp_path / "checkpoints" / f"tiny_32_{att}_s0" / "last.pt").exists()


def test_main_runs_in_parallel_processes_and_seeds_change_only_the_seeded_parts(corpus_dir, tmp_path):
    experiments.main(["main", "--out", str(tmp_path), "--corpus-dir", str(corpus_dir),
                      "--device", "cpu", "--parallel", "2",
                      *_overlay(tmp_path, seeds=[0, 1], contexts=[16, 32])])
    runs = sorted(p.name for p in (tmp_path / "train" / "runs").iterdir())
    assert runs == sorted(f"tiny_{c}_{a}_s{s}" for c in (16, 32) for a in ("softmax", "sigmoid")
                          for s in (0, 1))
    loss = {r: pd.read_csv(tmp_path / "train" / "runs" / r / "log.csv")["loss"].iloc[0] for r in runs}
    # same seed: same initial weights and same first batch in both arms and at both contexts where
    # no cell is longer than the shorter context, so the first-step losses differ only by attention
    assert loss["tiny_32_softmax_s0"] != loss["tiny_32_softmax_s1"]


def test_cli_rejects_a_directory_without_pretrain_corpus(tmp_path):
    with pytest.raises(SystemExit):
        experiments.parse_args(["main", "--out", str(tmp_path), "--corpus-dir", str(tmp_path)])


def test_train_trains_exactly_one_model_and_resumes(corpus_dir, tmp_path):
    args = ["train", "--run-dir", str(tmp_path / "train" / "runs" / "tiny_32_sigmoid_s0"),
            "--checkpoint-dir", str(tmp_path / "ck"), "--corpus-dir", str(corpus_dir), "--size",
            "tiny", "--context", "32", "--attention", "sigmoid", "--seed", "0", "--device", "cpu"]
    experiments.main([*args, *_overlay(tmp_path, grad_clip=None, checkpoint_every=2)])
    run = tmp_path / "train" / "runs" / "tiny_32_sigmoid_s0"
    assert [p.name for p in (tmp_path / "train" / "runs").iterdir()] == ["tiny_32_sigmoid_s0"]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps_done"] == 3 and summary["config"]["grad_clip"] is None
    with pytest.raises(SystemExit):  # a run needs its identity
        experiments.parse_args(["train", "--run-dir", str(tmp_path), "--checkpoint-dir",
                                str(tmp_path), "--corpus-dir", str(corpus_dir), "--context", "32",
                                "--attention", "sigmoid"])


def test_early_stopping_keeps_the_best_checkpoint(corpus_dir, tmp_path):
    from scsigmoid.train.trainer import load_checkpoint

    args = ["train", "--run-dir", str(tmp_path / "train" / "runs" / "tiny_32_softmax_s0"),
            "--checkpoint-dir", str(tmp_path / "checkpoints" / "tiny_32_softmax_s0"),
            "--corpus-dir", str(corpus_dir), "--size", "tiny", "--context", "32", "--attention",
            "softmax", "--seed", "0", "--device", "cpu"]
    # a huge learning rate: the val loss gets worse after the first check, so patience 2 stops
    experiments.main([*args, *_overlay(tmp_path, steps=200, lr=5.0, grad_clip=None,
                                       early_stop={"val_every": 2, "patience": 2, "val_cells": 8})])
    run = tmp_path / "train" / "runs" / "tiny_32_softmax_s0"
    summary = json.loads((run / "summary.json").read_text())
    curve = pd.read_csv(run / "val_curve.csv")
    assert summary["stop_reason"] == "patience" and summary["steps_done"] < 200
    best = curve.loc[curve["val_loss"].idxmin()]
    assert summary["best_step"] == best["step"]
    assert summary["best_val_loss"] == pytest.approx(best["val_loss"], rel=1e-9)
    assert len(curve) == list(curve["step"]).index(best["step"]) + 1 + 2  # best, then 2 worse
    # the checkpoint holds the best weights, not the last: its val loss is the best check's
    from scsigmoid.data.corpus import TokenCorpus
    from scsigmoid.train.validation import validation_loss

    model = load_checkpoint(tmp_path / "checkpoints" / "tiny_32_softmax_s0" / "last.pt")
    again = validation_loss(model, TokenCorpus(corpus_dir / "pretrain").split("val"), context=32,
                            seeds=[0], batch_size=4, device="cpu", max_cells=8)[0]
    assert again == pytest.approx(best["val_loss"], rel=1e-5)
    assert again < curve["val_loss"].iloc[-1]


def test_architecture_and_hyperparameter_tables(tmp_path):
    from scsigmoid.config import load_config

    arch = architecture_table(1000)
    assert list(arch["size"]) == ["tiny", "small", "160M", "400M", "600M", "1.4B"]
    write_table(arch, tmp_path / "a.csv", tmp_path / "a.md")
    row = [c.strip() for c in (tmp_path / "a.md").read_text().splitlines()[-1].strip("|").split("|")]
    assert row[:6] == ["1.4B", "28", "2048", "32", "64", "8192"]
    config = load_config()
    config["train"].update(steps=1000, contexts=[2048, 4096], warmup_steps=None)
    hp = hyperparameter_table(config).set_index("setting")["value"].astype(str)
    assert hp["schedule"].startswith("linear warm-up 50 steps")  # 5% of 1000
    assert hp["contexts"] == "2048, 4096" and hp["training seeds (init and data order)"] == "0, 1, 2"
    assert "every 250 steps" in hp["stopping"]


def test_stress_and_sweep_experiments_write_their_csvs(corpus_dir, tmp_path):
    import yaml

    overlay = tmp_path / "o.yaml"
    overlay.write_text(yaml.safe_dump({"train": {
        "stress": {"size": "tiny", "context": 32, "lr": 2e-3, "batch_size": 4, "warmup": 2,
                   "seconds": 0.5},
        "lr_sweep": {"size": "tiny", "context": 32, "lrs": [1e-3, 1e3], "steps": 3, "batch_size": 4}}}))
    common = ["--corpus-dir", str(corpus_dir), "--device", "cpu", "--configfile", str(overlay)]
    experiments.main(["stress", *common, "--out-csv", str(tmp_path / "stress.csv")])
    stress = pd.read_csv(tmp_path / "stress.csv")
    assert set(stress["attention"]) == {"softmax", "sigmoid"} and "grad_norm" in stress
    experiments.main(["lr_sweep", *common, "--out", str(tmp_path), "--out-csv", str(tmp_path / "sweep.csv")])
    sweep = pd.read_csv(tmp_path / "sweep.csv")
    assert len(sweep) == 4 and {"final_loss", "diverged", "stable", "max_grad_norm"} <= set(sweep)
    assert not sweep.loc[sweep["lr"] == 1e3, "stable"].any()  # lr 1000 cannot be stable
    assert not (tmp_path / "checkpoints").exists()  # stress and sweep keep logs only


def test_embedding_refuses_a_corpus_of_another_vocabulary(corpus_dir, tmp_path):
    """A checkpoint embeds only corpora tokenised with its own vocabulary (a dataset added later is
    tokenised against it, never growing it)."""
    experiments.main(["train", "--run-dir", str(tmp_path / "run"), "--checkpoint-dir", str(tmp_path / "ck"),
                      "--corpus-dir", str(corpus_dir), "--size", "tiny", "--context", "32", "--attention",
                      "sigmoid", "--seed", "0", "--device", "cpu", *_overlay(tmp_path)])
    ckpt = str(tmp_path / "ck" / "last.pt")
    write_synthetic_corpus(tmp_path / "corpora" / "grown", n_cells=5, vocab_size=61, max_len=40)
    with pytest.raises(ValueError, match=r"vocabulary has 60 tokens but corpus .*grown was tokenised with 61"):
        experiments.embed_run(checkpoint=ckpt, corpus_dir=tmp_path / "corpora", datasets=["grown"],
                              context=32, out_dir=tmp_path / "emb", views=["mean"], device="cpu")
    assert not (tmp_path / "emb").exists()
    (path,) = experiments.embed_run(checkpoint=ckpt, corpus_dir=corpus_dir, datasets=["dsA"], context=32,
                                    out_dir=tmp_path / "emb", views=["mean", "cls"], device="cpu")
    assert np.load(path)["mean"].shape == (12, 64) and np.load(path)["cls"].shape == (12, 64)
    experiments.keep_views([path], ["mean"])  # a file written with more views than configured
    with np.load(path) as npz:
        assert sorted(npz.files) == ["cell_id", "mean"] and npz["mean"].shape == (12, 64)


def test_main_can_train_one_context_of_the_grid(corpus_dir, tmp_path):
    """The grid split over GPU calls (CONTEXTS in gpu/h200_training.sh): only the runs at --contexts."""
    experiments.main(["main", "--out", str(tmp_path), "--corpus-dir", str(corpus_dir), "--device", "cpu",
                      "--contexts", "32", *_overlay(tmp_path, contexts=[16, 32])])
    assert sorted(p.name for p in (tmp_path / "train" / "runs").iterdir()) == ["tiny_32_sigmoid_s0",
                                                                              "tiny_32_softmax_s0"]
    with pytest.raises(ValueError, match=r"no main run at contexts \[64\]"):
        experiments.main(["main", "--out", str(tmp_path), "--corpus-dir", str(corpus_dir), "--device", "cpu",
                          "--contexts", "64", *_overlay(tmp_path, contexts=[16, 32])])
