"""scIB bio-conservation metrics with the paper's protocol (scib-metrics 0.5.10).

Protocol: the embedding is reduced by PCA to the components keeping 95% of its variance; an
exact 15-nearest-neighbour graph (scikit-learn; scib-metrics' Benchmarker defaults to approximate
pynndescent, whose numba compile alone takes over a minute) feeds Leiden clustering
over scib-metrics' resolution grid (0.2..2.0), reporting NMI and the ARI at the resolution of
best NMI; silhouette label is scib-metrics' rescaled (ASW + 1) / 2; bio conservation is the mean
of the three (the paper's aggregate, not scib-metrics' default).

Diagnostics per embedding: the components kept at 95 % variance and PC1's share of the variance
(an embedding that keeps 1–2 components carries almost no structure to score).

Bootstrap over cells (``score_embedding(draws=...)``): each replicate draws the cells with
replacement within each cell type (every type keeps its size) and recomputes NMI and ARI between
the cell types and the full-data Leiden clusters of the drawn cells, and the silhouette label as
the mean of the drawn cells' full-data silhouette widths. The clustering and the widths are not recomputed: the
replicates measure how much the score depends on which cells were sampled, given the embedding.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

SCIB_METRICS = ("nmi", "ari", "silhouette_label", "bio_conservation")
# scib-metrics 0.5.10's Leiden resolution grid (nmi_ari_cluster_labels_leiden, optimize_resolution)
LEIDEN_RESOLUTIONS = tuple(2 * x / 10 for x in range(1, 11))


def pca_reduce(X: np.ndarray, variance: float = 0.95, seed: int = 0) -> tuple[np.ndarray, float]:
    """Project ``X`` on the fewest principal components explaining ``variance`` of its variance;
    also return PC1's share of the total variance."""
    X = np.asarray(X, dtype=np.float64)
    if not 0 < variance <= 1:
        raise ValueError(f"variance must lie in (0, 1]; got {variance}.")
    if X.ndim != 2 or X.shape[0] < 3:
        raise ValueError(f"need a [cells >= 3, features] matrix; got shape {X.shape}.")
    if variance == 1:
        pca = PCA(svd_solver="full", random_state=seed).fit(X)
        return X.astype(np.float32), float(pca.explained_variance_ratio_[0])
    pca = PCA(n_components=variance, svd_solver="full", random_state=seed)
    reduced = pca.fit_transform(X).astype(np.float32)
    return reduced, float(pca.explained_variance_ratio_[0])


def pca_keep_variance(X: np.ndarray, variance: float = 0.95, seed: int = 0) -> np.ndarray:
    """Project ``X`` on the fewest principal components explaining ``variance`` of its variance."""
    return pca_reduce(X, variance, seed)[0]


def exact_neighbors(X: np.ndarray, n_neighbors: int):
    """scib-metrics NeighborsResults of the exact Euclidean kNN (each cell its own first neighbour)."""
    from scib_metrics.nearest_neighbors import NeighborsResults
    from sklearn.neighbors import NearestNeighbors

    k = min(n_neighbors, X.shape[0])
    distances, indices = NearestNeighbors(n_neighbors=k).fit(X).kneighbors(X)
    return NeighborsResults(indices=indices, distances=distances.astype(np.float32))


