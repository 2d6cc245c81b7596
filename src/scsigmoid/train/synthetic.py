"""A small learnable synthetic corpus (for tests and dry runs without the data stage).

Each cell belongs to one of ``n_types`` programs; a program is a fixed ranking of genes, and a
cell lists a noisy version of its program's ranking (CLS first, no repeated genes)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scsigmoid.data.corpus import CLS_ID, N_SPECIAL, write_corpus


def write_synthetic_corpus(
    path, *, n_cells: int = 256, vocab_size: int = 200, min_len: int = 8, max_len: int = 96,
    n_types: int = 3, val_fraction: float = 0.25, seed: int = 0,
):
    rng = np.random.default_rng(seed)
    n_genes = vocab_size - N_SPECIAL
    programs = [rng.permutation(n_genes) + N_SPECIAL for _ in range(n_types)]
    seqs, types = [], []
    for _ in range(n_cells):
        t = int(rng.integers(n_types))
        length = int(rng.integers(min_len, max_len + 1)) - 1
        noisy_rank = np.arange(n_genes) + rng.normal(0, 3.0, n_genes)
        genes = programs[t][np.argsort(noisy_rank)][:length]
        seqs.append(np.concatenate([[CLS_ID], genes]))
        types.append(f"type{t}")
    split = np.where(rng.random(n_cells) < val_fraction, "val", "train")
    obs = pd.DataFrame({"cell_id": [f"c{i}" for i in range(n_cells)], "split": split,
                        "cell_type": types, "batch": "b0"})
    meta = {"vocab_size": vocab_size, "context": max_len, "source": "synthetic"}
    return write_corpus(path, seqs, obs, meta)
