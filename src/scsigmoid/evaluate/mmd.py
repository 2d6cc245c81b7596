"""Cell-type separation: RBF-kernel maximum mean discrepancy between the embeddings of each pair
of cell types (unbiased MMD², median-heuristic bandwidth), averaged over pairs.

Bootstrap over cells (``separation_bootstrap``): each replicate draws every cell type's (already
subsampled) cells with replacement, as many as it has, and recomputes every pair's MMD² from the
full-sample kernel matrices and bandwidths; the U-statistic leaves out the pairs of a drawn cell
with a copy of itself (their kernel value is 1 by construction). A replicate's separation is the
mean over pairs. The draws depend only on the labels and the seed, so every embedding of a
dataset sees the same draws (the arms stay paired).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist, pdist


def median_bandwidth(X: np.ndarray, Y: np.ndarray | None = None) -> float:
    """Median pairwise Euclidean distance of the pooled points (the median heuristic)."""
    Z = np.asarray(X, dtype=np.float64) if Y is None else np.vstack([X, Y]).astype(np.float64)
    if Z.shape[0] < 2:
        raise ValueError("median_bandwidth needs at least two points.")
    d = pdist(Z)
    positive = d[d > 0]
    return float(np.median(positive)) if positive.size else 1.0


def rbf_kernel(X: np.ndarray, Y: np.ndarray, bandwidth: float) -> np.ndarray:
    """k(x, y) = exp(-||x - y||² / (2 σ²))."""
    if bandwidth <= 0:
        raise ValueError(f"bandwidth must be positive; got {bandwidth}.")
    return np.exp(-cdist(X, Y, "sqeuclidean") / (2.0 * bandwidth**2))


def mmd2_unbiased(X: np.ndarray, Y: np.ndarray, bandwidth: float | None = None) -> float:
    """Unbiased estimate of MMD² between samples ``X`` [m, d] and ``Y`` [n, d] (m, n >= 2);
    the bandwidth defaults to the median heuristic on the pooled sample. Can be slightly negative."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    m, n = len(X), len(Y)
    if m < 2 or n < 2:
        raise ValueError(f"unbiased MMD needs >= 2 points per sample; got {m} and {n}.")
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"samples differ in dimension: {X.shape[1]} vs {Y.shape[1]}.")
    sigma = median_bandwidth(X, Y) if bandwidth is None else bandwidth
    kxx, kyy, kxy = rbf_kernel(X, X, sigma), rbf_kernel(Y, Y, sigma), rbf_kernel(X, Y, sigma)
    xx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    yy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(xx + yy - 2.0 * kxy.mean())


def _type_groups(X: np.ndarray, labels, max_per_type: int, min_per_type: int, seed: int) -> dict[str, np.ndarray]:
    """Cells of each type with >= ``min_per_type`` cells, at most ``max_per_type`` (fixed-seed subsample)."""
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(pd.Series(labels).astype(str))
    if len(labels) != len(X):
        raise ValueError(f"{len(labels)} labels for {len(X)} cells.")
    rng = np.random.default_rng(seed)
    groups = {}
    for name in sorted(np.unique(labels)):
        idx = np.flatnonzero(labels == name)
        if len(idx) < min_per_type:
            continue
        if len(idx) > max_per_type:
            idx = np.sort(rng.choice(idx, max_per_type, replace=False))
        groups[name] = X[idx]
    if len(groups) < 2:
        raise ValueError(f"need >= 2 cell types with >= {min_per_type} cells for MMD; got {len(groups)}.")
    return groups


def celltype_mmd(X: np.ndarray, labels, *, max_per_type: int = 300, min_per_type: int = 5,
                 seed: int = 0) -> pd.DataFrame:
    """MMD² for every pair of cell types with >= ``min_per_type`` cells; types larger than
    ``max_per_type`` are subsampled with a fixed seed. Columns: type_a, type_b, n_a, n_b, bandwidth, mmd2."""
    groups = _type_groups(X, labels, max_per_type, min_per_type, seed)
    rows = []
    for a, b in combinations(groups, 2):
        sigma = median_bandwidth(groups[a], groups[b])
        rows.append({"type_a": a, "type_b": b, "n_a": len(groups[a]), "n_b": len(groups[b]),
                     "bandwidth": sigma, "mmd2": mmd2_unbiased(groups[a], groups[b], sigma)})
    return pd.DataFrame(rows)


def celltype_separation(X: np.ndarray, labels, **kwargs) -> float:
    """Mean pairwise MMD² between cell types: the 'cell-type separation' of an embedding."""
    return float(celltype_mmd(X, labels, **kwargs)["mmd2"].mean())


def weighted_mmd2(kxx: np.ndarray, kyy: np.ndarray, kxy: np.ndarray, wx: np.ndarray, wy: np.ndarray) -> np.ndarray:
    """Unbiased MMD² of resampled cells given as draw counts: ``wx`` [m, B] and ``wy`` [n, B]
    (how often each cell was drawn in each of B replicates). Pairs of a cell with a copy of itself
    are left out of the within-sample sums; counts of all ones give :func:`mmd2_unbiased`.
    Replicates whose draw holds a single distinct cell are NaN."""
    wx, wy = np.asarray(wx, dtype=np.float64), np.asarray(wy, dtype=np.float64)

    def within(k, w):
        pairs = w.sum(0) ** 2 - (w**2).sum(0)
        total = (w * (k @ w)).sum(0) - (np.diag(k)[:, None] * w**2).sum(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(pairs > 0, total / pairs, np.nan)

    cross = (wx * (kxy @ wy)).sum(0) / (wx.sum(0) * wy.sum(0))
    return within(kxx, wx) + within(kyy, wy) - 2.0 * cross


def separation_bootstrap(X: np.ndarray, labels, *, n_boot: int, max_per_type: int = 300,
                         min_per_type: int = 5, seed: int = 0) -> np.ndarray:
    """[n_boot] cell-bootstrap replicates of :func:`celltype_separation` (see the module docstring)."""
    groups = _type_groups(X, labels, max_per_type, min_per_type, seed)
    rng = np.random.default_rng([seed, 1])  # the draws: a stream of their own, not the subsample's
    counts = {name: np.stack([np.bincount(rng.integers(0, len(G), len(G)), minlength=len(G))
                              for _ in range(n_boot)], axis=1) for name, G in groups.items()}
    per_pair = []
    for a, b in combinations(groups, 2):
        A, B = groups[a], groups[b]
        sigma = median_bandwidth(A, B)
        per_pair.append(weighted_mmd2(rbf_kernel(A, A, sigma), rbf_kernel(B, B, sigma),
                                      rbf_kernel(A, B, sigma), counts[a], counts[b]))
    return np.nanmean(np.stack(per_pair), axis=0)
