"""The architecture and hyperparameter tables, built from the code's own configs (no GPU)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from scsigmoid.io import markdown_table, write_csv, write_text
from scsigmoid.model.encoder import size_table
from scsigmoid.train.sweep import FINAL_FRACTION, STABLE_TOLERANCE_NATS
from scsigmoid.train.trainer import TrainConfig


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, int) and abs(v) >= 1_000_000:
        return f"{v / 1e6:.1f}M"
    return str(v)


def architecture_table(vocab_size: int, max_len: int = 8192) -> pd.DataFrame:
    shared = "pre-LN encoder, learned rank positions, GELU FFN x4, tied MLM decoder, no dropout"
    return size_table(vocab_size, max_len).assign(shared_spec=shared)


def hyperparameter_table(config: dict) -> pd.DataFrame:
    """Settings of every training experiment, from the validated configuration (``train`` section;
    code constants where the config has no key: optimizer, masking, schedule floor)."""
    t = config["train"] if "train" in config else config
    d = {f.name: f.default for f in dataclasses.fields(TrainConfig)
         if f.default is not dataclasses.MISSING}
    steps = int(t["steps"])
    warmup = t.get("warmup_steps") or max(1, steps // 20)
    stop, stress, sweep, tp = t["early_stop"], t["stress"], t["lr_sweep"], t["throughput"]
    rows = [
        ("main", "model size", t["size"]),
        ("main", "contexts", ", ".join(str(c) for c in t["contexts"])),
        ("main", "training seeds (init and data order)", ", ".join(str(s) for s in t["seeds"])),
        ("main", "steps (most)", steps),
        ("main", "stopping", (f"val loss (first {stop['val_cells']} val cells) every {stop['val_every']} "
                              f"steps; stop after {stop['patience']} checks without improvement; "
                              "best weights kept") if stop["val_every"] else "none (all steps)"),
        ("main", "time box per run (training s)", t["max_time_s"] if t["max_time_s"] else "none"),
        ("main", "global batch", f"{t['batch_tokens']:,} tokens (cells of similar length)"
                                 if t.get("batch_tokens") else f"{t['batch_size']} cells"),
        ("main", "peak learning rate", t["lr"]),
        ("main", "schedule", f"linear warm-up {warmup} steps, cosine to {d['min_lr_ratio']:g} x peak "
                             f"at step {steps}"),
        ("main", "optimizer", f"AdamW (fused on GPU), betas {d['betas']}, eps 1e-8, weight decay "
                              f"{d['weight_decay']:g} (matrices only)"),
        ("main", "gradient clipping (global norm)", t["grad_clip"] if t["grad_clip"] else "none"),
        ("main", "masking", f"{d['mask_prob']:.0%} of gene tokens, 80/10/10 mask/random/keep; "
                            "never CLS or padding"),
        ("main", "precision", "bf16 autocast on GPU (fp32 master weights), fp32 on CPU"),
        ("main", "batching", "length-bucketed; " + (
            "packed varlen (no padding)" if t["layout"] == "packed"
            else "padded to the longest cell of the batch")),
        ("main", "initialisation", "N(0, 0.02) per parameter from (seed, parameter name): independent "
                                   "of context and attention"),
        ("main", "sigmoid bias", "b = -log(valid tokens of the cell)"),
        ("throughput", "tokens per step (at least)", tp["tokens_per_step"]),
        ("throughput", "warm-up / timed steps / rounds", f"{tp['warmup_steps']} / {tp['timed_steps']} / "
                                                         f"{tp['repeats']} (arms alternated)"),
        ("throughput", "arms", ", ".join(tp["arms"])),
        ("stress", "model / context", f"{stress['size']} / {stress['context']}"),
        ("stress", "learning rate", f"{stress['lr']:g} constant after {stress['warmup']} warm-up steps"),
        ("stress", "gradient clipping", "none"),
        ("stress", "batch / time per arm", f"{stress['batch_size']} cells / {stress['seconds']} s"),
        ("lr sweep", "model / context / steps", f"{sweep['size']} / {sweep['context']} / {sweep['steps']}"),
        ("lr sweep", "learning rates", ", ".join(f"{x:g}" for x in sweep["lrs"])),
        ("lr sweep", "stable", f"not diverged and mean loss of the last {FINAL_FRACTION:.0%} of steps <= "
                               f"the lowest-LR run's + {STABLE_TOLERANCE_NATS:g} nat (same batches); no clipping"),
    ]
    return pd.DataFrame(rows, columns=["experiment", "setting", "value"])


def write_table(df: pd.DataFrame, csv_path, md_path) -> None:
    write_csv(df, csv_path)
    shown = df.astype(object).map(_fmt)
    write_text(markdown_table(shown), Path(md_path))
