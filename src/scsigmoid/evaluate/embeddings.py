"""Embeddings of one evaluation dataset in one AnnData: the PCA baseline of log-normalised
expression and the trained models' cell embeddings (every seed of every arm), aligned on cell
ids, stored in ``.obsm``."""

from __future__ import annotations

import os
import re
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from scsigmoid.io import atomic_path

BASELINE_KEY = "X_pca_baseline"
BASELINE_MODEL = "pca_baseline"
MODEL_VIEWS = ("mean", "cls")
_KEY = re.compile(r"^X_(?P<model>[A-Za-z0-9]+)_(?P<view>mean|cls)(?:_s(?P<seed>\d+))?$")


def embedding_key(attention: str, view: str, seed: int | None = None) -> str:
    """obsm key of a model embedding: ('sigmoid', 'mean', 1) -> 'X_sigmoid_mean_s1' (no seed:
    'X_sigmoid_mean')."""
    return f"X_{attention}_{view}" + ("" if seed is None else f"_s{int(seed)}")


def parse_embedding_key(key: str) -> dict:
    """'X_sigmoid_mean_s1' -> {'model': 'sigmoid', 'view': 'mean', 'seed': 1}; the baseline ->
    {'model': 'pca_baseline', 'view': 'pca', 'seed': None}."""
    if key == BASELINE_KEY:
        return {"model": BASELINE_MODEL, "view": "pca", "seed": None}
    m = _KEY.match(key)
    if not m:
        raise ValueError(f"embedding key {key!r} is neither {BASELINE_KEY} nor X_<attention>_<mean|cls>[_s<seed>].")
    return {"model": m["model"], "view": m["view"], "seed": None if m["seed"] is None else int(m["seed"])}


def _looks_like_counts(X) -> bool:
    values = X.data if sp.issparse(X) else np.asarray(X).ravel()
    values = values[: 200_000]
    return bool(values.size) and bool(np.all(values >= 0)) and bool(np.allclose(values, np.round(values)))


def pca_baseline(counts: ad.AnnData, *, n_hvg: int = 2000, n_pcs: int = 50, seed: int = 0) -> np.ndarray:
    """PCA of log1p(CP10k) expression on at most ``n_hvg`` highly variable genes: [cells, <= n_pcs].

    Input that is already log-scale (non-integer values) is used as is, without renormalising.
    """
    import scanpy as sc

    if counts.n_obs < 3 or counts.n_vars < 2:
        raise ValueError(f"pca_baseline: need >= 3 cells and >= 2 genes, got {counts.shape}.")
    work = ad.AnnData(X=counts.X.astype(np.float32), obs=pd.DataFrame(index=counts.obs_names),
                      var=pd.DataFrame(index=counts.var_names))
    work.var_names_make_unique()
    if _looks_like_counts(work.X):
        sc.pp.normalize_total(work, target_sum=1e4)
        sc.pp.log1p(work)
    sc.pp.filter_genes(work, min_cells=1)
    if work.n_vars > n_hvg:
        sc.pp.highly_variable_genes(work, n_top_genes=n_hvg, flavor="seurat")
        work = work[:, work.var["highly_variable"]].copy()
    n_comps = int(min(n_pcs, work.n_obs - 1, work.n_vars - 1))
    if sp.issparse(work.X):
        work.X = work.X.toarray()
    sc.pp.scale(work, max_value=10)
    sc.tl.pca(work, n_comps=n_comps, random_state=seed, svd_solver="arpack")
    return np.asarray(work.obsm["X_pca"], dtype=np.float32)


