"""On-disk token corpus: the contract between tokenisation, training and evaluation.

A corpus is a directory holding

- ``tokens.npy``   flat token ids of every cell, CLS first, no padding (uint16 or int32),
- ``offsets.npy``  int64 ``[n_cells + 1]``: cell ``i`` is ``tokens[offsets[i]:offsets[i+1]]``,
- ``obs.tsv``      one row per cell (``cell_id``, ``split`` and any label/batch columns),
- ``meta.json``    vocabulary size, special-token ids, context length, source dataset(s).

Both arrays are memory-mapped on read, so a trainer streams cells without loading the corpus.
Special tokens have fixed ids shared by every corpus and vocabulary.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

PAD_ID, CLS_ID, MASK_ID, UNK_ID = 0, 1, 2, 3
SPECIAL_TOKENS = {"<pad>": PAD_ID, "<cls>": CLS_ID, "<mask>": MASK_ID, "<unk>": UNK_ID}
N_SPECIAL = len(SPECIAL_TOKENS)

_FILES = ("tokens.npy", "offsets.npy", "obs.tsv", "meta.json")


def write_corpus(
    path: str | os.PathLike,
    sequences: Iterable[np.ndarray],
    obs: pd.DataFrame,
    meta: dict,
) -> Path:
    """Write ``sequences`` (one int array per cell, CLS first) as a corpus directory.

    The directory is assembled beside ``path`` and renamed into place, so a reader never sees a
    half-written corpus. ``obs`` needs one row per sequence; ``meta`` must name ``vocab_size``.
    """
    path = Path(path)
    if "vocab_size" not in meta:
        raise ValueError("write_corpus: meta must contain 'vocab_size' (size of the vocabulary).")
    seqs = [np.asarray(s) for s in sequences]
    if len(seqs) != len(obs):
        raise ValueError(
            f"write_corpus: {len(seqs)} sequences but obs has {len(obs)} rows; give one obs row per cell."
        )
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    dtype = np.uint16 if int(meta["vocab_size"]) <= np.iinfo(np.uint16).max + 1 else np.int32
    tokens = np.concatenate(seqs).astype(dtype) if seqs else np.zeros(0, dtype=dtype)
    if tokens.size and (tokens.min() < 0 or tokens.max() >= int(meta["vocab_size"])):
        raise ValueError(
            f"write_corpus: token ids must lie in [0, {meta['vocab_size']}); got "
            f"[{tokens.min()}, {tokens.max()}]."
        )
    obs = obs.reset_index(drop=True)
    if "split" not in obs:
        obs = obs.assign(split="all")
    full_meta = {
        "n_cells": len(seqs),
        "n_tokens": int(tokens.size),
        "dtype": np.dtype(dtype).name,
        "special_tokens": SPECIAL_TOKENS,
        **meta,
    }
    tmp = path.with_name(f".{path.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    np.save(tmp / "tokens.npy", tokens)
    np.save(tmp / "offsets.npy", offsets)
    obs.to_csv(tmp / "obs.tsv", sep="\t", index=False)
    (tmp / "meta.json").write_text(json.dumps(full_meta, indent=2, sort_keys=True, default=str) + "\n")
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp, path)
    return path


class TokenCorpus:
    """Read-only, memory-mapped view of a corpus directory written by :func:`write_corpus`."""

    def __init__(self, path: str | os.PathLike, indices: Sequence[int] | np.ndarray | None = None):
        self.path = Path(path)
        missing = [f for f in _FILES if not (self.path / f).exists()]
        if missing:
            raise FileNotFoundError(
                f"{self.path} is not a token corpus (missing {', '.join(missing)}); "
                "build it with the workflow's tokenise rule."
            )
        self.meta: dict = json.loads((self.path / "meta.json").read_text())
        self._tokens = np.load(self.path / "tokens.npy", mmap_mode="r")
        self._offsets = np.load(self.path / "offsets.npy", mmap_mode="r")
        obs = pd.read_csv(self.path / "obs.tsv", sep="\t", dtype={"cell_id": str}, keep_default_na=False)
        n = len(self._offsets) - 1
        self.indices = np.arange(n) if indices is None else np.asarray(indices, dtype=np.int64)
        self.obs = obs.iloc[self.indices].reset_index(drop=True)

    @property
    def vocab_size(self) -> int:
        return int(self.meta["vocab_size"])

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per cell (CLS included), before any truncation to a context."""
        off = np.asarray(self._offsets)
        return (off[1:] - off[:-1])[self.indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> np.ndarray:
        j = self.indices[i]
        return np.asarray(self._tokens[self._offsets[j] : self._offsets[j + 1]], dtype=np.int64)

    def cell(self, i: int, context: int | None = None) -> np.ndarray:
        """Tokens of cell ``i`` truncated to ``context`` (CLS kept first)."""
        seq = self[i]
        return seq if context is None else seq[:context]

    def subset(self, indices: Sequence[int] | np.ndarray) -> TokenCorpus:
        """A view on some cells (positions relative to this view)."""
        return TokenCorpus(self.path, self.indices[np.asarray(indices, dtype=np.int64)])

    def split(self, name: str) -> TokenCorpus:
        """The cells whose ``obs['split']`` equals ``name`` (e.g. 'train', 'val')."""
        if "split" not in self.obs:
            raise KeyError(f"{self.path}: obs.tsv has no 'split' column.")
        pos = np.flatnonzero(self.obs["split"].to_numpy() == name)
        return self.subset(pos)
