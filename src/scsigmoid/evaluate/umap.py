"""Seeded UMAP coordinates of embeddings for Fig 7 (the plot reads the CSV this writes)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd


def umap_coordinates(adata: ad.AnnData, *, embedding_keys: list[str], label_key: str = "label",
                     n_neighbors: int = 15, seed: int = 0) -> pd.DataFrame:
    """Long table cell_id, label, embedding, umap1, umap2 (scanpy neighbours + UMAP, fixed seed)."""
    import scanpy as sc

    frames = []
    for key in embedding_keys:
        if key not in adata.obsm:
            raise KeyError(f"obsm has no {key!r}; available: {', '.join(adata.obsm.keys())}.")
        work = ad.AnnData(obs=pd.DataFrame(index=adata.obs_names.astype(str)))
        work.obsm["X_emb"] = np.asarray(adata.obsm[key], dtype=np.float32)
        sc.pp.neighbors(work, use_rep="X_emb", n_neighbors=n_neighbors, random_state=seed)
        sc.tl.umap(work, random_state=seed)
        xy = work.obsm["X_umap"]
        frames.append(pd.DataFrame({"cell_id": adata.obs_names.astype(str),
                                    "label": adata.obs[label_key].astype(str).to_numpy(),
                                    "embedding": key, "umap1": xy[:, 0], "umap2": xy[:, 1]}))
    return pd.concat(frames, ignore_index=True)