def read_model_embedding(path: str | os.PathLike) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Read a trainer embedding file (arrays ``cell_id`` and the views ``mean``/``cls``)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"embedding file {path} not found; run the trainer's embed rule.")
    # cell ids may be saved as an object array (pickled); the file is this workflow's own output
    with np.load(path, allow_pickle=True) as npz:
        missing = [k for k in ("cell_id", *MODEL_VIEWS) if k not in npz.files]
        if missing:
            raise ValueError(f"{path}: missing array(s) {missing}; expected cell_id, mean, cls "
                             f"(got {npz.files}).")
        cell_ids = npz["cell_id"].astype(str)
        views = {v: np.asarray(npz[v], dtype=np.float32) for v in MODEL_VIEWS}
    for view, X in views.items():
        if X.ndim != 2 or X.shape[0] != len(cell_ids):
            raise ValueError(f"{path}: '{view}' has shape {X.shape}; expected [{len(cell_ids)}, d].")
        if not np.isfinite(X).all():
            raise ValueError(f"{path}: '{view}' holds non-finite values; the embedding run is broken.")
    return cell_ids, views


def assemble_embeddings(
    obs: pd.DataFrame,
    counts: ad.AnnData,
    model_files: dict[tuple[str, int | None] | str, str | os.PathLike],
    *,
    n_hvg: int = 2000,
    n_pcs: int = 50,
    seed: int = 0,
    min_coverage: float = 0.5,
) -> ad.AnnData:
    """One AnnData per dataset: ``obs`` (cell_id, label[, batch]) of the cells every source covers,
    the baseline in ``obsm['X_pca_baseline']`` and each model view in
    ``obsm['X_{attention}_{view}_s{seed}']``.

    ``model_files`` maps (attention, seed) -> embedding .npz (a bare attention name, or seed None,
    gives keys without the seed suffix). Cells are kept in ``obs`` order;
    fewer than ``min_coverage`` of the labelled cells surviving the alignment is an error.
    """
    for col in ("cell_id", "label"):
        if col not in obs:
            raise ValueError(f"obs needs column {col!r} (the corpus obs.tsv); got {list(obs.columns)}.")
    obs = obs.assign(cell_id=obs["cell_id"].astype(str)).drop_duplicates("cell_id")
    keep = pd.Index(obs["cell_id"]).isin(counts.obs_names.astype(str))
    models = {(key, None) if isinstance(key, str) else tuple(key): read_model_embedding(path)
              for key, path in model_files.items()}
    for ids, _ in models.values():
        keep &= pd.Index(obs["cell_id"]).isin(ids)
    kept = obs.loc[keep].reset_index(drop=True)
    if len(kept) < max(3, min_coverage * len(obs)):
        raise ValueError(f"only {len(kept)} of {len(obs)} labelled cells appear in the expression "
                         f"matrix and every embedding file ({', '.join(map(str, model_files.values()))}); "
                         "check that cell ids match the corpus obs.tsv.")
    out = ad.AnnData(obs=kept.set_index("cell_id", drop=False).rename_axis(None))
    out.obs["label"] = out.obs["label"].astype(str).astype("category")
    if "batch" in out.obs:
        out.obs["batch"] = out.obs["batch"].astype(str).astype("category")
    rows = pd.Index(counts.obs_names.astype(str)).get_indexer(kept["cell_id"])
    out.obsm[BASELINE_KEY] = pca_baseline(counts[rows], n_hvg=n_hvg, n_pcs=n_pcs, seed=seed)
    for (att, seed), (ids, views) in models.items():
        pos = pd.Index(ids).get_indexer(kept["cell_id"])
        for view, X in views.items():
            out.obsm[embedding_key(att, view, seed)] = X[pos]
    out.uns["embedding_keys"] = [BASELINE_KEY] + [embedding_key(a, v, s) for a, s in models for v in MODEL_VIEWS]
    return out


def write_h5ad(adata: ad.AnnData, path: str | os.PathLike) -> None:
    """Write an AnnData atomically."""
    with atomic_path(path, suffix=".h5ad") as tmp:
        adata.write_h5ad(tmp)


def embedding_keys(adata: ad.AnnData) -> list[str]:
    """The embeddings stored in an assembled AnnData, baseline first."""
    keys = list(adata.uns.get("embedding_keys", []))
    return keys or sorted(adata.obsm.keys())