def best_leiden_clusters(neighbors, labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """Leiden clusters at the resolution of best NMI over scib-metrics' grid, clustered exactly as
    scib-metrics' nmi_ari_cluster_labels_leiden does (first best resolution on ties)."""
    from scib_metrics.metrics._nmi_ari import _compute_clustering_leiden
    from sklearn.metrics.cluster import normalized_mutual_info_score

    best, best_nmi = None, -np.inf
    for resolution in LEIDEN_RESOLUTIONS:
        clusters = _compute_clustering_leiden(neighbors.knn_graph_connectivities, resolution, seed)
        nmi = normalized_mutual_info_score(labels, clusters, average_method="arithmetic")
        if nmi > best_nmi:
            best, best_nmi = clusters, nmi
    return np.asarray(best)


def _scores(labels: np.ndarray, clusters: np.ndarray, widths: np.ndarray) -> dict[str, float]:
    from sklearn.metrics.cluster import adjusted_rand_score, normalized_mutual_info_score

    scores = {"nmi": float(normalized_mutual_info_score(labels, clusters, average_method="arithmetic")),
              "ari": float(adjusted_rand_score(labels, clusters)),
              "silhouette_label": float((widths.mean() + 1) / 2)}
    scores["bio_conservation"] = float(np.mean(list(scores.values())))
    return scores


def bio_parts(X: np.ndarray, labels, *, n_neighbors: int = 15, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels as str, best-NMI Leiden clusters, per-cell silhouette widths) of one embedding."""
    from scib_metrics.utils import silhouette_samples

    X = np.ascontiguousarray(X, dtype=np.float32)
    labels = np.asarray(pd.Series(labels).astype(str))
    if len(np.unique(labels)) < 2:
        raise ValueError("scIB needs at least two cell types in the label column.")
    clusters = best_leiden_clusters(exact_neighbors(X, n_neighbors), labels, seed)
    widths = np.asarray(silhouette_samples(X, labels, chunk_size=256), dtype=np.float64)
    return labels, clusters, widths


def bio_scores(X: np.ndarray, labels, *, n_neighbors: int = 15, seed: int = 0) -> dict[str, float]:
    """Leiden NMI/ARI (best resolution) and rescaled silhouette label of one embedding matrix."""
    return _scores(*bio_parts(X, labels, n_neighbors=n_neighbors, seed=seed))


def stratified_draws(labels, n_boot: int, seed: int = 0) -> np.ndarray:
    """[n_boot, cells] indices: each replicate draws every cell type's cells with replacement,
    as many as the type has. The same labels and seed give the same draws for every embedding."""
    labels = np.asarray(pd.Series(labels).astype(str))
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(labels == name) for name in sorted(np.unique(labels))]
    draws = np.empty((n_boot, len(labels)), dtype=np.int64)
    for b in range(n_boot):
        draws[b] = np.concatenate([rng.choice(idx, size=len(idx), replace=True) for idx in groups])
    return draws


def score_embedding(adata: ad.AnnData, *, embedding_key: str, label_key: str = "label",
                    variance: float = 0.95, n_neighbors: int = 15, seed: int = 0,
                    draws: np.ndarray | None = None) -> tuple[dict, pd.DataFrame | None]:
    """scIB bio conservation of ``adata.obsm[embedding_key]`` against ``adata.obs[label_key]``.

    Returns nmi, ari, silhouette_label, bio_conservation, n_pcs (components kept) and pc1_share;
    with ``draws`` ([replicates, cells] indices, :func:`stratified_draws`) also a DataFrame of the
    bootstrap replicates (replicate + the four scores), else None.
    """
    if embedding_key not in adata.obsm:
        raise KeyError(f"obsm has no {embedding_key!r}; available: {', '.join(adata.obsm.keys())}.")
    if label_key not in adata.obs:
        raise KeyError(f"obs has no {label_key!r}; available: {', '.join(adata.obs.columns)}.")
    reduced, pc1 = pca_reduce(np.asarray(adata.obsm[embedding_key]), variance, seed=seed)
    labels, clusters, widths = bio_parts(reduced, adata.obs[label_key].to_numpy(), n_neighbors=n_neighbors,
                                         seed=seed)
    scores = {**_scores(labels, clusters, widths), "n_pcs": int(reduced.shape[1]), "pc1_share": pc1}
    if draws is None:
        return scores, None
    boot = pd.DataFrame([{"replicate": b, **_scores(labels[idx], clusters[idx], widths[idx])}
                         for b, idx in enumerate(draws)])
    return scores, boot


def use_jax_compilation_cache() -> str:
    """Keep JAX's compilations on disk so that the next process loads them instead of compiling
    again: every Benchmarker job (one a dataset) compiles the same metrics, about 35 s of its ~2 min
    on 2 CPU cores (2026-12-04; ~3 MB). Every compilation is kept (JAX's defaults keep only those
    over 1 s, which saved 8 s). A cache directory already configured (JAX_COMPILATION_CACHE_DIR)
    wins; else $XDG_CACHE_HOME (or ~/.cache)/sigmoid-sc-replication/jax. Returns the directory."""
    import os

    import jax

    if not jax.config.jax_compilation_cache_dir:
        home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        jax.config.update("jax_compilation_cache_dir", os.path.join(home, "sigmoid-sc-replication", "jax"))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return jax.config.jax_compilation_cache_dir


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
