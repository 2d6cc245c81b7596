"""Read real pre-activation attention scores out of a trained encoder (for the theory check)."""

from __future__ import annotations

import math

import numpy as np
import torch

from scsigmoid.model.attention import attention_bias
from scsigmoid.model.encoder import Encoder, pad_batch


@torch.no_grad()
def attention_scores(
    model: Encoder, cells: list[np.ndarray], *, n_rows: int = 8, n_keys: int = 256, seed: int = 0
) -> dict[str, np.ndarray]:
    """Scores ``q·kᵀ·scale + b`` (b = -log n for sigmoid, 0 for softmax) of a few query rows x keys
    per layer and head, for each of ``cells`` (token arrays, CLS first).

    Returns ``scores [cells, layers, heads, n_rows, n_keys]`` float32 (NaN where a cell has fewer
    valid tokens), the sampled ``rows`` / ``keys`` positions, ``seq_lens`` and ``bias`` per cell.
    Rows/keys are sampled uniformly from the valid positions of each cell."""
    device = next(model.parameters()).device
    cfg = model.cfg
    rng = np.random.default_rng(seed)
    tokens, lens = pad_batch(cells)
    tokens, lens = tokens.to(device), lens.to(device)
    n_cells = len(cells)
    scores = np.full((n_cells, cfg.n_layers, cfg.n_heads, n_rows, n_keys), np.nan, dtype=np.float32)
    rows = np.full((n_cells, n_rows), -1, dtype=np.int64)
    keys = np.full((n_cells, n_keys), -1, dtype=np.int64)
    for c, n in enumerate(lens.tolist()):
        r = np.sort(rng.choice(n, size=min(n_rows, n), replace=False))
        k = np.sort(rng.choice(n, size=min(n_keys, n), replace=False))
        rows[c, : len(r)], keys[c, : len(k)] = r, k
    bias = attention_bias(cfg.attention, lens)
    model.eval()
    x = model.tok_emb(tokens) + model.pos_emb(torch.arange(tokens.shape[1], device=device))[None]
    for layer, block in enumerate(model.blocks):
        q, k, _ = block.attn.qkv_heads(block.ln1(x))
        for c in range(n_cells):
            r = torch.as_tensor(rows[c][rows[c] >= 0], device=device)
            kk = torch.as_tensor(keys[c][keys[c] >= 0], device=device)
            s = torch.einsum("rhd,khd->hrk", q[c, r].float(), k[c, kk].float())
            s = s / math.sqrt(cfg.head_dim) + bias[c]
            scores[c, layer, :, : len(r), : len(kk)] = s.cpu().numpy()
        x, _ = block(x, lens)
    return {"scores": scores, "rows": rows, "keys": keys, "seq_lens": lens.cpu().numpy(),
            "bias": bias.cpu().numpy()}
