import json
import math
import os
import socket

import numpy as np
import pandas as pd
import pytest
import torch
import torch.multiprocessing as mp

from scsigmoid.data.corpus import TokenCorpus
from scsigmoid.train import trainer as trainer_mod
from scsigmoid.train.trainer import TrainConfig, build_model, load_checkpoint, train
from scsigmoid.train.validation import validation_loss


def config(corpus_path, tmp, name, **kw):
    base = dict(corpus=str(corpus_path), out_dir=str(tmp / "runs" / name),
                checkpoint_dir=str(tmp / "ckpt" / name), size="tiny", context=32,
                attention="softmax", steps=8, batch_size=4, lr=3e-3, device="cpu")
    return TrainConfig(**{**base, **kw})


def test_log_summary_and_checkpoint(corpus_path, tmp_path):
    cfg = config(corpus_path, tmp_path, "a", steps=6)
    summary = train(cfg)
    log = pd.read_csv(f"{cfg.out_dir}/log.csv")
    assert list(log["step"]) == list(range(1, 7))
    for col in ["loss", "lr", "grad_norm", "max_logit_l0", "max_logit_l1", "tokens_per_s",
                "peak_mem_gb", "device", "torch", "triton", "commit", "date"]:
        assert col in log
    assert log["loss"].iloc[0] == pytest.approx(math.log(80), abs=0.3)  # untrained ~ ln(vocab)
    on_disk = json.loads(open(f"{cfg.out_dir}/summary.json").read())
    assert on_disk["diverged"] is False and on_disk["steps_done"] == 6
    assert on_disk["attention_backend"] == "sdpa_masked"
    model = load_checkpoint(f"{cfg.checkpoint_dir}/last.pt")
    assert model.cfg.attention == "softmax" and model.cfg.max_len == 32
    assert summary["final_loss"] == pytest.approx(log["loss"].iloc[-1])


def test_token_batches_train_and_are_recorded(corpus_path, tmp_path):
    """train.batch_tokens: each step holds at most the budget, cells a step vary with their
    length, and the summary counts the cells the plan gave (not steps x batch_size)."""
    cfg = config(corpus_path, tmp_path, "tok", steps=6, batch_tokens=128)
    summary = train(cfg)
    log = pd.read_csv(f"{cfg.out_dir}/log.csv")
    assert (log["tokens"] <= 128).all() and (log["tokens"] >= 64).all()
    from scsigmoid.train.batching import token_batch_plan
    lengths = np.minimum(TokenCorpus(str(corpus_path)).split("train").lengths, 32)
    plan = token_batch_plan(lengths, tokens=128, steps=6, seed=0)
    assert list(log["tokens"]) == [int(lengths[b].sum()) for b in plan]
    assert summary["cells_seen"] == sum(len(b) for b in plan) != 6 * cfg.batch_size
    assert np.isfinite(log["loss"]).all()


def test_killed_and_restarted_run_follows_the_same_curve(corpus_path, tmp_path):
    straight = config(corpus_path, tmp_path, "straight", steps=8)
    train(straight)
    resumed = config(corpus_path, tmp_path, "resumed", steps=8, checkpoint_every=4)
    assert train(resumed, halt_after=6) == {"halted_at": 6}  # killed after step 6, ckpt at 4
    progress = tmp_path / "ckpt" / "resumed" / "progress.pt"
    assert progress.exists() and not (progress.parent / "last.pt").exists()
    assert torch.load(progress, weights_only=False)["step"] == 4
    train(resumed)
    assert not progress.exists() and (progress.parent / "last.pt").exists()
    a = pd.read_csv(f"{straight.out_dir}/log.csv")
    b = pd.read_csv(f"{resumed.out_dir}/log.csv")
    assert list(b["step"]) == list(range(1, 9))
    np.testing.assert_allclose(a["loss"], b["loss"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(a["grad_norm"], b["grad_norm"], rtol=1e-5)


def test_a_finished_run_started_again_keeps_its_summary(corpus_path, tmp_path):
    # H200, 2026-12-03: `experiments main` re-run for three runs that had failed started the three
    # finished ones again, which rewrote their summaries with no best step / loss and 0 OOM retries
    cfg = config(corpus_path, tmp_path, "done", steps=6, val_every=2, val_cells=8)
    first = train(cfg)
    assert first["best_step"] is not None and first["train_seconds_this_call"] > 0
    again = train(cfg)
    assert again == json.loads(open(f"{cfg.out_dir}/summary.json").read())
    assert again["best_step"] == first["best_step"] and again["best_val_loss"] == pytest.approx(first["best_val_loss"])
    assert again["train_seconds_this_call"] == first["train_seconds_this_call"]


def test_resume_with_other_settings_is_refused(corpus_path, tmp_path):
    train(config(corpus_path, tmp_path, "x", steps=3))
    with pytest.raises(ValueError, match="different settings"):
        train(config(corpus_path, tmp_path, "x", steps=3, lr=1.0))


def test_non_finite_loss_ends_the_run_and_is_recorded(corpus_path, tmp_path, monkeypatch):
    real = trainer_mod.mlm_loss_sum
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        loss_sum, max_logits = real(*args, **kwargs)
        calls["n"] += 1
        return (loss_sum * float("nan") if calls["n"] == 3 else loss_sum), max_logits

    monkeypatch.setattr(trainer_mod, "mlm_loss_sum", poisoned)
    cfg = config(corpus_path, tmp_path, "nan", steps=8)
    summary = train(cfg)
    assert summary["diverged"] is True and summary["diverged_step"] == 3
    assert summary["steps_done"] == 3
    assert len(pd.read_csv(f"{cfg.out_dir}/log.csv")) == 3


def test_both_arms_start_from_identical_weights(corpus_path, tmp_path):
    soft = build_model(config(corpus_path, tmp_path, "s"), 80).state_dict()
    sig = build_model(config(corpus_path, tmp_path, "g", attention="sigmoid"), 80).state_dict()
    assert all(torch.equal(soft[k], sig[k]) for k in soft)


def test_sigmoid_arm_trains(corpus_path, tmp_path):
    cfg = config(corpus_path, tmp_path, "sig", attention="sigmoid", steps=4)
    summary = train(cfg)
    assert summary["attention_backend"].startswith("sigattn_")
    assert not summary["diverged"] and math.isfinite(summary["final_loss"])


def test_validation_loss_per_seed(corpus_path):
    torch.manual_seed(0)
    corpus = TokenCorpus(corpus_path).split("val")
    model = build_model(config(corpus_path, __import__("pathlib").Path("/tmp"), "v"), 80)
    losses = validation_loss(model, corpus, context=32, seeds=[0, 1, 2], batch_size=5, device="cpu")
    again = validation_loss(model, corpus, context=32, seeds=[0], batch_size=3, device="cpu")
    assert len(losses) == 3 and len(set(losses)) == 3
    assert losses[0] == pytest.approx(again[0], rel=1e-5)  # batching does not change the value
    assert all(abs(v - math.log(80)) < 0.3 for v in losses)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank, world, port, cfg_kwargs):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world),
                      RANK=str(rank), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    train(TrainConfig(**cfg_kwargs))
    torch.distributed.destroy_process_group()


