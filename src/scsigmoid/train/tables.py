"""The architecture and hyperparameter tables, built from the code's own configs (no GPU)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from scsigmoid.io import write_csv, write_text
from scsigmoid.model.encoder import size_table
from scsigmoid.train.sweep import FINAL_FRACTION, STABLE_TOLERANCE_NATS
from scsigmoid.train.trainer import TrainConfig


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (no extra dependency)."""
    cells = [[str(c) for c in df.columns]] + [[_fmt(v) for v in row] for row in df.itertuples(index=False)]
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(r) + " |" for r in cells[1:]]
    return "\n".join(lines) + "\n"


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, int) and abs(v) >= 1_000_000:
        return f"{v / 1e6:.1f}M"
    return str(v)


def architecture_table(vocab_size: int, max_len: int = 8192) -> pd.DataFrame:
    shared = "pre-LN encoder, learned rank positions, GELU FFN x4, tied MLM decoder, no dropout"
    return size_table(vocab_size, max_len).assign(shared_spec=shared)


def hyperparameter_table(train_cfg: dict) -> pd.DataFrame:
    """``train_cfg``: the workflow config's ``train`` section (missing keys take code defaults)."""
    d = {f.name: f.default for f in dataclasses.fields(TrainConfig)
         if f.default is not dataclasses.MISSING}
    steps = int(train_cfg.get("steps", 1000))
    stress = train_cfg.get("stress", {})
    sweep = train_cfg.get("lr_sweep", {})
    rows = [
        ("main", "model size", train_cfg.get("size", "small")),
        ("main", "contexts", ", ".join(str(c) for c in train_cfg.get("contexts", []))),
        ("main", "steps", steps),
        ("main", "global batch (cells)", train_cfg.get("batch_size", d["batch_size"])),
        ("main", "peak learning rate", train_cfg.get("lr", d["lr"])),
        ("main", "schedule", f"linear warm-up {max(1, steps // 20)} steps (5%), cosine to "
                             f"{d['min_lr_ratio']:g} x peak"),
        ("main", "optimizer", f"AdamW, betas {d['betas']}, eps 1e-8, weight decay "
                              f"{d['weight_decay']:g} (matrices only)"),
        ("main", "gradient clipping (global norm)", d["grad_clip"]),
        ("main", "masking", f"{d['mask_prob']:.0%} of gene tokens, 80/10/10 mask/random/keep; "
                            "never CLS or padding"),
        ("main", "precision", "bf16 autocast on GPU (fp32 master weights), fp32 on CPU"),
        ("main", "batching", "length-bucketed; " + (
            "packed varlen (no padding)" if train_cfg.get("layout") == "packed"
            else "padded to the longest cell of the batch")),
        ("main", "sigmoid bias", "b = -log(valid tokens of the cell)"),
        ("main", "seed", train_cfg.get("seed", d["seed"])),
        ("stress", "model / context", f"{stress.get('size', '160M')} / {stress.get('context', 8192)}"),
        ("stress", "learning rate", f"{stress.get('lr', 2e-3):g} constant after "
                                    f"{stress.get('warmup', 100)} warm-up steps"),
        ("stress", "gradient clipping", "none"),
        ("stress", "batch / time per arm", f"{stress.get('batch_size', 8)} cells / "
                                           f"{stress.get('seconds', 100)} s"),
        ("lr sweep", "model / context / steps", f"{sweep.get('size', 'small')} / "
                                                f"{sweep.get('context', 2048)} / {sweep.get('steps', 300)}"),
        ("lr sweep", "learning rates", ", ".join(f"{x:g}" for x in
                                                 sweep.get("lrs", [3e-4, 1e-3, 3e-3, 1e-2, 3e-2]))),
        ("lr sweep", "stable", f"not diverged and mean loss of the last {FINAL_FRACTION:.0%} of steps <= "
                               f"the lowest-LR run's + {STABLE_TOLERANCE_NATS:g} nat (same batches); no clipping"),
    ]
    return pd.DataFrame(rows, columns=["experiment", "setting", "value"])


def write_table(df: pd.DataFrame, csv_path, md_path) -> None:
    write_csv(df, csv_path)
    write_text(to_markdown(df), Path(md_path))
