"""Masked-LM validation loss: the token-weighted mean cross-entropy over a corpus, one value per
masking seed (same 15% / 80-10-10 masking as training, drawn per cell from ``[seed, cell index]``,
so the value does not depend on the batch size)."""

from __future__ import annotations

import numpy as np
import torch

from scsigmoid.train.batching import IGNORE, make_batch
from scsigmoid.train.trainer import mlm_loss_sum


@torch.no_grad()
def validation_loss(
    model,
    corpus,
    *,
    context: int,
    seeds,
    batch_size: int,
    device,
    max_cells: int | None = None,
    mask_prob: float = 0.15,
) -> list[float]:
    """Mean masked-gene loss of ``model`` on ``corpus`` (TokenCorpus) at ``context``, per seed.

    ``max_cells`` keeps the first cells of a fixed (seed-independent) random order; None = all."""
    device = torch.device(device)
    if len(corpus) == 0:
        raise ValueError(f"validation_loss: corpus {corpus.path} has no cells.")
    model.eval()
    cells = np.arange(len(corpus))
    if max_cells is not None and max_cells < len(cells):
        cells = np.sort(np.random.default_rng(0).permutation(len(cells))[:max_cells])
    lengths = np.minimum(corpus.lengths[cells], context)
    cells = cells[np.argsort(lengths, kind="stable")]
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    losses = []
    for seed in seeds:
        total, count = 0.0, 0
        for start in range(0, len(cells), batch_size):
            inputs, labels, lens = make_batch(
                corpus, cells[start : start + batch_size], context=context,
                vocab_size=corpus.vocab_size, seed=int(seed), step=0, mask_prob=mask_prob,
                per_cell_masks=True,
            )
            n = int((labels != IGNORE).sum())
            if n == 0:
                continue
            with autocast:
                loss_sum, _ = mlm_loss_sum(model, inputs.to(device), labels.to(device), lens.to(device))
            total += float(loss_sum)
            count += n
        losses.append(total / max(1, count))
    return losses
