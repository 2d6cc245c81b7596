"""Masked-gene pretraining of one run: config dataclass, the training loop, checkpoints, logs.

One call of :func:`train` trains (or resumes) a run and writes

- ``{out_dir}/log.csv``      one row per step: step, loss, lr, grad_norm (global, before clipping),
                             max_logit_l{i} per layer (proxy, see model.attention), tokens_per_s,
                             peak_mem_gb, provenance columns;
- ``{out_dir}/summary.json`` config, attention backend, steps done, diverged / diverged_step, ...;
- ``{checkpoint_dir}/progress.pt`` model + optimizer + log rows every ``checkpoint_every`` steps,
                             and ``last.pt`` at the end (then progress.pt is removed); both atomic.
                             A killed run restarted with the same config continues from
                             progress.pt on the same curve: data order and masks depend only on
                             (seed, step). (Snakemake deletes a failed job's declared outputs,
                             so the progress file is deliberately not one of them.)

A non-finite loss or gradient norm ends the run cleanly (no optimizer step) and is recorded as
``diverged: true, diverged_step``: divergence is a result, not an error.

Early stopping (``val_every`` > 0): every ``val_every`` steps the masked-LM loss on the corpus'
``val`` split (its first ``val_cells`` cells, masks fixed by seed 0) is measured and appended to
``{out_dir}/val_curve.csv``; after ``patience`` checks without an improvement of ``min_delta`` the
run stops, and the checkpoint holds the weights of the best check (``best_step``). The summary says
why the run stopped: ``stop_reason`` = patience | max_steps | time_box | diverged.

Under torchrun (``WORLD_SIZE`` > 1) the same function runs DDP: every rank takes rows
``rank::world`` of each global batch; the loss is normalised by the GLOBAL number of masked tokens,
so the gradients equal the single-process ones. Rank 0 writes the outputs.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
import torch.nn.functional as F
import torch.utils.checkpoint

from scsigmoid.data.corpus import TokenCorpus
from scsigmoid.io import atomic_path, write_csv, write_json
from scsigmoid.model.attention import Packed, Padded, attention_backend
from scsigmoid.model.encoder import Encoder, ModelConfig
from scsigmoid.provenance import provenance
from scsigmoid.train.batching import IGNORE, batch_plan, make_batch, token_batch_plan


@dataclass
class TrainConfig:
    corpus: str  # TokenCorpus directory
    out_dir: str  # log.csv, summary.json
    checkpoint_dir: str  # last.pt
    size: str = "small"
    context: int = 2048
    attention: str = "sigmoid"
    split: str | None = "train"  # obs 'split' value to train on (None = every cell)
    steps: int = 1000
    batch_size: int = 16  # global batch (cells), split over DDP ranks
    batch_tokens: int | None = None  # set: batches cut by this many tokens instead (batch_size unused)
    lr: float = 3e-4
    schedule: str = "cosine"  # 'cosine' (to min_lr_ratio * lr) or 'constant', after warm-up
    warmup_steps: int | None = None  # None: 5% of steps
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.98)
    grad_clip: float | None = 1.0  # None: no clipping
    layout: str = "padded"  # 'padded' (bucketed, padded batches) or 'packed' (varlen, no padding)
    mask_prob: float = 0.15
    seed: int = 0
    checkpoint_every: int = 0  # 0: only at the end
    max_time_s: float | None = None  # stop early after this much training wall time (time box)
    oom_retries: int = 0  # a step that runs out of GPU memory is retried this often (shared GPU)
    loss_chunk: int | None = None  # masked tokens per piece of the vocabulary logits (None: one piece)
    val_every: int = 0  # early stopping: steps between checks on the val split (0: off)
    patience: int = 0  # checks without improvement before stopping (0: never stop early)
    min_delta: float = 0.0  # an improvement must lower the val loss by more than this
    val_cells: int | None = 1000  # cells of the val split used by the checks (None: all)
    device: str = "auto"  # 'auto' = cuda when available
    resume: bool = True
    save_checkpoints: bool = True  # False: logs only (stress test, LR sweep)
    model_overrides: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"TrainConfig.schedule must be 'cosine' or 'constant'; got {self.schedule!r}.")
        if self.layout not in ("padded", "packed"):
            raise ValueError(f"TrainConfig.layout must be 'padded' or 'packed'; got {self.layout!r}.")
        if self.steps < 1 or self.batch_size < 1 or self.context < 2:
            raise ValueError(
                f"TrainConfig: steps ({self.steps}) and batch_size ({self.batch_size}) must be >= 1 "
                f"and context ({self.context}) >= 2."
            )
        if self.batch_tokens is not None and self.batch_tokens < self.context:
            raise ValueError(f"TrainConfig: batch_tokens ({self.batch_tokens}) must be at least the context "
                             f"({self.context}), so that a cell of full length fits a batch.")
        self.betas = tuple(self.betas)

    @property
    def warmup(self) -> int:
        return self.warmup_steps if self.warmup_steps is not None else max(1, self.steps // 20)

    def curve_fields(self) -> dict:
        """The settings that determine the training curve (a resumed run must match them)."""
        skip = {"max_time_s", "device", "resume", "out_dir", "checkpoint_dir", "checkpoint_every",
                "save_checkpoints", "patience", "min_delta"}
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in skip}


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Learning rate of (0-based) ``step``: linear warm-up, then cosine or constant."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    if cfg.schedule == "constant":
        return cfg.lr
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + 0.5 * (cfg.lr - floor) * (1 + math.cos(math.pi * min(1.0, progress)))


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cpu")
    return torch.device(name)


def _dist_setup(device: torch.device) -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size()


def build_model(cfg: TrainConfig, vocab_size: int, device=None) -> Encoder:
    """The run's model; its initial weights depend on the seed only (not on the context or the
    attention: see :class:`Encoder`)."""
    mcfg = ModelConfig.of_size(
        cfg.size, vocab_size=vocab_size, max_len=cfg.context, attention=cfg.attention,
        **cfg.model_overrides,
    )
    with torch.device(device or "cpu"):
        return Encoder(mcfg, seed=cfg.seed)


def make_optimizer(model: Encoder, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW (fused on CUDA); weight decay on the matrices of the blocks and head only (not
    embeddings/LN/bias)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.ndim == 2 and "emb" not in name else no_decay).append(p)
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    fused = next(model.parameters()).device.type == "cuda"
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=1e-8, fused=fused)


def to_packed(inputs, labels, seq_lens):
    """Padded ``[B, L]`` batch -> packed ``[T]`` tokens, labels and their :class:`Packed` layout
    (build it on the CPU, then move it: it reads the lengths)."""
    keep = torch.arange(inputs.shape[1], device=inputs.device)[None, :] < seq_lens[:, None]
    return inputs[keep], labels[keep], Packed.from_lengths(seq_lens)


def masked_positions(labels: torch.Tensor) -> torch.Tensor:
    """Flat indices of the predicted (masked) positions of ``labels`` (reads them: build on CPU)."""
    return (labels.flatten() != IGNORE).nonzero().squeeze(1)


def _head_loss_sum(model: Encoder, hidden_at_masked, targets):
    return F.cross_entropy(model.mlm_logits(hidden_at_masked).float(), targets, reduction="sum")


def mlm_loss_sum(model: Encoder, inputs, labels, layout, want_max_logit=False, masked=None,
                 loss_chunk: int | None = None):
    """Summed cross-entropy over the masked positions and the per-layer max logits
    (padded: ``layout`` = seq_lens or a :class:`Padded`; packed: a :class:`Packed`).
    ``masked``: precomputed :func:`masked_positions` (then nothing is read on the host).
    ``loss_chunk``: above this many masked tokens, the vocabulary logits are made chunk by chunk
    and recomputed in the backward (activation checkpointing), so a batch's fp32 logits
    (masked tokens × vocabulary × 4 bytes: 6 GiB for the longest 4K batches of the small model)
    never exist at once; the same loss up to the order of the sum. None: one piece."""
    hidden, max_logits = model(inputs, layout, want_max_logit)
    idx = masked_positions(labels) if masked is None else masked
    hidden, targets = hidden.flatten(0, -2).index_select(0, idx), labels.flatten().index_select(0, idx)
    if loss_chunk is None or len(idx) <= loss_chunk:
        return _head_loss_sum(model, hidden, targets), max_logits
    loss_sum = sum(torch.utils.checkpoint.checkpoint(_head_loss_sum, model, hidden[i:i + loss_chunk],
                                                     targets[i:i + loss_chunk], use_reentrant=False)
                   for i in range(0, len(idx), loss_chunk))
    return loss_sum, max_logits


class MLMObjective(torch.nn.Module):
    """The whole objective in one forward, so DDP sees every parameter (head included)."""

    def __init__(self, model: Encoder, loss_chunk: int | None = None):
        super().__init__()
        self.model, self.loss_chunk = model, loss_chunk

    def forward(self, inputs, labels, layout, want_max_logit=False, masked=None):
        return mlm_loss_sum(self.model, inputs, labels, layout, want_max_logit, masked, self.loss_chunk)


class _EarlyStop:
    """Periodic masked-LM loss on the val split; remembers the best weights (on the CPU)."""

    def __init__(self, cfg: TrainConfig, corpus: TokenCorpus, device):
        self.cfg, self.device = cfg, device
        self.val = corpus.split("val") if cfg.val_every else None
        if self.val is not None and len(self.val) == 0:
            raise ValueError(f"early stopping needs a 'val' split in {cfg.corpus}, which has none; "
                             "set val_every: 0 or rebuild the corpus with data.val_fraction > 0.")
        self.curve: list[dict] = []
        self.best_loss, self.best_step, self.best_state, self.since_best = math.inf, 0, None, 0

    def due(self, step_done: int) -> bool:
        return self.val is not None and step_done % self.cfg.val_every == 0

    def check(self, model: Encoder, step_done: int) -> bool:
        """Record the val loss after ``step_done`` steps; True when patience has run out."""
        from scsigmoid.train.validation import validation_loss

        loss = validation_loss(model, self.val, context=self.cfg.context, seeds=[0],
                               batch_size=self.cfg.batch_size, device=self.device,
                               max_cells=self.cfg.val_cells)[0]
        model.train()
        self.curve.append({"step": step_done, "val_loss": loss})
        if loss < self.best_loss - self.cfg.min_delta:
            self.best_loss, self.best_step, self.since_best = loss, step_done, 0
            self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        else:
            self.since_best += 1
        return self.cfg.patience > 0 and self.since_best >= self.cfg.patience


def _load_resume(cfg: TrainConfig, model, optimizer, paths, device) -> tuple[int, list, dict]:
    """(start step, log rows, saved extras) from the run's checkpoint, if any (same settings only)."""
    resume_from = next((p for p in paths if p.exists()), None)
    if not cfg.resume or resume_from is None:
        return 0, [], {}
    state = torch.load(resume_from, map_location=device, weights_only=False)
    if state["curve_fields"] != _jsonable(cfg.curve_fields()):
        raise ValueError(f"{resume_from} belongs to a run with different settings; delete it to "
                         "start over or restore the run's config.")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    start = cfg.steps if state.get("finished") else state["step"]
    return start, state["rows"], {**state.get("extras", {}), "finished": bool(state.get("finished"))}


