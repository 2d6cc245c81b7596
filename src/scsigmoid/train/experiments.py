"""The training experiments. Snakemake runs them one output at a time (workflow/rules/train.smk);
on a GPU machine without Snakemake the same functions run from the same configuration file:

    python -m scsigmoid.train.experiments main   --config config/config.yaml --out R --corpus-dir D
    python -m scsigmoid.train.experiments stress --config config/config.yaml --out-csv R/train/stress_h200.csv --corpus-dir D
    python -m scsigmoid.train.experiments lr_sweep --config config/config.yaml --out R --out-csv ... --corpus-dir D

Every setting comes from the validated configuration (``config/config.yaml`` + ``--configfile``
overlays, :mod:`scsigmoid.config`); the command line only names files and which run. (Throughput:
:mod:`scsigmoid.train.throughput`.)

``main``: the paired runs ``{size}_{context}_{attention}_s{seed}`` (``train.contexts`` x
softmax/sigmoid x ``train.seeds``), each trained until its val loss stops improving (early
stopping, ``train.early_stop``) or its time box (``train.max_time_s``), then its validation loss
on the pretraining val split ('pretrain_val') and every eval corpus, and, for runs at the
evaluation context, the cell embeddings and a sample of attention scores. ``--parallel N`` trains N
runs at once (one process each: small models leave a GPU mostly idle).

Layout under ``R``: train/runs/{run}/{settings.json,log.csv,val_curve.csv,summary.json,val_loss.csv,
attention_scores.npz}, embed/{run}/{dataset}.npz; checkpoints under ``--checkpoint-root``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from scsigmoid import ATTENTIONS
from scsigmoid.config import load_config
from scsigmoid.data.corpus import TokenCorpus
from scsigmoid.io import atomic_path, write_csv, write_json
from scsigmoid.model.encoder import embed
from scsigmoid.model.probe import attention_scores
from scsigmoid.provenance import provenance
from scsigmoid.runs import main_runs, run_name
from scsigmoid.train.sweep import summarise_lr_sweep
from scsigmoid.train.trainer import TrainConfig, load_checkpoint, resolve_device, train
from scsigmoid.train.validation import validation_loss

PRETRAIN = "pretrain"  # corpus-dir sub-directory of the pretraining corpus


def train_config(train_section: dict, *, corpus: str, size: str, context: int, attention: str,
                 seed: int, out_dir: str, checkpoint_dir: str, device: str = "auto") -> TrainConfig:
    """The :class:`TrainConfig` of one main run, from the validated ``train`` section."""
    stop = train_section["early_stop"]
    return TrainConfig(
        corpus=corpus, out_dir=out_dir, checkpoint_dir=checkpoint_dir, size=size, context=context,
        attention=attention, steps=train_section["steps"], batch_size=train_section["batch_size"],
        batch_tokens=train_section["batch_tokens"], lr=train_section["lr"], warmup_steps=train_section["warmup_steps"], seed=seed,
        grad_clip=train_section["grad_clip"], checkpoint_every=train_section["checkpoint_every"],
        layout=train_section["layout"], max_time_s=train_section["max_time_s"],
        oom_retries=train_section["oom_retries"], loss_chunk=train_section["loss_chunk"],
        val_every=stop["val_every"], patience=stop["patience"], min_delta=stop["min_delta"],
        val_cells=stop["val_cells"], device=device,
    )


def _corpus(corpus_dir, name: str) -> TokenCorpus:
    return TokenCorpus(Path(corpus_dir) / name)


def eval_datasets(corpus_dir) -> list[str]:
    """Every corpus under ``corpus_dir`` except the pretraining one (sorted)."""
    return sorted(p.name for p in Path(corpus_dir).iterdir()
                  if p.is_dir() and p.name != PRETRAIN and (p / "meta.json").exists())


# ---------------------------------------------------------------------------------------------
# main comparison, one output at a time
# ---------------------------------------------------------------------------------------------


def train_run(config: dict, *, run_dir: str, checkpoint_dir: str, corpus_dir: str, size: str,
              context: int, attention: str, seed: int, device: str = "auto") -> dict:
    """Train (or resume) one main run; ``{run_dir}/settings.json`` records the configuration."""
    write_json({"train": config["train"], "evaluate": config["evaluate"]}, Path(run_dir) / "settings.json")
    return train(train_config(config["train"], corpus=str(Path(corpus_dir) / PRETRAIN), size=size,
                              context=context, attention=attention, seed=seed, out_dir=run_dir,
                              checkpoint_dir=checkpoint_dir, device=device))


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


def keep_views(paths, views) -> None:
    """Rewrite embedding files with their cell ids and ``views`` only, values unchanged (files
    written by a commit that stored more views than config evaluate.views names)."""
    for path in paths:
        with np.load(path, allow_pickle=True) as npz:
            arrays = {k: npz[k] for k in ("cell_id", *views)}
        _save_npz(path, **arrays)


def _eval_corpus(model, checkpoint, corpus_dir, name: str) -> TokenCorpus:
    """A dataset's corpus, refused when tokenised with another vocabulary than the model's."""
    corpus = _corpus(corpus_dir, name)
    if corpus.vocab_size != model.cfg.vocab_size:
        raise ValueError(
            f"{checkpoint}: the model's vocabulary has {model.cfg.vocab_size} tokens but corpus "
            f"{Path(corpus_dir) / name} was tokenised with {corpus.vocab_size}; tokenise with the "
            "vocabulary the run was trained with (config data.vocab, e.g. reference/vocab_bundle.tsv.gz "
            "for the committed small runs).")
    return corpus


def embed_run(*, checkpoint: str, corpus_dir: str, datasets: list[str], context: int,
              out_dir: str, views, batch_size: int = 16, device: str = "auto") -> list[Path]:
    """``{out_dir}/{dataset}.npz`` with the ``views`` (of mean, cls; float16, config
    evaluate.views) and cell_id arrays. A corpus tokenised with another vocabulary than the
    checkpoint's is refused."""
    dev = resolve_device(device)
    model = load_checkpoint(checkpoint, dev)
    paths = []
    for name in datasets:
        corpus = _eval_corpus(model, checkpoint, corpus_dir, name)
        emb = embed(model, corpus, context=context, batch_size=batch_size, device=dev)
        path = Path(out_dir) / f"{name}.npz"
        _save_npz(path, **{v: emb[v].astype(np.float16) for v in views},
                  cell_id=corpus.obs["cell_id"].to_numpy(dtype=str))
        paths.append(path)
    return paths


