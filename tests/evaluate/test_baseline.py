"""The PCA baseline has one definition (baseline_embedding) for the data stage and the evaluation,
and it reads every scale of the sheet: the same cells stored as counts, CP10k or log1p CP10k give
the same baseline, equal to a hand-computed PCA (numpy SVD) of log1p CP10k."""

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from scsigmoid.evaluate.embeddings import BASELINE_KEY, assemble_embeddings, baseline_embedding

RNG = np.random.default_rng(3)
# 40 cells x 12 genes in two cell types with different expression programmes, as integer counts
_RATES = np.where(np.arange(40)[:, None] < 20, np.linspace(1, 12, 12), np.linspace(12, 1, 12))
COUNTS = RNG.poisson(_RATES * RNG.uniform(0.5, 2.0, size=(40, 1))).astype(np.float64)
COUNTS[COUNTS.sum(1) == 0, 0] = 1
CP10K = COUNTS / COUNTS.sum(1, keepdims=True) * 1e4
CELLS = [f"cell{i}" for i in range(40)]
GENES = [f"G{j}" for j in range(12)]


def adata(X, cells=CELLS):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ad.AnnData(X=np.asarray(X, dtype=np.float32), obs=pd.DataFrame(index=cells),
                          var=pd.DataFrame(index=GENES))


def corpus_obs(cells=CELLS):
    return pd.DataFrame({"cell_id": cells, "label": ["a" if int(c[4:]) < 20 else "b" for c in cells]})


def hand_pca(counts, n_pcs, log=np.log1p):
    """log1p CP10k, every gene (fewer than n_hvg), each gene scaled to unit variance (scanpy's
    ddof=1, clipped at 10), PCA by SVD."""
    X = log(counts / counts.sum(1, keepdims=True) * 1e4)
    X = (X - X.mean(0)) / X.std(0, ddof=1)
    X = np.clip(X, None, 10)
    X = X - X.mean(0)
    U, S, _ = np.linalg.svd(X, full_matrices=False)
    return U[:, :n_pcs] * S[:n_pcs]


def same_up_to_sign(a, b, atol):
    signs = np.sign(np.sum(a * b, axis=0))
    np.testing.assert_allclose(a, b * signs, atol=atol)


@pytest.mark.parametrize("X, scale", [(COUNTS, "counts"), (CP10K, "cp10k"), (np.log1p(CP10K), "log1p_cp10k"),
                                      (COUNTS, "auto"), (np.log1p(CP10K), "auto")])
def test_every_scale_gives_the_hand_computed_baseline(X, scale):
    out = baseline_embedding(corpus_obs(), adata(X), scale, n_hvg=2000, n_pcs=5, seed=0)
    assert list(out.obs["cell_id"]) == CELLS and list(out.obs["label"].cat.categories) == ["a", "b"]
    # float32 input: agreement to ~1e-4 of PCs of size ~3
    same_up_to_sign(out.obsm[BASELINE_KEY], hand_pca(COUNTS, 5), atol=2e-3)


def test_a_cp10k_matrix_is_not_read_as_log_values():
    # the retired heuristic used non-integer input as log values: CP10k then got no log1p
    out = baseline_embedding(corpus_obs(), adata(CP10K), "cp10k", n_pcs=5)
    wrong = hand_pca(COUNTS, 5, log=lambda x: x)  # PCA of CP10k as it is
    assert not np.allclose(np.abs(out.obsm[BASELINE_KEY]), np.abs(wrong), atol=1e-2)


def test_the_corpus_cells_in_their_order_and_missing_ones_refused():
    cells = CELLS[::-1][:30]  # the corpus keeps 30 cells, in another order
    out = baseline_embedding(corpus_obs(cells), adata(CP10K), "cp10k", n_pcs=5)
    assert list(out.obs_names) == cells
    rows = [CELLS.index(c) for c in cells]
    same_up_to_sign(out.obsm[BASELINE_KEY], hand_pca(COUNTS[rows], 5), atol=2e-3)
    with pytest.raises(ValueError, match=r"toy \(/x.h5ad\): 1 of 41 corpus cells are not in the expression file"):
        baseline_embedding(corpus_obs(CELLS + ["cell99"]), adata(COUNTS), "counts", where="toy (/x.h5ad): ")


def test_the_evaluation_keeps_the_data_stage_baseline(tmp_path):
    base = baseline_embedding(corpus_obs(), adata(CP10K), "cp10k", n_pcs=5)
    covered = CELLS[5:]  # the model files miss the first 5 cells
    files = {}
    for att in ("softmax", "sigmoid"):
        files[(att, 0)] = tmp_path / f"{att}.npz"
        np.savez(files[(att, 0)], mean=RNG.normal(size=(35, 4)), cls=RNG.normal(size=(35, 4)),
                 cell_id=np.array(covered[::-1]))
    out = assemble_embeddings(base, files)
    assert list(out.obs_names) == covered
    np.testing.assert_array_equal(out.obsm[BASELINE_KEY], base.obsm[BASELINE_KEY][5:])
    assert out.uns["embedding_keys"][0] == BASELINE_KEY and "X_sigmoid_cls_s0" in out.obsm


def test_only_the_configured_views_are_read_and_a_missing_one_is_named(tmp_path):
    from scsigmoid.evaluate.embeddings import read_model_embedding

    path = tmp_path / "e.npz"
    np.savez(path, cell_id=np.array(["a", "b"]), mean=np.ones((2, 3), np.float16))
    ids, views = read_model_embedding(path, ["mean"])
    assert list(ids) == ["a", "b"] and list(views) == ["mean"]
    with pytest.raises(ValueError, match=r"missing array\(s\) \['cls'\].*evaluate.views"):
        read_model_embedding(path, ["mean", "cls"])
