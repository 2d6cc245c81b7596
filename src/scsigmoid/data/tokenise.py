"""TEDDY-G tokenisation: counts -> per-cell gene rankings (token ids, CLS first).

Per cell: values back on a linear scale (raw integer counts as they are; log-normalised cells,
detected per cell by non-integer values, through ``expm1``), normalised to 10,000, divided by each
gene's median non-zero normalised value over the pretraining corpus, expressed genes ranked by
that ratio in descending order (ties: ascending token id), CLS prepended. Sequences keep their full
length (an optional ``max_len`` caps them); truncation to a model's context happens at load time.

Genes never seen in pretraining have no median. Policy ``unseen="drop"`` (default) leaves them out
of every sequence, since their embeddings are never trained; ``unseen="median1"`` keeps them with
median 1.
"""

from __future__ import annotations

import logging
import os
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from tqdm.auto import tqdm

from scsigmoid.data.corpus import CLS_ID
from scsigmoid.data.genes import GeneMaps, map_genes, unmapped_fraction
from scsigmoid.io import atomic_path

log = logging.getLogger(__name__)
TARGET_SUM = 1e4
UNSEEN_POLICIES = ("drop", "median1")


def _as_csr(X, where: str) -> sp.csr_matrix:
    if not sp.issparse(X):
        X = np.asarray(X)
        if not np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_:
            raise TypeError(f"{where}X has non-numeric dtype {X.dtype}; expected counts or "
                            "log-normalised values (numbers).")
        X = sp.csr_matrix(X)
    X = sp.csr_matrix(X)
    if not np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_:
        raise TypeError(f"{where}X has non-numeric dtype {X.dtype}; expected numbers.")
    X = X.astype(np.float64)
    if X.data.size and not np.all(np.isfinite(X.data)):
        raise ValueError(f"{where}X holds NaN or infinite values; clean the source file.")
    if X.data.size and X.data.min() < 0:
        raise ValueError(f"{where}X holds negative values (min {X.data.min():.3g}); expected raw "
                         "counts or log1p-normalised values, not scaled/centred data.")
    X.eliminate_zeros()
    return X


def detect_log_cells(X: sp.csr_matrix) -> np.ndarray:
    """Boolean per cell: True when the cell's non-zero values are not all integers (log scale)."""
    frac = np.abs(X.data - np.round(X.data)) > 1e-6
    row = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    return np.bincount(row, weights=frac, minlength=X.shape[0]) > 0


def to_vocab_matrix(adata, vocab: pd.DataFrame, maps: GeneMaps, species: str, *,
                    max_unmapped_fraction: float = 1.0, where: str = ""):
    """Counts on the linear scale as a cells x vocab CSR (duplicate symbols summed).

    Returns (matrix, info) where info holds the mapping statistics and the per-cell log flags.
    """
    mapped = map_genes(adata.var_names, species, maps, where=where)
    frac = unmapped_fraction(mapped)
    if frac > max_unmapped_fraction:
        raise ValueError(
            f"{where}{frac:.1%} of {len(mapped)} genes map to no human symbol (limit "
            f"{max_unmapped_fraction:.0%}, config data.max_unmapped_fraction); check the species "
            "column of the sheet, or raise the limit for a file with many unannotated genes."
        )
    token_of = dict(zip(vocab["gene"], vocab["token_id"], strict=True))
    cols = np.array([token_of.get(g, -1) if g is not None else -1 for g in mapped])
    X = _as_csr(adata.X, where)
    is_log = detect_log_cells(X)
    if is_log.any():
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        X.data = np.where(is_log[rows], np.expm1(X.data), X.data)
    keep = np.flatnonzero(cols >= 0)
    proj = sp.csr_matrix((np.ones(len(keep)), (keep, cols[keep])), shape=(len(cols), len(vocab)))
    M = (X @ proj).tocsr()
    M.sum_duplicates()
    M.sort_indices()
    info = {
        "n_genes": len(mapped),
        "n_mapped": int(sum(m is not None for m in mapped)),
        "unmapped_fraction": frac,
        "n_in_vocab": int(len(set(cols[keep]))),
        "n_log_cells": int(is_log.sum()),
        "is_log": is_log,
    }
    return M, info


def normalise(M: sp.csr_matrix) -> sp.csr_matrix:
    """Scale each cell to TARGET_SUM (cells with no counts stay empty)."""
    totals = np.asarray(M.sum(axis=1)).ravel()
    scale = np.divide(TARGET_SUM, totals, out=np.zeros_like(totals), where=totals > 0)
    return sp.csr_matrix(sp.diags(scale) @ M)


