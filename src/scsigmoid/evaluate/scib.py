"""scIB bio-conservation metrics with the paper's protocol (scib-metrics 0.5.10).

Protocol: the embedding is reduced by PCA to the components keeping 95% of its variance; an
exact 15-nearest-neighbour graph (scikit-learn; scib-metrics' Benchmarker defaults to approximate
pynndescent, whose numba compile alone takes over a minute) feeds Leiden clustering
over scib-metrics' resolution grid (0.2..2.0), reporting NMI and the ARI at the resolution of
best NMI; silhouette label is scib-metrics' rescaled (ASW + 1) / 2; bio conservation is the mean
of the three (the paper's aggregate, not scib-metrics' default).
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

SCIB_METRICS = ("nmi", "ari", "silhouette_label", "bio_conservation")


def pca_keep_variance(X: np.ndarray, variance: float = 0.95, seed: int = 0) -> np.ndarray:
    """Project ``X`` on the fewest principal components explaining ``variance`` of its variance."""
    X = np.asarray(X, dtype=np.float64)
    if not 0 < variance <= 1:
        raise ValueError(f"variance must lie in (0, 1]; got {variance}.")
    if X.ndim != 2 or X.shape[0] < 3:
        raise ValueError(f"need a [cells >= 3, features] matrix; got shape {X.shape}.")
    if variance == 1:
        return X.astype(np.float32)
    pca = PCA(n_components=variance, svd_solver="full", random_state=seed)
    return pca.fit_transform(X).astype(np.float32)


def exact_neighbors(X: np.ndarray, n_neighbors: int):
    """scib-metrics NeighborsResults of the exact Euclidean kNN (each cell its own first neighbour)."""
    from scib_metrics.nearest_neighbors import NeighborsResults
    from sklearn.neighbors import NearestNeighbors

    k = min(n_neighbors, X.shape[0])
    distances, indices = NearestNeighbors(n_neighbors=k).fit(X).kneighbors(X)
    return NeighborsResults(indices=indices, distances=distances.astype(np.float32))


def bio_scores(X: np.ndarray, labels, *, n_neighbors: int = 15, seed: int = 0) -> dict[str, float]:
    """Leiden NMI/ARI (best resolution) and rescaled silhouette label of one embedding matrix."""
    import scib_metrics

    X = np.ascontiguousarray(X, dtype=np.float32)
    labels = np.asarray(pd.Series(labels).astype(str))
    if len(np.unique(labels)) < 2:
        raise ValueError("scIB needs at least two cell types in the label column.")
    neighbors = exact_neighbors(X, n_neighbors)
    clustering = scib_metrics.nmi_ari_cluster_labels_leiden(neighbors, labels, optimize_resolution=True,
                                                            seed=seed)
    silhouette = scib_metrics.silhouette_label(X, labels, rescale=True)
    scores = {"nmi": float(clustering["nmi"]), "ari": float(clustering["ari"]),
              "silhouette_label": float(silhouette)}
    scores["bio_conservation"] = float(np.mean(list(scores.values())))
    return scores


def score_embedding(adata: ad.AnnData, *, embedding_key: str, label_key: str = "label",
                    variance: float = 0.95, n_neighbors: int = 15, seed: int = 0) -> dict:
    """scIB bio conservation of ``adata.obsm[embedding_key]`` against ``adata.obs[label_key]``.

    Returns nmi, ari, silhouette_label, bio_conservation and n_pcs (components kept).
    """
    if embedding_key not in adata.obsm:
        raise KeyError(f"obsm has no {embedding_key!r}; available: {', '.join(adata.obsm.keys())}.")
    if label_key not in adata.obs:
        raise KeyError(f"obs has no {label_key!r}; available: {', '.join(adata.obs.columns)}.")
    reduced = pca_keep_variance(np.asarray(adata.obsm[embedding_key]), variance, seed=seed)
    scores = bio_scores(reduced, adata.obs[label_key].to_numpy(), n_neighbors=n_neighbors, seed=seed)
    return {**scores, "n_pcs": int(reduced.shape[1])}


def benchmarker_table(adata: ad.AnnData, *, embedding_keys: list[str], label_key: str = "label",
                      batch_key: str | None = "batch", pre_integrated_key: str | None = None) -> pd.DataFrame:
    """scib-metrics' full Benchmarker on the raw embeddings (its default metrics; batch metrics
    only when ``batch_key`` names an obs column with >= 2 batches). Long table: embedding, metric,
    metric_type, value."""
    from scib_metrics.benchmark import BatchCorrection, Benchmarker

    work = ad.AnnData(obs=adata.obs[[label_key]].copy())
    for key in embedding_keys:
        work.obsm[key] = np.ascontiguousarray(adata.obsm[key], dtype=np.float32)
    has_batch = bool(batch_key) and batch_key in adata.obs and adata.obs[batch_key].nunique() >= 2
    work.obs["_batch"] = adata.obs[batch_key].astype(str).to_numpy() if has_batch else "single"
    pre = pre_integrated_key or embedding_keys[0]
    bench = Benchmarker(work, batch_key="_batch", label_key=label_key, embedding_obsm_keys=embedding_keys,
                        batch_correction_metrics=BatchCorrection() if has_batch else None,
                        pre_integrated_embedding_obsm_key=pre, progress_bar=False)
    bench.prepare(neighbor_computer=exact_neighbors)
    bench.benchmark()
    wide = bench.get_results(min_max_scale=False)
    metric_type = wide.loc["Metric Type"]
    wide = wide.drop(index="Metric Type")
    rows = []
    for emb in wide.index:
        for metric in wide.columns:
            rows.append({"embedding": emb, "metric": metric, "metric_type": metric_type[metric],
                         "value": float(wide.loc[emb, metric])})
    return pd.DataFrame(rows)
