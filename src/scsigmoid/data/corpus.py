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


class CorpusWriter:
    """Write a corpus batch by batch (bounded memory): the layout of :func:`write_corpus`.

    Tokens and lengths stream to raw files in a hidden directory beside ``path``; ``close``
    turns them into ``tokens.npy``/``offsets.npy`` chunk by chunk and renames the directory into
    place, so a reader never sees a half-written corpus. ``obs_columns`` fixes the obs.tsv columns
    (a batch lacking one gets empty cells); it must include ``split``.
    """

    CHUNK = 1 << 24  # tokens copied per step when assembling tokens.npy

    def __init__(self, path: str | os.PathLike, vocab_size: int, obs_columns: Sequence[str]):
        self.path = Path(path)
        self.vocab_size = int(vocab_size)
        if "split" not in obs_columns:
            raise ValueError("CorpusWriter: obs_columns must include 'split'.")
        self.columns = list(obs_columns)
        self.dtype = np.dtype(np.uint16 if self.vocab_size <= np.iinfo(np.uint16).max + 1 else np.int32)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp")
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir(parents=True)
        self._tokens = open(self.tmp / "tokens.raw", "wb")  # noqa: SIM115 (closed in close())
        self._lengths = open(self.tmp / "lengths.raw", "wb")  # noqa: SIM115
        pd.DataFrame(columns=self.columns).to_csv(self.tmp / "obs.tsv", sep="\t", index=False)
        self.n_cells = 0
        self.n_tokens = 0

    def append(self, sequences: Sequence[np.ndarray], obs: pd.DataFrame) -> None:
        if len(sequences) != len(obs):
            raise ValueError(f"CorpusWriter: {len(sequences)} sequences but obs has {len(obs)} rows.")
        for seq in sequences:
            seq = np.asarray(seq)
            if seq.size and (seq.min() < 0 or seq.max() >= self.vocab_size):
                raise ValueError(f"CorpusWriter: token ids must lie in [0, {self.vocab_size}); got "
                                 f"[{seq.min()}, {seq.max()}].")
            self._tokens.write(seq.astype(self.dtype).tobytes())
            self.n_tokens += int(seq.size)
        lengths = np.array([len(s) for s in sequences], dtype=np.int64)
        self._lengths.write(lengths.tobytes())
        self.n_cells += len(sequences)
        rows = obs.reset_index(drop=True).reindex(columns=self.columns, fill_value="")
        rows.to_csv(self.tmp / "obs.tsv", sep="\t", index=False, header=False, mode="a")

    def close(self, meta: dict) -> Path:
        self._tokens.close()
        self._lengths.close()
        tokens = np.lib.format.open_memmap(self.tmp / "tokens.npy", mode="w+", dtype=self.dtype,
                                           shape=(self.n_tokens,))
        for start in range(0, self.n_tokens, self.CHUNK):
            count = min(self.CHUNK, self.n_tokens - start)
            tokens[start:start + count] = np.fromfile(self.tmp / "tokens.raw", dtype=self.dtype,
                                                      count=count, offset=start * self.dtype.itemsize)
        tokens.flush()
        del tokens
        lengths = np.memmap(self.tmp / "lengths.raw", dtype=np.int64, mode="r", shape=(self.n_cells,)) \
            if self.n_cells else np.zeros(0, dtype=np.int64)
        offsets = np.lib.format.open_memmap(self.tmp / "offsets.npy", mode="w+", dtype=np.int64,
                                            shape=(self.n_cells + 1,))
        offsets[0] = 0
        total = 0
        for start in range(0, self.n_cells, self.CHUNK):
            part = np.cumsum(lengths[start:start + self.CHUNK]) + total
            offsets[start + 1:start + 1 + len(part)] = part
            total = int(part[-1])
        offsets.flush()
        del offsets, lengths
        (self.tmp / "tokens.raw").unlink()
        (self.tmp / "lengths.raw").unlink()
        full_meta = {"n_cells": self.n_cells, "n_tokens": self.n_tokens, "dtype": self.dtype.name,
                     "special_tokens": SPECIAL_TOKENS, "vocab_size": self.vocab_size, **meta}
        (self.tmp / "meta.json").write_text(json.dumps(full_meta, indent=2, sort_keys=True, default=str) + "\n")
        if self.path.exists():
            shutil.rmtree(self.path)
        os.replace(self.tmp, self.path)
        return self.path
