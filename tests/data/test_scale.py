"""The sheet's scale column: every reading of the same cells gives the hand-computed ranks, and
readings that cannot be right are refused with the file, what was seen and the value to set."""

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import make_adata
from test_tokenise import EXPECTED, MEDIANS

from scsigmoid.data.checks import DatasetError, linear_values, suggest_scale
from scsigmoid.data.tokenise import log1p_cp10k, tokenise

COUNTS = np.array([[1, 0, 3, 0, 6],
                   [2, 2, 0, 4, 0],
                   [1, 2, 0, 0, 0]], dtype=np.float64)
CP10K = COUNTS / COUNTS.sum(1, keepdims=True) * 1e4
# FPKM of the same counts with gene lengths (kb) GA 2, GB 0.5, GC 0.5, GD 8, GE 0.5: per-cell
# counts / length / total * 1e6. Ranked as they are (length normalisation kept), by hand:
# cell 0: /len [0.5, 0, 6, 0, 12] / med [1,2,1,1,4] -> GA 0.5, GC 6, GE 3  => GC, GE, GA
# cell 1: /len [1, 4, 0, 0.5, 0]  / med              -> GA 1, GB 2, GD 0.5  => GB, GA, GD
# cell 2: /len [0.5, 4, 0, 0, 0]  / med              -> GA 0.5, GB 2        => GB, GA
LENGTH_KB = np.array([2, 0.5, 0.5, 8, 0.5])
FPKM = COUNTS / LENGTH_KB / COUNTS.sum(1, keepdims=True) * 1e6
EXPECTED_FPKM = [[1, 6, 8, 4], [1, 5, 4, 7], [1, 5, 4]]


def tokens(X, scale, vocab, maps):
    seqs, obs, info = tokenise(make_adata(X), vocab, MEDIANS, maps=maps, scale=scale,
                               dataset="toy", path="/data/toy.h5ad")
    return [s.tolist() for s in seqs], obs, info


@pytest.mark.parametrize("X, scale", [(COUNTS, "counts"), (COUNTS, "auto"), (CP10K, "cp10k"),
                                      (np.log1p(CP10K), "log1p_cp10k"), (np.log1p(CP10K), "auto"),
                                      (FPKM, "fpkm_tpm")])
def test_every_scale_gives_the_hand_computed_ranks(X, scale, vocab, maps):
    seqs, obs, info = tokens(X, scale, vocab, maps)
    assert seqs == (EXPECTED_FPKM if scale == "fpkm_tpm" else EXPECTED)
    read_as_log = scale == "log1p_cp10k" or (scale == "auto" and X is not COUNTS)
    assert (obs["log_input"] == read_as_log).all()
    assert info["scale"] == scale


def test_fpkm_ranks_differ_from_the_counts_reading(vocab, maps):
    # the FPKM fixture is not a disguised counts matrix: read as CP10k-like it still gives its
    # own ranks, and those are not the counts ranks
    assert tokens(FPKM, "cp10k", vocab, maps)[0] == EXPECTED_FPKM != EXPECTED


@pytest.mark.parametrize("X, scale, seen, fix", [
    (CP10K, "counts", "non-integer values", "cp10k"),
    (FPKM, "counts", "non-integer values", "fpkm_tpm"),
    (np.log1p(CP10K), "counts", "non-integer values", "log1p_cp10k"),
    (FPKM, "log1p_cp10k", "values reach", "fpkm_tpm"),
    (CP10K, "log1p_cp10k", "values reach 6667", "cp10k"),
    (COUNTS, "log1p_cp10k", "hold only integer values", "counts"),
    (np.log1p(CP10K), "cp10k", "looks like log1p", "log1p_cp10k"),
    (FPKM, "auto", "non-integer values above 20", "fpkm_tpm"),
    (CP10K, "auto", "non-integer values above 20", "cp10k"),
])
def test_impossible_readings_are_refused(X, scale, seen, fix, vocab, maps):
    with pytest.raises(DatasetError) as err:
        tokens(X, scale, vocab, maps)
    message = str(err.value)
    assert message.startswith("toy (/data/toy.h5ad): ") and f"scale '{scale}'" in message
    assert seen in message and f"scale column to {fix}" in message


def test_suggested_scale():
    assert suggest_scale(sp.csr_matrix(COUNTS)) == "counts"
    assert suggest_scale(sp.csr_matrix(CP10K)) == "cp10k"
    assert suggest_scale(sp.csr_matrix(np.log1p(CP10K))) == "log1p_cp10k"
    assert suggest_scale(sp.csr_matrix(FPKM)) == "fpkm_tpm"


def test_mixed_raw_and_log_cells_only_under_auto(vocab, maps):
    mixed = np.vstack([np.log1p(CP10K[0]), COUNTS[1], np.log1p(CP10K[2])])
    assert tokens(mixed, "auto", vocab, maps)[0] == EXPECTED
    for scale in ("counts", "log1p_cp10k"):
        with pytest.raises(DatasetError):
            tokens(mixed, scale, vocab, maps)


def test_linear_values_leave_the_input_alone():
    X = sp.csr_matrix(np.log1p(CP10K))
    before = X.data.copy()
    out, is_log = linear_values(X, "log1p_cp10k")
    assert np.allclose(out.toarray(), CP10K) and is_log.all() and np.array_equal(X.data, before)
    with pytest.raises(DatasetError, match="unknown scale 'log2'"):
        linear_values(X, "log2")


@pytest.mark.parametrize("X, scale", [(COUNTS, "counts"), (CP10K, "cp10k"),
                                      (np.log1p(CP10K), "log1p_cp10k"), (COUNTS, "auto")])
def test_pca_baseline_input_is_log1p_cp10k_of_every_scale(X, scale):
    """The PCA baseline reads the same log1p CP10k matrix from any declared scale."""
    got = log1p_cp10k(make_adata(X), scale).toarray()
    assert np.allclose(got, np.log1p(CP10K))