def test_ddp_two_processes_match_single_process(corpus_path, tmp_path):
    single = config(corpus_path, tmp_path, "single", steps=4)
    train(single)
    ddp = config(corpus_path, tmp_path, "ddp", steps=4)
    mp.spawn(_ddp_worker, args=(2, _free_port(), vars(ddp)), nprocs=2, join=True)
    a = pd.read_csv(f"{single.out_dir}/log.csv")
    b = pd.read_csv(f"{ddp.out_dir}/log.csv")
    np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-4)
    np.testing.assert_allclose(a["grad_norm"], b["grad_norm"], rtol=1e-3)
    assert json.loads(open(f"{ddp.out_dir}/summary.json").read())["world_size"] == 2


@pytest.mark.parametrize("kind", ["softmax", "sigmoid"])
def test_packed_training_follows_the_padded_curve(corpus_path, tmp_path, kind):
    padded = config(corpus_path, tmp_path, f"pad_{kind}", steps=3, attention=kind)
    packed = config(corpus_path, tmp_path, f"pack_{kind}", steps=3, attention=kind, layout="packed")
    train(padded)
    assert train(packed)["layout"] == "packed"
    a = pd.read_csv(f"{padded.out_dir}/log.csv")
    b = pd.read_csv(f"{packed.out_dir}/log.csv")
    np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-4)
    np.testing.assert_allclose(a["grad_norm"], b["grad_norm"], rtol=1e-3)


def test_a_step_out_of_gpu_memory_is_retried_with_the_same_batch(corpus_path, tmp_path, monkeypatch):
    """Runs sharing one GPU (2026-12-03: 9 of 12 died of another run's peak): the step is taken again
    with the same batch, so the run ends with the weights of a run that never hit the fault; past
    ``oom_retries`` the error propagates."""
    clean = config(corpus_path, tmp_path, "clean", steps=6)
    train(clean)
    real = trainer_mod.mlm_loss_sum
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] in (3, 4):  # step 3 fails twice, then succeeds
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(*args, **kwargs)

    monkeypatch.setattr(trainer_mod, "mlm_loss_sum", flaky)
    retried = config(corpus_path, tmp_path, "retried", steps=6, oom_retries=2)
    summary = train(retried)
    assert summary["oom_retries"] == 2 and summary["steps_done"] == 6
    a, b = load_checkpoint(f"{clean.checkpoint_dir}/last.pt"), load_checkpoint(f"{retried.checkpoint_dir}/last.pt")
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    calls["n"] = 0
    with pytest.raises(torch.OutOfMemoryError):
        train(config(corpus_path, tmp_path, "gives_up", steps=6, oom_retries=1))


def test_chunked_loss_equals_the_one_piece_loss_and_its_gradients(corpus_path):
    # train.loss_chunk: the vocabulary logits made piece by piece and recomputed in the backward
    # (six H200 runs at once ran out of memory on one batch's 6 GiB of fp32 logits)
    from scsigmoid.train.batching import make_batch
    from scsigmoid.train.trainer import masked_positions, mlm_loss_sum

    corpus = TokenCorpus(corpus_path)
    model = build_model(TrainConfig(corpus=str(corpus_path), out_dir="", checkpoint_dir="", size="tiny",
                                    context=32, attention="sigmoid", device="cpu"), corpus.vocab_size, "cpu")
    inputs, labels, lens = make_batch(corpus, np.arange(16), context=32, vocab_size=corpus.vocab_size,
                                      seed=0, step=0, mask_prob=0.5)
    n_masked = len(masked_positions(labels))
    grads = {}
    for chunk in (None, 7, n_masked):
        model.zero_grad()
        loss, _ = mlm_loss_sum(model, inputs, labels, lens, loss_chunk=chunk)
        loss.backward()
        grads[chunk] = (float(loss.detach()), [p.grad.clone() for p in model.parameters()])
    assert n_masked > 7 * 3  # several pieces
    for chunk in (7, n_masked):
        assert grads[chunk][0] == pytest.approx(grads[None][0], rel=1e-5)
        for a, b in zip(grads[chunk][1], grads[None][1], strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