#: Cosine similarity (per cell, mean view) under which a checkpoint is not the run that made a
#: committed embedding. Measured (session 12, wu2020_tcells_scirpy, 200 cells): the bf16 bundle of
#: small_4096_{softmax,sigmoid}_s0 embedded on a CPU against the H200 run's own embeddings, cosine
#: >= 0.999995; another seed of the same arm, the other arm, or the superseded run of the same
#: seed, at most 0.43.
SAME_RUN_MIN_COSINE = 0.999


def check_checkpoint(*, checkpoint: str, corpus_dir: str, dataset: str, reference_npz: str, context: int,
                     n_cells: int = 32, batch_size: int = 16, device: str = "auto") -> dict:
    """Whether ``checkpoint`` is the run behind ``reference_npz`` (a committed embedding of
    ``dataset``): its first ``n_cells`` cells embedded again, cosine per cell against the committed
    mean view. Returns the statistics; raises ValueError below :data:`SAME_RUN_MIN_COSINE`, or
    when the corpus is not the one the reference was made of (other cells)."""
    dev = resolve_device(device)
    model = load_checkpoint(checkpoint, dev)
    corpus = _eval_corpus(model, checkpoint, corpus_dir, dataset)
    with np.load(reference_npz, allow_pickle=False) as npz:
        ref_ids, ref = npz["cell_id"].astype(str), npz["mean"].astype(np.float32)
    ids = corpus.obs["cell_id"].to_numpy(dtype=str)
    if len(ids) != len(ref_ids) or (ids != ref_ids).any():
        raise ValueError(f"{Path(corpus_dir) / dataset} holds other cells ({len(ids)}) than {reference_npz} "
                         f"({len(ref_ids)}): the corpus was tokenised from another file or sheet row than the "
                         "committed embeddings; tokenise the dataset the sheet names (data_tokenise).")
    n = min(n_cells, len(ids))
    got = embed(model, corpus.subset(np.arange(n)), context=context, batch_size=batch_size, device=dev)["mean"]
    want = ref[:n]
    cos = (got * want).sum(1) / np.maximum(np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1), 1e-12)
    stats = {"checkpoint": str(checkpoint), "reference": str(reference_npz), "cells": int(n),
             "cosine_min": float(cos.min()), "cosine_median": float(np.median(cos)),
             "threshold": SAME_RUN_MIN_COSINE}
    if stats["cosine_min"] < SAME_RUN_MIN_COSINE:
        raise ValueError(
            f"{checkpoint} is not the run whose embeddings are committed in {reference_npz}: its embeddings of "
            f"the first {n} cells of {dataset} reach cosine {stats['cosine_min']:.3f} (min) / "
            f"{stats['cosine_median']:.3f} (median) against them, where the same run's bf16 weights give "
            f">= {SAME_RUN_MIN_COSINE} (another seed or a retrained run). Use the checkpoints of the runs "
            "committed with this version (branch `checkpoints`, whose README names their commit), or "
            "retrain and re-embed every dataset.")
    return stats


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


