"""scIB diagnostics and the cell bootstrap on synthetic embeddings; the Leiden clustering checked
against scib-metrics' own nmi_ari_cluster_labels_leiden."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from scsigmoid.evaluate.embeddings import BASELINE_KEY, embedding_key, parse_embedding_key
from scsigmoid.evaluate.scib import (
    best_leiden_clusters,
    exact_neighbors,
    pca_reduce,
    score_embedding,
    stratified_draws,
)


def _toy(n_per=40, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(["a", "b", "c"], n_per)
    X = rng.normal(size=(len(labels), 6)) + np.repeat(np.eye(6)[:3] * 2.5, n_per, axis=0)
    return X, labels


def test_pca_reduce_reports_pc1_share_hand_worked():
    X = np.array([[10.0, 0.0], [-10.0, 0.0], [0.0, 1.0], [0.0, -1.0]])  # variances 200/3 and 2/3
    reduced, pc1 = pca_reduce(X, 0.95)
    assert reduced.shape == (4, 1) and pc1 == pytest.approx(200 / 202)
    assert pca_reduce(X, 1.0)[0].shape == (4, 2)


def test_best_leiden_clusters_match_scib_metrics():
    import scib_metrics
    from sklearn.metrics.cluster import adjusted_rand_score, normalized_mutual_info_score

    X, labels = _toy(seed=1)
    neighbors = exact_neighbors(X.astype(np.float32), 15)
    ref = scib_metrics.nmi_ari_cluster_labels_leiden(neighbors, labels, optimize_resolution=True, seed=0)
    clusters = best_leiden_clusters(neighbors, labels, seed=0)
    assert normalized_mutual_info_score(labels, clusters) == pytest.approx(ref["nmi"])
    assert adjusted_rand_score(labels, clusters) == pytest.approx(ref["ari"])


def test_stratified_draws_keep_every_type_size():
    labels = np.array(["a"] * 5 + ["b"] * 3 + ["a"] * 2)
    draws = stratified_draws(labels, 50, seed=0)
    assert draws.shape == (50, 10)
    for idx in draws:
        assert (labels[idx] == "a").sum() == 7 and (labels[idx] == "b").sum() == 3
    np.testing.assert_array_equal(draws, stratified_draws(labels, 50, seed=0))


def test_bootstrap_identity_draw_reproduces_the_score_and_silhouette_matches_scib():
    import scib_metrics

    X, labels = _toy(seed=2)
    adata = ad.AnnData(obs=pd.DataFrame({"label": labels}, index=[f"c{i}" for i in range(len(labels))]))
    adata.obsm["X_sigmoid_mean_s0"] = X
    identity = np.arange(len(labels))[None, :]
    draws = np.vstack([identity, stratified_draws(labels, 30, seed=1)])
    scores, boot = score_embedding(adata, embedding_key="X_sigmoid_mean_s0", variance=1.0, draws=draws)
    assert scores["n_pcs"] == 6 and 0 < scores["pc1_share"] < 1
    assert scores["silhouette_label"] == pytest.approx(
        float(scib_metrics.silhouette_label(X.astype(np.float32), labels)), abs=1e-5)
    first = boot.iloc[0]
    for metric in ("nmi", "ari", "silhouette_label", "bio_conservation"):
        assert first[metric] == pytest.approx(scores[metric])
    assert boot["replicate"].tolist() == list(range(31)) and boot["nmi"].std() > 0
    assert score_embedding(adata, embedding_key="X_sigmoid_mean_s0")[1] is None


def test_embedding_keys_carry_the_seed():
    assert embedding_key("sigmoid", "mean", 2) == "X_sigmoid_mean_s2"
    assert embedding_key("softmax", "cls") == "X_softmax_cls"
    assert parse_embedding_key("X_sigmoid_cls_s11") == {"model": "sigmoid", "view": "cls", "seed": 11}
    assert parse_embedding_key(BASELINE_KEY)["model"] == "pca_baseline"
    with pytest.raises(ValueError, match="X_<attention>"):
        parse_embedding_key("X_umap")
