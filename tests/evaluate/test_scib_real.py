"""scIB metrics, baseline and embedding assembly on toy and REAL data (one module: scib-metrics
compiles with JAX/numba once per process). Model embeddings here are SYNTHETIC, built from the
real labels, only to exercise the code."""

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from scsigmoid.evaluate.embeddings import (
    BASELINE_KEY,
    assemble_embeddings,
    baseline_embedding,
    embedding_keys,
    write_h5ad,
)
from scsigmoid.evaluate.scib import (
    benchmarker_table,
    bio_scores,
    pca_keep_variance,
    score_embedding,
)
from scsigmoid.evaluate.umap import umap_coordinates

PBMC3K = Path(__file__).resolve().parents[2] / "../shared/data/pbmc3k_seurat_labeled.h5ad"
pytestmark = pytest.mark.skipif(not PBMC3K.exists(), reason=f"data bundle missing: {PBMC3K}")


@pytest.fixture(scope="module")
def pbmc3k():
    return ad.read_h5ad(PBMC3K)


@pytest.fixture(scope="module")
def assembled(pbmc3k, tmp_path_factory):
    """pbmc3k with the real PCA baseline and two synthetic 'model' embeddings (npz like the trainer's)."""
    tmp = tmp_path_factory.mktemp("embed")
    rng = np.random.default_rng(0)
    labels = pbmc3k.obs["cell_type"].astype(str).to_numpy()
    centres = {lab: rng.normal(size=16) * 4 for lab in np.unique(labels)}
    informative = np.stack([centres[lab] for lab in labels]) + rng.normal(size=(len(labels), 16))
    files = {}
    present = rng.permutation(len(labels))[:-10]  # 10 cells missing from both files
    for att, X in (("softmax", rng.normal(size=(len(labels), 16))), ("sigmoid", informative)):
        order = rng.permutation(present)  # each file in its own order
        files[att] = tmp / f"{att}.npz"
        np.savez(files[att], mean=X[order].astype(np.float16), cls=X[order].astype(np.float16),
                 cell_id=pbmc3k.obs_names.to_numpy()[order].astype(str))
    obs = pd.DataFrame({"cell_id": pbmc3k.obs_names.astype(str), "label": labels, "split": "all"})
    adata = assemble_embeddings(baseline_embedding(obs, pbmc3k, "counts"), files)
    write_h5ad(adata, tmp / "pbmc3k.h5ad")
    return ad.read_h5ad(tmp / "pbmc3k.h5ad"), informative, pbmc3k.obs_names.astype(str)


def test_toy_metrics_follow_scib_metrics_behaviour():
    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b", "c"], 60)
    separated = rng.normal(size=(180, 5)) * 0.3 + np.repeat(np.eye(5)[:3] * 10, 60, axis=0)
    good = bio_scores(separated, labels)
    assert good["nmi"] == pytest.approx(1.0) and good["ari"] == pytest.approx(1.0)
    assert good["silhouette_label"] > 0.9  # already rescaled: (ASW + 1) / 2
    bad = bio_scores(rng.normal(size=(180, 5)), labels)
    assert bad["nmi"] < 0.15 and abs(bad["ari"]) < 0.1 and abs(bad["silhouette_label"] - 0.5) < 0.05
    assert bad["bio_conservation"] == pytest.approx(np.mean([bad["nmi"], bad["ari"], bad["silhouette_label"]]))


def test_pca_keep_variance():
    rng = np.random.default_rng(1)
    X = np.hstack([rng.normal(size=(200, 3)) * 10, rng.normal(size=(200, 7)) * 0.01])
    assert pca_keep_variance(X, 0.95).shape == (200, 3)
    with pytest.raises(ValueError, match="variance"):
        pca_keep_variance(X, 1.5)


def test_assembly_aligns_cells_and_views(assembled):
    adata, informative, names = assembled
    assert adata.n_obs == len(names) - 10  # cells missing from an embedding file are dropped
    assert embedding_keys(adata) == [BASELINE_KEY, "X_softmax_mean", "X_softmax_cls",
                                     "X_sigmoid_mean", "X_sigmoid_cls"]
    assert adata.obsm[BASELINE_KEY].shape[1] == 50
    pos = pd.Index(names).get_indexer(adata.obs_names)
    np.testing.assert_allclose(adata.obsm["X_sigmoid_mean"], informative[pos].astype(np.float16), rtol=1e-3)


def test_real_baseline_and_synthetic_models_on_pbmc3k(assembled):
    adata, _, _ = assembled
    base, _ = score_embedding(adata, embedding_key=BASELINE_KEY, label_key="label")
    # the data bundle README: PCA -> Leiden on pbmc3k gives NMI ~0.79, ARI ~0.63
    assert 0.7 < base["nmi"] < 0.85 and 0.5 < base["ari"] < 0.75 and base["n_pcs"] <= 50
    noise, _ = score_embedding(adata, embedding_key="X_softmax_mean", label_key="label")
    signal, _ = score_embedding(adata, embedding_key="X_sigmoid_mean", label_key="label")
    assert noise["nmi"] < 0.1 < 0.9 < signal["nmi"]
    with pytest.raises(KeyError, match="X_nope"):
        score_embedding(adata, embedding_key="X_nope")


@pytest.mark.slow  # kBET/LISI JAX compiles and UMAP's numba compile: ~2.5 min on 2 cores
def test_benchmarker_and_umap_on_a_subset(assembled):
    adata, _, _ = assembled
    small = adata[:400].copy()
    small.obs["batch"] = np.where(np.arange(small.n_obs) % 2, "b1", "b2")
    table = benchmarker_table(small, embedding_keys=[BASELINE_KEY, "X_sigmoid_mean"])
    assert set(table["embedding"]) == {BASELINE_KEY, "X_sigmoid_mean"}
    assert {"Bio conservation", "Batch correction"} <= set(table["metric_type"])
    assert table["value"].notna().all()
    coords = umap_coordinates(small, embedding_keys=["X_sigmoid_mean"], seed=0)
    again = umap_coordinates(small, embedding_keys=["X_sigmoid_mean"], seed=0)
    assert len(coords) == 400 and np.isfinite(coords[["umap1", "umap2"]]).all().all()
    np.testing.assert_allclose(coords["umap1"], again["umap1"])  # seeded


def test_jax_compilation_cache_keeps_every_compilation(tmp_path):
    """use_jax_compilation_cache: an unset cache goes under XDG_CACHE_HOME and keeps even a
    compilation of milliseconds (JAX's defaults would not write it); a configured one wins. In
    subprocesses: JAX's configuration is process-wide."""
    import os
    import subprocess
    import sys

    code = """
import jax, jax.numpy as jnp
from scsigmoid.evaluate.scib import use_jax_compilation_cache
print(use_jax_compilation_cache())
jax.jit(lambda x: x * 2 + 1)(jnp.arange(3.0)).block_until_ready()
"""
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    out = subprocess.run([sys.executable, "-c", code], env={**env, "XDG_CACHE_HOME": str(tmp_path)},
                         capture_output=True, text=True, check=True, timeout=300).stdout.strip()
    cache = tmp_path / "sigmoid-sc-replication" / "jax"
    assert out.splitlines()[-1] == str(cache)
    assert any(cache.iterdir()), "the tiny compilation was not written"
    mine = tmp_path / "mine"
    out = subprocess.run([sys.executable, "-c", code], env={**env, "JAX_COMPILATION_CACHE_DIR": str(mine)},
                         capture_output=True, text=True, check=True, timeout=300).stdout.strip()
    assert out.splitlines()[-1] == str(mine)