def main_run(config: dict, *, results: str, corpus_dir: str, checkpoint_root: str, size: str,
             context: int, attention: str, seed: int, device: str = "auto") -> dict:
    """One run end to end: train, validation losses, and at the evaluation context embeddings and
    attention scores (what the DAG's train_run, train_validate, train_embed, train_scores do)."""
    run = run_name(size, context, attention, seed)
    run_dir, ckpt = f"{results}/train/runs/{run}", f"{checkpoint_root}/{run}/last.pt"
    t0 = time.time()
    summary = train_run(config, run_dir=run_dir, checkpoint_dir=f"{checkpoint_root}/{run}",
                        corpus_dir=corpus_dir, size=size, context=context, attention=attention,
                        seed=seed, device=device)
    datasets = eval_datasets(corpus_dir)
    evaluate = config["evaluate"]
    validate_run(checkpoint=ckpt, corpus_dir=corpus_dir, datasets=datasets, context=context,
                 seeds=evaluate["masking_seeds"], out_csv=f"{run_dir}/val_loss.csv",
                 batch_size=config["train"]["batch_size"], max_cells=config["train"]["val_max_cells"],
                 device=device)
    if context == evaluate["context"]:
        embed_run(checkpoint=ckpt, corpus_dir=corpus_dir, datasets=datasets, context=context,
                  out_dir=f"{results}/embed/{run}", views=config["evaluate"]["views"], device=device)
        scores_run(checkpoint=ckpt, corpus_dir=corpus_dir, context=context,
                   out_npz=f"{run_dir}/attention_scores.npz", device=device)
    print(f"[main] {run}: {summary['steps_done']} steps ({summary['stop_reason']}, best step "
          f"{summary['best_step']}), final loss {summary['final_loss']:.4f}, "
          f"{time.time() - t0:.0f} s", flush=True)
    return summary


