"""TEDDY-G tokenisation: counts -> per-cell gene rankings (token ids, CLS first).

Per cell: values back on a linear scale as the sheet's ``scale`` column declares
(:mod:`scsigmoid.data.checks`: counts and CP10k as they are, log1p through ``expm1``, FPKM/TPM
as they are, ``auto`` per cell), normalised to 10,000, divided by each gene's median non-zero
normalised value over the pretraining corpus, expressed genes ranked by that ratio in descending
order (ties: ascending token id), CLS prepended. Sequences keep their full
length (an optional ``max_len`` caps them); truncation to a model's context happens at load time.

Genes never seen in pretraining have no median. Policy ``unseen="drop"`` (default) leaves them out
of every sequence, since their embeddings are never trained; ``unseen="median1"`` keeps them with
median 1. Genes outside the vocabulary (a frozen pretraining vocabulary, config ``data.vocab``)
are dropped and counted (``n_not_in_vocab``).

Bad input raises :class:`~scsigmoid.data.checks.DatasetError` naming the dataset and file: no
cells, no genes, an all-zero matrix, negative/NaN/non-numeric values, an impossible scale, missing
labels (unless ``missing_labels="drop"``) or no cell left with a vocabulary gene.
"""

from __future__ import annotations

import logging
import os
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from tqdm.auto import tqdm

from scsigmoid.data.checks import MISSING_LABELS, DatasetError, linear_values, missing_mask
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
        raise DatasetError(f"{where}X has non-numeric dtype {X.dtype}; expected counts or "
                           "normalised expression (numbers).")
    X = sp.csr_matrix(X).astype(np.float64)
    if X.data.size and not np.all(np.isfinite(X.data)):
        raise DatasetError(f"{where}X holds NaN or infinite values; clean the source file.")
    if X.data.size and X.data.min() < 0:
        raise DatasetError(f"{where}X holds negative values (min {X.data.min():.3g}); expected raw "
                           "counts or normalised expression, not scaled/centred data.")
    X.eliminate_zeros()
    return X


def to_vocab_matrix(adata, vocab: pd.DataFrame, maps: GeneMaps, species: str, *,
                    scale: str = "auto", max_unmapped_fraction: float = 1.0, where: str = ""):
    """Expression on the linear scale as a cells x vocab CSR (duplicate symbols summed).

    Returns (matrix, info) where info holds the mapping statistics and the per-cell log flags.
    """
    if adata.n_obs == 0:
        raise DatasetError(f"{where}the file holds no cells (0 rows); nothing to tokenise. Check the "
                           "file, or remove the dataset from the sheet.")
    if adata.n_vars == 0:
        raise DatasetError(f"{where}the file holds no genes (0 columns); nothing to tokenise.")
    mapped = map_genes(adata.var_names, species, maps, where=where)
    frac = unmapped_fraction(mapped)
    if frac > max_unmapped_fraction:
        raise DatasetError(
            f"{where}{frac:.1%} of {len(mapped)} genes map to no human symbol (limit "
            f"{max_unmapped_fraction:.0%}, config data.max_unmapped_fraction); check the species "
            "column of the sheet, or raise the limit for a file with many unannotated genes."
        )
    token_of = dict(zip(vocab["gene"], vocab["token_id"], strict=True))
    cols = np.array([token_of.get(g, -1) if g is not None else -1 for g in mapped])
    X = _as_csr(adata.X, where)
    if not X.nnz:
        raise DatasetError(f"{where}every value of X is zero ({X.shape[0]} cells x {X.shape[1]} "
                           "genes); the file holds no expression.")
    X, is_log = linear_values(X, scale, where)
    keep = np.flatnonzero(cols >= 0)
    proj = sp.csr_matrix((np.ones(len(keep)), (keep, cols[keep])), shape=(len(cols), len(vocab)))
    M = (X @ proj).tocsr()
    M.sum_duplicates()
    M.sort_indices()
    n_mapped = int(sum(m is not None for m in mapped))
    info = {
        "n_genes": len(mapped),
        "n_mapped": n_mapped,
        "unmapped_fraction": frac,
        "n_in_vocab": int(len(set(cols[keep]))),
        "n_not_in_vocab": n_mapped - len(keep),
        "n_log_cells": int(is_log.sum()),
        "scale": scale,
        "is_log": is_log,
    }
    return M, info


