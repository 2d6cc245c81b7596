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


def pca_baseline(log_expression: ad.AnnData, *, n_hvg: int = 2000, n_pcs: int = 50, seed: int = 0) -> np.ndarray:
    """PCA of log1p(CP10k) expression (:func:`scsigmoid.data.tokenise.log1p_cp10k`, which reads
    every scale of the dataset sheet) on at most ``n_hvg`` highly variable genes: [cells, <= n_pcs]."""
    import scanpy as sc

    if log_expression.n_obs < 3 or log_expression.n_vars < 2:
        raise ValueError(f"pca_baseline: need >= 3 cells and >= 2 genes, got {log_expression.shape}.")
    work = ad.AnnData(X=log_expression.X.astype(np.float32), obs=pd.DataFrame(index=log_expression.obs_names),
                      var=pd.DataFrame(index=log_expression.var_names))
    work.var_names_make_unique()
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


def baseline_embedding(obs: pd.DataFrame, expression: ad.AnnData, scale: str, *, where: str = "",
                       n_hvg: int = 2000, n_pcs: int = 50, seed: int = 0) -> ad.AnnData:
    """The model-free PCA baseline of one dataset, the one definition the data stage
    (data_pca_baseline) and the evaluation use: log1p CP10k of ``expression`` read through the
    sheet's ``scale``, on the cells of ``obs`` (the corpus obs.tsv: cell_id, label[, batch]).
    Returns an AnnData with that obs and ``obsm['X_pca_baseline']``."""
    from scsigmoid.data.tokenise import log1p_cp10k

    for col in ("cell_id", "label"):
        if col not in obs:
            raise ValueError(f"obs needs column {col!r} (the corpus obs.tsv); got {list(obs.columns)}.")
    obs = obs[[c for c in ("cell_id", "label", "batch") if c in obs]].astype(str).drop_duplicates("cell_id")
    rows = pd.Index(expression.obs_names.astype(str)).get_indexer(obs["cell_id"])
    if (rows < 0).any():
        raise ValueError(f"{where}{int((rows < 0).sum())} of {len(obs)} corpus cells are not in the "
                         f"expression file (e.g. {obs['cell_id'].iloc[int(np.argmax(rows < 0))]!r}); "
                         "rebuild the corpus from this file (rule data_tokenise).")
    X = log1p_cp10k(expression, scale, where)[rows]
    work = ad.AnnData(X=X, var=pd.DataFrame(index=expression.var_names.astype(str)))
    out = ad.AnnData(obs=obs.set_index("cell_id", drop=False).rename_axis(None))
    for col in ("label", "batch"):
        if col in out.obs:
            out.obs[col] = out.obs[col].astype("category")
    out.obsm[BASELINE_KEY] = pca_baseline(work, n_hvg=n_hvg, n_pcs=n_pcs, seed=seed)
    out.uns["embedding_keys"] = [BASELINE_KEY]
    return out


def read_model_embedding(path: str | os.PathLike, views=MODEL_VIEWS) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Read a trainer embedding file: its ``cell_id`` array and the ``views`` (of ``mean``/``cls``;
    config evaluate.views)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"embedding file {path} not found; run the trainer's embed rule.")
    # cell ids may be saved as an object array (pickled); the file is this workflow's own output
    with np.load(path, allow_pickle=True) as npz:
        missing = [k for k in ("cell_id", *views) if k not in npz.files]
        if missing:
            raise ValueError(f"{path}: missing array(s) {missing}; expected cell_id, {', '.join(views)} "
                             f"(got {npz.files}); config evaluate.views names the views to score.")
        cell_ids = npz["cell_id"].astype(str)
        views = {v: np.asarray(npz[v], dtype=np.float32) for v in views}
    for view, X in views.items():
        if X.ndim != 2 or X.shape[0] != len(cell_ids):
            raise ValueError(f"{path}: '{view}' has shape {X.shape}; expected [{len(cell_ids)}, d].")
        if not np.isfinite(X).all():
            raise ValueError(f"{path}: '{view}' holds non-finite values; the embedding run is broken.")
    return cell_ids, views


def assemble_embeddings(
    baseline: ad.AnnData,
    model_files: dict[tuple[str, int | None] | str, str | os.PathLike],
    *,
    min_coverage: float = 0.5,
    views=MODEL_VIEWS,
) -> ad.AnnData:
    """One AnnData per dataset: the obs (cell_id, label[, batch]) and PCA baseline of
    ``baseline`` (:func:`baseline_embedding`, the data stage's data_pca_baseline output) on the
    cells every model file covers, each model view in ``obsm['X_{attention}_{view}_s{seed}']``.

    ``model_files`` maps (attention, seed) -> embedding .npz (a bare attention name, or seed None,
    gives keys without the seed suffix); ``views``: the model views read from each. Cells are kept in ``baseline`` order;
    fewer than ``min_coverage`` of its cells surviving the alignment is an error.
    """
    if BASELINE_KEY not in baseline.obsm or "cell_id" not in baseline.obs or "label" not in baseline.obs:
        raise ValueError(f"the baseline AnnData needs obs cell_id, label and obsm {BASELINE_KEY} (rule "
                         f"data_pca_baseline); got obs {list(baseline.obs.columns)}, obsm {list(baseline.obsm)}.")
    ids = pd.Index(baseline.obs["cell_id"].astype(str))
    keep = np.ones(len(ids), dtype=bool)
    models = {(key, None) if isinstance(key, str) else tuple(key): read_model_embedding(path, views)
              for key, path in model_files.items()}
    for model_ids, _ in models.values():
        keep &= ids.isin(model_ids)
    if keep.sum() < max(3, min_coverage * len(ids)):
        raise ValueError(f"only {int(keep.sum())} of {len(ids)} corpus cells appear in every embedding file "
                         f"({', '.join(map(str, model_files.values()))}); check that cell ids match the "
                         "corpus obs.tsv.")
    out = ad.AnnData(obs=baseline.obs.iloc[np.flatnonzero(keep)].copy())
    out.obs["label"] = out.obs["label"].astype(str).astype("category")
    if "batch" in out.obs:
        out.obs["batch"] = out.obs["batch"].astype(str).astype("category")
    out.obsm[BASELINE_KEY] = np.asarray(baseline.obsm[BASELINE_KEY])[keep]
    kept = ids[keep]
    for (att, seed), (model_ids, views) in models.items():
        pos = pd.Index(model_ids).get_indexer(kept)
        for view, X in views.items():
            out.obsm[embedding_key(att, view, seed)] = X[pos]
    out.uns["embedding_keys"] = [BASELINE_KEY] + [embedding_key(a, v, s) for a, s in models for v in views]
    return out


def write_h5ad(adata: ad.AnnData, path: str | os.PathLike) -> None:
    """Write an AnnData atomically."""
    with atomic_path(path, suffix=".h5ad") as tmp:
        adata.write_h5ad(tmp)


def embedding_keys(adata: ad.AnnData) -> list[str]:
    """The embeddings stored in an assembled AnnData, baseline first."""
    keys = list(adata.uns.get("embedding_keys", []))
    return keys or sorted(adata.obsm.keys())