def run_main(config: dict, *, results: str, corpus_dir: str, checkpoint_root: str,
             parallel: int = 1, device: str = "auto", config_args=(), contexts=None) -> None:
    """Every main run (only those at ``contexts`` when given: a grid split over calls); with
    ``parallel`` > 1 that many at once, each in its own process."""
    runs = [r for r in main_runs(config) if contexts is None or r["context"] in contexts]
    if not runs:
        raise ValueError(f"no main run at contexts {contexts}; train.contexts is {config['train']['contexts']}.")
    if parallel <= 1:
        for r in runs:
            main_run(config, results=results, corpus_dir=corpus_dir, checkpoint_root=checkpoint_root,
                     device=device, **r)
        return

    def one(r):
        cmd = [sys.executable, "-m", "scsigmoid.train.experiments", "one", *config_args,
               "--out", results, "--corpus-dir", corpus_dir, "--checkpoint-root", checkpoint_root,
               "--device", device, *(f"--{k}={v}" for k, v in r.items())]
        log = Path(results) / "logs" / f"{run_name(**r)}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as fh:
            return subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT).returncode

    with ThreadPoolExecutor(parallel) as pool:
        codes = list(pool.map(one, runs))
    failed = [run_name(**r) for r, c in zip(runs, codes, strict=True) if c]
    if failed:
        raise RuntimeError(f"runs failed: {failed}; see {results}/logs/<run>.log")


# ---------------------------------------------------------------------------------------------
# stress test and learning-rate sweep
# ---------------------------------------------------------------------------------------------


def run_stress(config: dict, *, out_csv: str, work_dir: str, corpus_dir: str, device: str = "auto") -> None:
    """160M / 8K / no clipping, time-boxed per arm (``train.stress``); logs of both arms in one CSV."""
    st = config["train"]["stress"]
    logs = []
    for attention in ATTENTIONS:
        cfg = TrainConfig(
            corpus=str(Path(corpus_dir) / PRETRAIN), out_dir=f"{work_dir}/{attention}",
            checkpoint_dir=f"{work_dir}/checkpoints_{attention}", size=st["size"],
            context=st["context"], attention=attention, steps=st["max_steps"],
            batch_size=st["batch_size"], lr=st["lr"], schedule="constant", warmup_steps=st["warmup"],
            grad_clip=None, seed=config["train"]["seeds"][0], max_time_s=st["seconds"],
            device=device, resume=False, save_checkpoints=False,
        )
        summary = train(cfg)
        print(f"[stress] {attention}: {summary['steps_done']} steps, diverged={summary['diverged']}",
              flush=True)
        logs.append(pd.read_csv(f"{cfg.out_dir}/log.csv").assign(
            attention=attention, size=cfg.size, context=cfg.context, peak_lr=cfg.lr,
            diverged_step=summary["diverged_step"]))
    write_csv(pd.concat(logs, ignore_index=True), out_csv)


