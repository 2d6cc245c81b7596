"""The training experiments, each runnable in one process on the GPU machine (no Snakemake):

    python -m scsigmoid.train.experiments main       --out R --corpus-dir R/data/corpus
    python -m scsigmoid.train.experiments throughput --out R --corpus-dir R/data/corpus
    python -m scsigmoid.train.experiments stress     --out R --corpus-dir R/data/corpus
    python -m scsigmoid.train.experiments lr_sweep   --out R --corpus-dir R/data/corpus

``main``: the paired runs ``{size}_{context}_{attention}`` (contexts x softmax/sigmoid), then per
run the validation loss on the pretraining val split ('pretrain_val') and on every eval corpus, and
for runs at the evaluation context the cell embeddings and a sample of attention scores.
``throughput``: timed training steps of the paper's four sizes x contexts x attentions.
``stress``: 160M / 8K / no clipping, time-boxed per arm. ``lr_sweep``: each attention at a ladder
of peak learning rates, no clipping (the largest stable one is the stability frontier);
``lr_sweep_summary`` (no GPU, no corpus) re-derives the sweep table from its runs' logs.

Layout under ``R``: train/runs/{run}/{log.csv,summary.json,val_loss.csv,attention_scores.npz},
checkpoints/{run}/last.pt, embed/{run}/{dataset}.npz, train/throughput_{device}.csv,
train/stress_{device}.csv, train/lr_sweep_{device}.csv. The functions below are also what the
Snakemake scripts call, one output at a time.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from scsigmoid.data.corpus import TokenCorpus
from scsigmoid.io import atomic_path, write_csv
from scsigmoid.model.attention import ATTENTIONS, attention_backend
from scsigmoid.model.encoder import Encoder, ModelConfig, embed, pad_batch
from scsigmoid.model.probe import attention_scores
from scsigmoid.provenance import device_slug, provenance
from scsigmoid.train.sweep import summarise_lr_sweep
from scsigmoid.train.trainer import (
    TrainConfig,
    load_checkpoint,
    make_optimizer,
    resolve_device,
    train,
)
from scsigmoid.train.validation import validation_loss

PAPER_SIZES = ("160M", "400M", "600M", "1.4B")
PRETRAIN = "pretrain"  # corpus-dir sub-directory of the pretraining corpus


def run_name(size: str, context: int, attention: str) -> str:
    return f"{size}_{context}_{attention}"


def _corpus(corpus_dir, name: str) -> TokenCorpus:
    return TokenCorpus(Path(corpus_dir) / name)


def eval_datasets(corpus_dir) -> list[str]:
    """Every corpus under ``corpus_dir`` except the pretraining one (sorted)."""
    return sorted(p.name for p in Path(corpus_dir).iterdir()
                  if p.is_dir() and p.name != PRETRAIN and (p / "meta.json").exists())


# ---------------------------------------------------------------------------------------------
# main comparison, one output at a time
# ---------------------------------------------------------------------------------------------


def train_run(*, results: str, corpus_dir: str, size: str, context: int, attention: str,
              steps: int, batch_size: int, lr: float, seed: int = 0, grad_clip: float | None = 1.0,
              checkpoint_every: int = 0, device: str = "auto",
              checkpoint_root: str | None = None, layout: str = "padded", run: str | None = None) -> dict:
    run = run or run_name(size, context, attention)
    cfg = TrainConfig(
        corpus=str(Path(corpus_dir) / PRETRAIN), out_dir=f"{results}/train/runs/{run}",
        checkpoint_dir=f"{checkpoint_root or f'{results}/checkpoints'}/{run}", size=size,
        context=context,
        attention=attention, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
        grad_clip=grad_clip, checkpoint_every=checkpoint_every, device=device, layout=layout,
    )
    return train(cfg)


def validate_run(*, checkpoint: str, corpus_dir: str, datasets: list[str], context: int,
                 seeds: list[int], out_csv: str, batch_size: int = 16, max_cells: int | None = 2000,
                 device: str = "auto") -> pd.DataFrame:
    """``val_loss.csv``: dataset, seed, loss, n_cells (+ provenance); 'pretrain_val' = the
    pretraining corpus' val split."""
    dev = resolve_device(device)
    model = load_checkpoint(checkpoint, dev)
    rows = []
    for name in ["pretrain_val", *datasets]:
        corpus = _corpus(corpus_dir, PRETRAIN).split("val") if name == "pretrain_val" \
            else _corpus(corpus_dir, name)
        losses = validation_loss(model, corpus, context=context, seeds=seeds,
                                 batch_size=batch_size, device=dev, max_cells=max_cells)
        n_cells = len(corpus) if max_cells is None else min(len(corpus), max_cells)
        rows += [{"dataset": name, "seed": s, "loss": v, "n_cells": n_cells, "context": context,
                  "attention": model.cfg.attention} for s, v in zip(seeds, losses, strict=True)]
    df = pd.DataFrame(rows).assign(**provenance())
    write_csv(df, out_csv)
    return df