def gene_medians(matrices, vocab: pd.DataFrame) -> pd.DataFrame:
    """Median non-zero normalised value of every vocabulary gene over the given cells x vocab
    matrices (the pretraining corpus). Columns: token_id, gene, median, n_cells (NaN/0 if unseen)."""
    stacked = sp.vstack([normalise(m) for m in matrices]).tocsc()
    stacked.eliminate_zeros()
    medians = np.full(len(vocab), np.nan)
    n_cells = np.diff(stacked.indptr)
    for j in tqdm(np.flatnonzero(n_cells), desc="gene medians", mininterval=2, leave=False):
        medians[j] = np.median(stacked.data[stacked.indptr[j]:stacked.indptr[j + 1]])
    return pd.DataFrame({"token_id": vocab["token_id"], "gene": vocab["gene"],
                         "median": medians, "n_cells": n_cells})


def write_medians(medians: pd.DataFrame, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        medians.to_csv(tmp, sep="\t", index=False, float_format="%.6g")


def read_medians(path: str | os.PathLike, vocab: pd.DataFrame) -> np.ndarray:
    med = pd.read_csv(path, sep="\t", keep_default_na=True)
    if len(med) != len(vocab) or not np.array_equal(med["token_id"], vocab["token_id"]):
        raise ValueError(f"{path}: gene medians do not match the vocabulary; rebuild both with "
                         "the data_vocab rule.")
    return med["median"].to_numpy(dtype=np.float64)


def rank_cells(M: sp.csr_matrix, medians: np.ndarray, *, unseen: str = "drop",
               max_len: int | None = None) -> list[np.ndarray]:
    """Token sequences (CLS first) of the rows of a normalised cells x vocab matrix."""
    if unseen not in UNSEEN_POLICIES:
        raise ValueError(f"unseen={unseen!r}; expected one of {UNSEEN_POLICIES}.")
    med = np.where(np.isnan(medians), 1.0 if unseen == "median1" else np.nan, medians)
    seqs = []
    for i in tqdm(range(M.shape[0]), desc="ranking cells", mininterval=2, leave=False):
        lo, hi = M.indptr[i], M.indptr[i + 1]
        genes, vals = M.indices[lo:hi], M.data[lo:hi] / med[M.indices[lo:hi]]
        ok = np.isfinite(vals) & (vals > 0)
        genes, vals = genes[ok], vals[ok]
        order = np.lexsort((genes, -vals))  # last key first: value descending, then token id
        seq = np.concatenate([[CLS_ID], genes[order]]).astype(np.int64)
        seqs.append(seq if max_len is None else seq[:max_len])
    return seqs


def tokenise(adata, vocab: pd.DataFrame, medians: np.ndarray, *, maps: GeneMaps,
             species: str = "human", label_key: str | None = None, batch_key: str | None = None,
             max_unmapped_fraction: float = 1.0, max_len: int | None = None,
             unseen: str = "drop", dataset: str = "", split: str = "eval"):
    """Tokenise an AnnData (cells x genes) with TEDDY-G.

    Returns ``(sequences, obs, info)``: one token array per kept cell (CLS first), an obs table
    (cell_id, label, batch, split, dataset) and mapping/dropping statistics. Cells left with no
    expressed vocabulary gene are dropped with a warning (their count is in ``info``).
    """
    where = f"{dataset}: " if dataset else ""
    for key, what in ((label_key, "label_key"), (batch_key, "batch_key")):
        if key and key not in adata.obs.columns:
            raise KeyError(f"{where}obs has no column {key!r} ({what}); available: "
                           f"{', '.join(map(str, adata.obs.columns)) or 'none'}. Fix the sheet.")
    M, info = to_vocab_matrix(adata, vocab, maps, species,
                              max_unmapped_fraction=max_unmapped_fraction, where=where)
    seqs = rank_cells(normalise(M), medians, unseen=unseen, max_len=max_len)
    lengths = np.array([len(s) for s in seqs])
    keep = lengths > 1
    n_empty = int((~keep).sum())
    if n_empty:
        warnings.warn(f"{where}dropped {n_empty} of {len(seqs)} cells with no expressed "
                      "vocabulary gene.", stacklevel=2)
    obs = pd.DataFrame({"cell_id": adata.obs_names.astype(str)})
    if label_key:
        obs["label"] = adata.obs[label_key].astype(str).to_numpy()
    if batch_key:
        obs["batch"] = adata.obs[batch_key].astype(str).to_numpy()
    obs["split"] = split
    if dataset:
        obs["dataset"] = dataset
    obs["log_input"] = info.pop("is_log")
    info["n_cells_in"] = len(seqs)
    info["n_cells_dropped_empty"] = n_empty
    kept = [s for s, k in zip(seqs, keep, strict=True) if k]
    return kept, obs.loc[keep].reset_index(drop=True), info