def normalise(M: sp.csr_matrix) -> sp.csr_matrix:
    """Scale each cell to TARGET_SUM (cells with no counts stay empty)."""
    totals = np.asarray(M.sum(axis=1)).ravel()
    scale = np.divide(TARGET_SUM, totals, out=np.zeros_like(totals), where=totals > 0)
    return sp.csr_matrix(sp.diags(scale) @ M)


def log1p_cp10k(adata, scale: str = "auto", where: str = "") -> sp.csr_matrix:
    """log1p of per-cell normalised (10,000) expression on the file's own genes, from any scale
    the sheet declares: the input of the PCA baseline."""
    X, _ = linear_values(_as_csr(adata.X, where), scale, where)
    X = normalise(X)
    X.data = np.log1p(X.data)
    return X


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


def where_of(dataset: str = "", path=None) -> str:
    """Message prefix naming a dataset and its file: 'name (path): '."""
    if not dataset and not path:
        return ""
    return f"{dataset or '?'}{f' ({path})' if path else ''}: "


def tokenise(adata, vocab: pd.DataFrame, medians: np.ndarray, *, maps: GeneMaps,
             species: str = "human", label_key: str | None = None, batch_key: str | None = None,
             max_unmapped_fraction: float = 1.0, max_len: int | None = None,
             unseen: str = "drop", dataset: str = "", split: str = "eval", scale: str = "auto",
             missing_labels: str = "error", path=None):
    """Tokenise an AnnData (cells x genes) with TEDDY-G.

    Returns ``(sequences, obs, info)``: one token array per kept cell (CLS first), an obs table
    (cell_id, label, batch, split, dataset, log_input) and mapping/dropping statistics. Cells left
    with no expressed vocabulary gene are dropped with a warning (their count is in ``info``);
    cells without a label/batch value are an error, or dropped and counted with
    ``missing_labels="drop"``. No cell left is an error. ``path`` (the file) only serves messages.
    """
    where = where_of(dataset, path)
    if missing_labels not in MISSING_LABELS:
        raise ValueError(f"missing_labels={missing_labels!r}; expected one of {MISSING_LABELS} "
                         "(config data.missing_labels).")
    for key, what in ((label_key, "label_key"), (batch_key, "batch_key")):
        if key and key not in adata.obs.columns:
            raise DatasetError(f"{where}obs has no column {key!r} ({what}); available: "
                               f"{', '.join(map(str, adata.obs.columns)) or 'none'}. Fix the sheet.")
    M, info = to_vocab_matrix(adata, vocab, maps, species, scale=scale,
                              max_unmapped_fraction=max_unmapped_fraction, where=where)
    n_cells = M.shape[0]
    missing = np.zeros(n_cells, dtype=bool)
    for key, what in ((label_key, "label"), (batch_key, "batch")):
        if not key:
            continue
        gap = missing_mask(adata.obs[key].to_numpy())
        if gap.any() and missing_labels == "error":
            raise DatasetError(
                f"{where}{int(gap.sum())} of {n_cells} cells have no {what} (NaN or empty in obs "
                f"column {key!r}); fill them in, or set config data.missing_labels: drop to leave "
                "those cells out (they are counted in the dataset table).")
        missing |= gap
    seqs = rank_cells(normalise(M), medians, unseen=unseen, max_len=max_len)
    lengths = np.array([len(s) for s in seqs])
    empty = lengths <= 1
    keep = ~empty & ~missing
    n_empty = int(empty.sum())
    if not keep.any():
        cause = (f"all {n_cells} cells lack a label or batch value (data.missing_labels: drop)"
                 if missing.all() else
                 f"none of its {n_cells} cells expresses a vocabulary gene with a pretraining "
                 f"median ({info['n_in_vocab']} of its {info['n_genes']} genes are in the "
                 f"vocabulary, {info['n_mapped']} map to a human symbol)")
        raise DatasetError(f"{where}no usable cells: {cause}. Check the species and gene "
                           "identifiers in the sheet, or remove the dataset.")
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
    info["n_cells_in"] = n_cells
    info["n_cells_dropped_empty"] = n_empty
    info["n_cells_dropped_unlabelled"] = int((missing & ~empty).sum())
    kept = [s for s, k in zip(seqs, keep, strict=True) if k]
    return kept, obs.loc[keep].reset_index(drop=True), info