def _save_npz(path, **arrays):
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)


def embed_run(*, checkpoint: str, corpus_dir: str, datasets: list[str], context: int,
              out_dir: str, batch_size: int = 16, device: str = "auto") -> list[Path]:
    """``{out_dir}/{dataset}.npz`` with mean, cls (float16) and cell_id arrays."""
    dev = resolve_device(device)
    model = load_checkpoint(checkpoint, dev)
    paths = []
    for name in datasets:
        corpus = _corpus(corpus_dir, name)
        emb = embed(model, corpus, context=context, batch_size=batch_size, device=dev)
        path = Path(out_dir) / f"{name}.npz"
        _save_npz(path, mean=emb["mean"].astype(np.float16), cls=emb["cls"].astype(np.float16),
                  cell_id=corpus.obs["cell_id"].to_numpy(dtype=str))
        paths.append(path)
    return paths


def scores_run(*, checkpoint: str, corpus_dir: str, context: int, out_npz: str,
               n_cells: int = 4, n_keys: int = 256, device: str = "auto") -> Path:
    """``attention_scores.npz``: pre-activation scores of a few cells of the pretraining val split."""
    dev = resolve_device(device)
    model = load_checkpoint(checkpoint, dev)
    corpus = _corpus(corpus_dir, PRETRAIN).split("val")
    lengths = np.minimum(corpus.lengths, context)
    # cells with >= n_keys tokens when there are enough (else the longest), so that every
    # sampled row has n_keys finite scores
    long_enough = np.flatnonzero(lengths >= n_keys)
    pool = long_enough if len(long_enough) >= n_cells else np.argsort(lengths)[-n_cells:]
    pick = np.random.default_rng(0).choice(pool, size=min(n_cells, len(pool)), replace=False)
    out = attention_scores(model, [corpus.cell(int(i), context) for i in pick],
                           n_keys=int(min(n_keys, lengths[pick].min())))
    # one float array per layer, 'layer{i}' [cells, heads, rows, keys] (NaN past a cell's end);
    # everything else in one JSON string, so readers can take every numeric array as scores
    layers = {f"layer{i}": out["scores"][:, i] for i in range(out["scores"].shape[1])}
    meta = {"attention": model.cfg.attention, "context": context,
            "score": "q·kᵀ·scale + b (b = -log n for sigmoid, 0 for softmax)",
            "cells": [str(c) for c in corpus.obs["cell_id"].iloc[pick]],
            **{k: out[k].tolist() for k in ("rows", "keys", "seq_lens", "bias")}}
    _save_npz(out_npz, **layers, meta=np.array(json.dumps(meta)))
    return Path(out_npz)