def _batch(cfg: TrainConfig, corpus, plan, step: int, rank: int, world: int, device):
    """The step's masked batch, this rank's rows, on ``device`` in the run's layout; also the
    global counts of masked and valid tokens (the loss is normalised by the global count)."""
    inputs, labels, lens = make_batch(corpus, plan[step], context=cfg.context,
                                      vocab_size=corpus.vocab_size, seed=cfg.seed, step=step,
                                      mask_prob=cfg.mask_prob)
    n_masked, n_tokens = int((labels != IGNORE).sum()), int(lens.sum())
    mine = slice(rank, None, world)
    inputs, labels, lens = inputs[mine], labels[mine], lens[mine]
    width = int(lens.max())
    inputs, labels = inputs[:, :width], labels[:, :width]
    if cfg.layout == "packed":
        inputs, labels, layout = to_packed(inputs, labels, lens)
    else:
        layout = Padded.from_lengths(lens, width)
    masked = masked_positions(labels)
    return (inputs.to(device), labels.to(device), layout.to(device), masked.to(device),
            n_masked, n_tokens)


def _forward_backward(objective, optimizer, args: tuple, *, autocast, scale: float, retries: int,
                      device) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Zero the gradients, forward, backward of ``scale`` × the summed loss: (loss sum, max logits,
    retries used). A step out of GPU memory is taken again with the same batch up to ``retries``
    times (runs sharing one GPU peak at different steps; no batch is skipped, so every run sees the
    same data)."""
    for attempt in range(retries + 1):
        optimizer.zero_grad(set_to_none=True)
        try:
            with autocast:
                loss_sum, max_logits = objective(*args)
            (loss_sum * scale).backward()
            return loss_sum, max_logits, attempt
        except torch.OutOfMemoryError:
            if attempt == retries:
                raise
            loss_sum = max_logits = None
            if device.type == "cuda":
                torch.cuda.empty_cache()
                time.sleep(2.0 * (attempt + 1))
    raise AssertionError("unreachable")


def train(cfg: TrainConfig, *, halt_after: int | None = None) -> dict:
    """Train (or resume) one run; returns the summary. ``halt_after`` stops after that many
    steps WITHOUT finishing the run (simulates a killed job, for tests)."""
    device = resolve_device(cfg.device)
    rank, world = _dist_setup(device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if cfg.batch_tokens is None and cfg.batch_size % world:
        raise ValueError(f"batch_size={cfg.batch_size} must be divisible by the {world} DDP ranks.")
    full_corpus = TokenCorpus(cfg.corpus)
    corpus = full_corpus.split(cfg.split) if cfg.split is not None else full_corpus
    model = build_model(cfg, corpus.vocab_size, device)
    optimizer = make_optimizer(model, cfg)
    out_dir = Path(cfg.out_dir)
    last_path = Path(cfg.checkpoint_dir) / "last.pt"
    progress_path = Path(cfg.checkpoint_dir) / "progress.pt"
    start, rows, extras = _load_resume(cfg, model, optimizer, (last_path, progress_path), device)
    if extras.get("finished") and (out_dir / "summary.json").exists():
        # a finished run started again (e.g. `experiments main` re-run for the runs that failed):
        # its summary stands as written (best step and loss, OOM retries, training seconds)
        return json.loads((out_dir / "summary.json").read_text())
    stopper = _EarlyStop(cfg, full_corpus, device)
    stopper.curve = extras.get("val_curve", [])

    objective = MLMObjective(model, cfg.loss_chunk)
    if world > 1:
        objective = torch.nn.parallel.DistributedDataParallel(
            objective, device_ids=[device.index] if device.type == "cuda" else None
        )
    lengths = np.minimum(corpus.lengths, cfg.context)
    if cfg.batch_tokens is None:
        plan = batch_plan(lengths, batch_size=cfg.batch_size, steps=cfg.steps, seed=cfg.seed)
    else:
        plan = token_batch_plan(lengths, tokens=cfg.batch_tokens, steps=cfg.steps, seed=cfg.seed)
        if min(len(b) for b in plan) < world:
            raise ValueError(f"batch_tokens={cfg.batch_tokens} gives batches of fewer cells than the {world} "
                             f"DDP ranks; raise it to at least {world} x the context.")
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    clip = cfg.grad_clip if cfg.grad_clip is not None else float("inf")
    prov = provenance()
    backend = attention_backend(cfg.attention, device)
    diverged_step, t_train, stop_reason = None, 0.0, extras.get("stop_reason", "max_steps")
    oom_retries = 0
    model.train()

    def save(finished: bool):
        if rank != 0:
            return
        if finished and stopper.best_state is not None:
            model.load_state_dict(stopper.best_state)  # the checkpoint holds the best weights
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step_done,
                 "rows": rows, "curve_fields": _jsonable(cfg.curve_fields()), "finished": finished,
                 "model_config": model.cfg.to_dict(),
                 "extras": {"val_curve": stopper.curve, "stop_reason": stop_reason}}
        path = last_path if finished else progress_path
        if cfg.save_checkpoints:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                torch.save(state, tmp)
        write_csv(pd.DataFrame(rows), out_dir / "log.csv")
        if stopper.curve:
            write_csv(pd.DataFrame(stopper.curve).assign(**prov), out_dir / "val_curve.csv")
        if finished:
            progress_path.unlink(missing_ok=True)

    step_done = start
    for step in range(start, cfg.steps):
        if halt_after is not None and step >= start + halt_after:
            return {"halted_at": step}
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        t0 = time.perf_counter()
        inputs, labels, layout, masked, n_masked, n_tokens = _batch(cfg, corpus, plan, step, rank,
                                                                     world, device)
        lr = lr_at(cfg, step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss_sum, max_logits, retried = _forward_backward(
            objective, optimizer, (inputs, labels, layout, True, masked), autocast=autocast,
            scale=world / max(1, n_masked), retries=cfg.oom_retries, device=device)
        oom_retries += retried
        grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip))
        loss_sum = loss_sum.detach()
        if world > 1:
            dist.all_reduce(loss_sum)
            dist.all_reduce(max_logits, op=dist.ReduceOp.MAX)
        mean_loss = float(loss_sum) / max(1, n_masked)
        finite = math.isfinite(mean_loss) and math.isfinite(grad_norm)
        if finite:
            optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        dt = time.perf_counter() - t0
        t_train += dt
        rows.append({"step": step + 1, "loss": mean_loss, "lr": lr, "grad_norm": grad_norm,
                     **{f"max_logit_l{i}": float(m) for i, m in enumerate(max_logits.cpu())},
                     "tokens": n_tokens, "tokens_per_s": n_tokens / dt,
                     "samples_per_s": len(plan[step]) / dt,
                     "peak_mem_gb": (torch.cuda.max_memory_allocated(device) / 2**30
                                     if device.type == "cuda" else float("nan")),
                     **prov})
        step_done = step + 1
        if not finite:
            diverged_step, stop_reason = step + 1, "diverged"
            break
        if stopper.due(step_done) and stopper.check(model, step_done):
            stop_reason = "patience"
            break
        if cfg.checkpoint_every and step_done % cfg.checkpoint_every == 0 and step_done < cfg.steps:
            save(finished=False)
        if cfg.max_time_s is not None and t_train >= cfg.max_time_s:
            stop_reason = "time_box"
            break

    save(finished=True)
    losses = [r["loss"] for r in rows]
    summary = {
        "run": out_dir.name, "config": _jsonable(dataclasses.asdict(cfg)),
        "model": model.cfg.to_dict(), **model.param_counts(),
        "attention_backend": backend, "layout": cfg.layout, "world_size": world, "steps_done": step_done,
        "seed": cfg.seed, "stop_reason": stop_reason, "stopped_early": stop_reason != "max_steps",
        "diverged": diverged_step is not None, "diverged_step": diverged_step,
        "best_step": stopper.best_step if stopper.best_state is not None else None,
        "best_val_loss": stopper.best_loss if stopper.best_state is not None else None,
        "tokens_seen": int(sum(r.get("tokens", 0) for r in rows)),
        "oom_retries": oom_retries,
        "cells_seen": int(sum(len(b) for b in plan[:step_done])),
        "final_loss": losses[-1] if losses else None,
        "min_loss": float(np.nanmin(losses)) if losses and np.isfinite(losses).any() else None,
        "max_grad_norm": float(np.nanmax([r["grad_norm"] for r in rows])) if rows else None,
        "train_seconds_this_call": t_train,
        "mean_tokens_per_s": float(np.mean([r["tokens_per_s"] for r in rows])) if rows else None,
        **prov,
    }
    if rank == 0:
        write_json(summary, out_dir / "summary.json")
    return summary


def _jsonable(d: dict) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


def load_checkpoint(path, device="cpu") -> Encoder:
    """The model saved in a ``last.pt`` checkpoint, in eval mode."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} not found; train the run first (rule train_run).")
    state = torch.load(path, map_location=device, weights_only=False)
    model = Encoder(ModelConfig(**state["model_config"]))
    model.load_state_dict(state["model"])
    return model.to(device).eval()