def run_lr_sweep(config: dict, *, sweep_dir: str, out_csv: str, corpus_dir: str,
                 device: str = "auto") -> None:
    """Largest stable learning rate of each attention (the stability frontier). The summary CSV is
    rewritten from the runs' logs after every run, so a sweep cut short keeps what it finished."""
    sw = config["train"]["lr_sweep"]
    for attention in ATTENTIONS:
        for lr in sw["lrs"]:
            cfg = TrainConfig(
                corpus=str(Path(corpus_dir) / PRETRAIN), out_dir=f"{sweep_dir}/{attention}_{lr:g}",
                checkpoint_dir=f"{sweep_dir}/checkpoints", size=sw["size"], context=sw["context"],
                attention=attention, steps=sw["steps"], batch_size=sw["batch_size"], lr=lr,
                schedule="constant", warmup_steps=max(1, sw["steps"] // 10), grad_clip=None,
                seed=config["train"]["seeds"][0], device=device, resume=False,
                save_checkpoints=False,
            )
            s = train(cfg)
            print(f"[lr_sweep] {attention} lr {lr:g}: {s['steps_done']} steps, diverged={s['diverged']}",
                  flush=True)
            write_csv(summarise_lr_sweep(Path(sweep_dir)), out_csv)


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m scsigmoid.train.experiments", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment", choices=["main", "one", "train", "stress", "lr_sweep",
                                          "lr_sweep_summary"],
                   help="one: a single main run end to end (--size --context --attention --seed); "
                        "train: its training only (what the train_run rule launches)")
    p.add_argument("--config", default="config/config.yaml", help="the configuration file")
    p.add_argument("--settings", help="a JSON file of the already validated configuration (the "
                                      "DAG's rules pass theirs this way); replaces --config")
    p.add_argument("--configfile", action="append", default=[], help="overlay (as in snakemake)")
    p.add_argument("--out", help="results root R (main, one, lr_sweep: outputs under R/train, R/embed)")
    p.add_argument("--out-csv", help="stress, lr_sweep, lr_sweep_summary: the table to write")
    p.add_argument("--corpus-dir", help="directory holding pretrain/ and the eval corpora")
    p.add_argument("--checkpoint-root", help="main, one: where checkpoints go (default R/checkpoints)")
    p.add_argument("--run-dir", help="train: the run's output folder (log.csv, summary.json, ...)")
    p.add_argument("--checkpoint-dir", help="train: the run's checkpoint folder")
    p.add_argument("--device", default="auto")
    p.add_argument("--parallel", type=int, default=1, help="main: runs trained at once")
    p.add_argument("--contexts", type=int, nargs="+", default=None, help="main: only the runs at these contexts")
    for key in ("size", "context", "attention", "seed"):
        p.add_argument(f"--{key}", help="one: which run")
    args = p.parse_args(argv)
    run = ["corpus_dir", "size", "context", "attention", "seed"]
    needs = {"main": ["out", "corpus_dir"], "one": ["out", *run],
             "train": ["run_dir", "checkpoint_dir", *run],
             "stress": ["out_csv", "corpus_dir"], "lr_sweep": ["out", "out_csv", "corpus_dir"],
             "lr_sweep_summary": ["out", "out_csv"]}[args.experiment]
    missing = [f"--{k.replace('_', '-')}" for k in needs if getattr(args, k) is None]
    if missing:
        p.error(f"{args.experiment} needs {' '.join(missing)}.")
    if args.corpus_dir is not None and not (Path(args.corpus_dir) / PRETRAIN / "meta.json").exists():
        p.error(f"--corpus-dir {args.corpus_dir} has no '{PRETRAIN}/' corpus; point it at the "
                "tokenised corpora directory (e.g. results/data/corpus).")
    if args.checkpoint_root is None and args.out is not None:
        args.checkpoint_root = f"{args.out}/checkpoints"
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    t0 = time.time()
    if args.experiment == "lr_sweep_summary":
        write_csv(summarise_lr_sweep(Path(args.out) / "train" / "lr_sweep"), args.out_csv)
        return
    config = (json.loads(Path(args.settings).read_text()) if args.settings
              else load_config(args.config, args.configfile))
    common = {"corpus_dir": args.corpus_dir, "device": args.device}
    if args.experiment == "main":
        config_args = ["--config", args.config, *(f"--configfile={f}" for f in args.configfile)]
        run_main(config, results=args.out, checkpoint_root=args.checkpoint_root,
                 parallel=args.parallel, config_args=config_args, contexts=args.contexts, **common)
    elif args.experiment in ("one", "train"):
        run = {"size": args.size, "context": int(args.context), "attention": args.attention,
               "seed": int(args.seed)}
        if args.experiment == "one":
            main_run(config, results=args.out, checkpoint_root=args.checkpoint_root, **run, **common)
        else:
            s = train_run(config, run_dir=args.run_dir, checkpoint_dir=args.checkpoint_dir, **run,
                          **common)
            print(f"[train] {s.get('run')}: {s.get('steps_done')} steps ({s.get('stop_reason')}), "
                  f"final loss {s.get('final_loss')}, diverged={s.get('diverged')}")
    elif args.experiment == "stress":
        run_stress(config, out_csv=args.out_csv, work_dir=str(Path(args.out_csv).with_suffix("")),
                   **common)
    else:
        run_lr_sweep(config, sweep_dir=f"{args.out}/train/lr_sweep", out_csv=args.out_csv, **common)
    print(json.dumps({"experiment": args.experiment, "wall_s": round(time.time() - t0, 1)}))


if __name__ == "__main__":
    main()