def run_main(args) -> None:
    datasets = args.datasets if args.datasets is not None else eval_datasets(args.corpus_dir)
    for context in args.contexts:
        for attention in ATTENTIONS:
            run = run_name(args.size, context, attention)
            t0 = time.time()
            summary = train_run(results=args.out, corpus_dir=args.corpus_dir, size=args.size,
                                context=context, attention=attention, steps=args.steps,
                                batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                                checkpoint_every=args.checkpoint_every, device=args.device,
                                checkpoint_root=args.checkpoint_root, layout=args.layout)
            ckpt = f"{args.checkpoint_root}/{run}/last.pt"
            validate_run(checkpoint=ckpt, corpus_dir=args.corpus_dir, datasets=datasets,
                         context=context, seeds=args.masking_seeds,
                         out_csv=f"{args.out}/train/runs/{run}/val_loss.csv",
                         max_cells=args.val_max_cells, device=args.device)
            if context == args.eval_context:
                embed_run(checkpoint=ckpt, corpus_dir=args.corpus_dir, datasets=datasets,
                          context=context, out_dir=f"{args.out}/embed/{run}", device=args.device)
                scores_run(checkpoint=ckpt, corpus_dir=args.corpus_dir, context=context,
                           out_npz=f"{args.out}/train/runs/{run}/attention_scores.npz",
                           device=args.device)
            print(f"[main] {run}: {summary['steps_done']} steps, final loss "
                  f"{summary['final_loss']:.4f}, diverged={summary['diverged']}, "
                  f"{time.time() - t0:.0f} s", flush=True)


# ---------------------------------------------------------------------------------------------
# throughput
# ---------------------------------------------------------------------------------------------


def _random_batches(lengths: np.ndarray, *, context: int, batch: int, n: int, vocab: int, seed: int):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        lens = np.minimum(rng.choice(lengths, size=batch), context)
        seqs = [np.concatenate([[1], rng.integers(4, vocab, size=int(m) - 1)]) for m in lens]
        tokens, seq_lens = pad_batch(seqs)
        labels = torch.full_like(tokens, -100)
        picked = (torch.rand(tokens.shape, generator=torch.Generator().manual_seed(seed)) < 0.15)
        picked &= torch.arange(tokens.shape[1])[None] < seq_lens[:, None]
        picked[:, 0] = False
        labels[picked] = tokens[picked]
        out.append((tokens, labels, seq_lens))
    return out


def time_training_steps(size: str, context: int, attention: str, batches, vocab: int,
                        device: torch.device, layout: str = "padded") -> dict:
    """Mean time of a full training step (fwd + bwd + AdamW, bf16 autocast) over ``batches``,
    after running every batch once untimed (compilation, autotuning, allocator warm-up)."""
    from scsigmoid.train.trainer import mlm_loss_sum, to_packed

    cfg = ModelConfig.of_size(size, vocab_size=vocab, max_len=context, attention=attention)
    with torch.device(device):
        model = Encoder(cfg)
    opt = make_optimizer(model, TrainConfig(corpus="", out_dir="", checkpoint_dir="", size=size))
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")

    def step(tokens, labels, lens):
        with autocast:
            loss_sum, _ = mlm_loss_sum(model, tokens, labels, lens)
        opt.zero_grad(set_to_none=True)
        loss_sum.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    batches = [tuple(t.to(device) for t in b) for b in batches]
    n_samples = np.mean([b[0].shape[0] for b in batches])
    n_tokens = np.mean([int(b[2].sum()) for b in batches])
    if layout == "packed":
        batches = [to_packed(*b) for b in batches]
    for b in batches:
        step(*b)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    for b in batches:
        step(*b)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    dt = (time.perf_counter() - t0) / len(batches)
    return {"step_ms": dt * 1e3, "samples_per_s": n_samples / dt, "tokens_per_s": n_tokens / dt,
            "peak_mem_gb": (torch.cuda.max_memory_allocated(device) / 2**30
                            if device.type == "cuda" else float("nan")),
            "params_total": model.param_counts()["params_total"]}


def run_throughput(args) -> pd.DataFrame:
    device = resolve_device(args.device)
    pre = _corpus(args.corpus_dir, PRETRAIN)
    lengths, vocab = np.asarray(pre.lengths), pre.vocab_size
    rows = []
    for size in args.sizes:
        for context in args.contexts:
            batches = _random_batches(lengths, context=context, batch=args.per_gpu_batch,
                                      n=args.timed_steps, vocab=vocab, seed=args.seed)
            for attention in ATTENTIONS:
                row = {"size": size, "context": context, "attention": attention,
                       "backend": attention_backend(attention, device), "layout": args.layout,
                       "batch_size": args.per_gpu_batch, "timed_steps": args.timed_steps}
                try:
                    row.update(time_training_steps(size, context, attention, batches, vocab,
                                                   device, args.layout))
                    row["status"] = "ok"
                except torch.OutOfMemoryError:
                    row["status"] = "oom"
                except Exception as err:  # recorded, not fatal: one failing shape keeps the rest
                    row["status"] = f"error: {type(err).__name__}: {str(err)[:200]}"
                gc.collect()
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                rows.append(row)
                print(f"[throughput] {row}", flush=True)
    df = pd.DataFrame(rows).assign(**provenance())
    write_csv(df, Path(args.out) / "train" / f"throughput_{device_slug()}.csv")
    return df


# ---------------------------------------------------------------------------------------------
# stress test and learning-rate sweep
# ---------------------------------------------------------------------------------------------


def run_stress(args) -> None:
    slug = device_slug()
    logs = []
    for attention in ATTENTIONS:
        cfg = TrainConfig(
            corpus=str(Path(args.corpus_dir) / PRETRAIN),
            out_dir=f"{args.out}/train/stress/{attention}",
            checkpoint_dir=f"{args.out}/checkpoints/stress_{attention}", size=args.stress_size,
            context=args.stress_context, attention=attention, steps=args.stress_max_steps,
            batch_size=args.stress_batch_size, lr=args.stress_lr, schedule="constant",
            warmup_steps=args.stress_warmup, grad_clip=None, seed=args.seed,
            max_time_s=args.stress_seconds, device=args.device, resume=False,
            save_checkpoints=False,
        )
        summary = train(cfg)
        print(f"[stress] {attention}: {summary['steps_done']} steps, diverged={summary['diverged']}",
              flush=True)
        logs.append(pd.read_csv(f"{cfg.out_dir}/log.csv").assign(
            attention=attention, size=cfg.size, context=cfg.context, peak_lr=cfg.lr,
            diverged_step=summary["diverged_step"]))
    write_csv(pd.concat(logs, ignore_index=True), f"{args.out}/train/stress_{slug}.csv")


def run_lr_sweep(args) -> None:
    """Largest stable learning rate of each attention (the stability frontier). The summary CSV is
    rewritten from the runs' logs after every run, so a sweep cut short keeps what it finished."""
    sweep_dir = Path(args.out) / "train" / "lr_sweep"
    for attention in ATTENTIONS:
        for lr in args.sweep_lrs:
            cfg = TrainConfig(
                corpus=str(Path(args.corpus_dir) / PRETRAIN),
                out_dir=str(sweep_dir / f"{attention}_{lr:g}"),
                checkpoint_dir=f"{args.out}/checkpoints/lr_sweep_{attention}_{lr:g}",
                size=args.sweep_size, context=args.sweep_context, attention=attention,
                steps=args.sweep_steps, batch_size=args.sweep_batch_size, lr=lr,
                schedule="constant", warmup_steps=max(1, args.sweep_steps // 10), grad_clip=None,
                seed=args.seed, device=args.device, resume=False, save_checkpoints=False,
            )
            s = train(cfg)
            print(f"[lr_sweep] {attention} lr {lr:g}: {s['steps_done']} steps, diverged={s['diverged']}",
                  flush=True)
            run_lr_sweep_summary(args)


def run_lr_sweep_summary(args) -> None:
    """(Re)derive train/lr_sweep_{device}.csv from the sweep runs' logs under --out."""
    table = summarise_lr_sweep(Path(args.out) / "train" / "lr_sweep")
    slug = device_slug(str(table["device"].iloc[0])) if table["device"].notna().all() else device_slug()
    write_csv(table, f"{args.out}/train/lr_sweep_{slug}.csv")


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m scsigmoid.train.experiments", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment",
                   choices=["run", "main", "throughput", "stress", "lr_sweep", "lr_sweep_summary"],
                   help="run: train one run (--size, --contexts CONTEXT, --attention); the "
                        "workflow launches it under torchrun when its job has several GPUs")
    p.add_argument("--out", required=True, help="results root R (outputs go under R/train, ...)")
    p.add_argument("--corpus-dir", default=None,
                   help="directory holding pretrain/ and eval corpora (every experiment but lr_sweep_summary)")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--layout", choices=["padded", "packed"], default="padded",
                   help="batch layout of training (main, throughput): padded or packed varlen")
    # main
    p.add_argument("--size", default="small")
    p.add_argument("--attention", choices=["softmax", "sigmoid"], default=None, help="run: the arm")
    p.add_argument("--run-name", default=None,
                   help="run: the run's folder name (default {size}_{context}_{attention})")
    p.add_argument("--grad-clip", type=float, default=1.0, help="run: clip norm (<= 0: off)")
    p.add_argument("--contexts", type=int, nargs="+", default=None)
    p.add_argument("--steps", type=int, default=1200)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--checkpoint-every", type=int, default=0)
    p.add_argument("--checkpoint-root", default=None,
                   help="where checkpoints go (default OUT/checkpoints; keep them out of OUT on "
                        "the GPU machine: they are large)")
    p.add_argument("--eval-context", type=int, default=4096)
    p.add_argument("--datasets", nargs="*", default=None, help="eval corpora (default: all)")
    p.add_argument("--masking-seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--val-max-cells", type=int, default=2000)
    # throughput
    p.add_argument("--sizes", nargs="+", default=list(PAPER_SIZES))
    p.add_argument("--per-gpu-batch", type=int, default=2)
    p.add_argument("--timed-steps", type=int, default=5)
    # stress + sweep
    p.add_argument("--stress-size", default="160M")
    p.add_argument("--stress-context", type=int, default=8192)
    p.add_argument("--stress-lr", type=float, default=2e-3)
    p.add_argument("--stress-batch-size", type=int, default=8)
    p.add_argument("--stress-warmup", type=int, default=100)
    p.add_argument("--stress-seconds", type=float, default=100.0)
    p.add_argument("--stress-max-steps", type=int, default=100_000)
    p.add_argument("--sweep-size", default="small")
    p.add_argument("--sweep-context", type=int, default=2048)
    p.add_argument("--sweep-lrs", type=float, nargs="+", default=[3e-4, 1e-3, 3e-3, 1e-2, 3e-2])
    p.add_argument("--sweep-steps", type=int, default=300)
    p.add_argument("--sweep-batch-size", type=int, default=16)
    args = p.parse_args(argv)
    if args.checkpoint_root is None:
        args.checkpoint_root = f"{args.out}/checkpoints"
    if args.contexts is None:
        args.contexts = [2048, 4096, 8192] if args.experiment == "throughput" else [2048, 4096]
    if args.experiment == "run" and (args.attention is None or len(args.contexts) != 1):
        p.error("run trains one model: give --attention and exactly one --contexts value.")
    if args.experiment == "lr_sweep_summary":
        return args
    if args.corpus_dir is None or not (Path(args.corpus_dir) / PRETRAIN / "meta.json").exists():
        p.error(f"--corpus-dir {args.corpus_dir} has no '{PRETRAIN}/' corpus; point it at the "
                "tokenised corpora directory (e.g. results/data/corpus).")
    return args


def run_one(args) -> None:
    """One run of the main comparison (the unit a Snakemake job trains, on one or many GPUs)."""
    summary = train_run(
        results=args.out, corpus_dir=args.corpus_dir, size=args.size, context=args.contexts[0],
        attention=args.attention, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
        seed=args.seed, grad_clip=args.grad_clip if args.grad_clip > 0 else None,
        checkpoint_every=args.checkpoint_every, device=args.device,
        checkpoint_root=args.checkpoint_root, layout=args.layout, run=args.run_name)
    print(f"[run] {summary.get('run')}: {summary.get('steps_done')} steps, "
          f"final loss {summary.get('final_loss')}, diverged={summary.get('diverged')}")


def main(argv=None) -> None:
    args = parse_args(argv)
    t0 = time.time()
    experiments = {"run": run_one, "main": run_main, "throughput": run_throughput, "stress": run_stress,
                   "lr_sweep": run_lr_sweep, "lr_sweep_summary": run_lr_sweep_summary}
    experiments[args.experiment](args)
    print(json.dumps({"experiment": args.experiment, "wall_s": round(time.time() - t0, 1)}))


if __name__ == "__main__":
    main()
