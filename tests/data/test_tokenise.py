"""TEDDY-G tokenisation against tokens written out by hand."""

import numpy as np
import pytest
from conftest import GENES, make_adata

from scsigmoid.data.checks import DatasetError, non_integer_cells
from scsigmoid.data.corpus import CLS_ID
from scsigmoid.data.tokenise import normalise, tokenise

# medians of GA..GE over the "pretraining corpus"
MEDIANS = np.array([np.nan] * 4 + [1.0, 2.0, 1.0, 1.0, 4.0])
# cell 0: CP10k [1000, 0, 3000, 0, 6000] / med -> GA 1000, GC 3000, GE 1500  => GC, GE, GA
# cell 1: CP10k [2500, 2500, 0, 5000, 0] / med -> GA 2500, GB 1250, GD 5000  => GD, GA, GB
# cell 2: CP10k [3333, 6667, 0, 0, 0]   / med -> GA 3333, GB 3333 (tie)     => GA, GB (by id)
EXPECTED = [[CLS_ID, 6, 8, 4], [CLS_ID, 7, 4, 5], [CLS_ID, 4, 5]]


def test_hand_made_cells(hand_adata, vocab, maps):
    seqs, obs, info = tokenise(hand_adata, vocab, MEDIANS, maps=maps, label_key="cell_type",
                               batch_key="donor", dataset="toy")
    assert [s.tolist() for s in seqs] == EXPECTED
    assert obs["label"].tolist() == ["t1", "t2", "t1"]
    assert obs["batch"].tolist() == ["d1", "d1", "d2"]
    assert info["n_log_cells"] == 0 and info["n_cells_dropped_empty"] == 0


def test_max_len_caps_sequences(hand_adata, vocab, maps):
    seqs, _, _ = tokenise(hand_adata, vocab, MEDIANS, maps=maps, max_len=2)
    assert [s.tolist() for s in seqs] == [e[:2] for e in EXPECTED]


def test_log_normalised_cells_give_same_tokens(hand_adata, vocab, maps):
    X = np.asarray(hand_adata.X, dtype=np.float64)
    cp10k = X / X.sum(1, keepdims=True) * 1e4
    mixed = np.vstack([np.log1p(cp10k[0]), X[1], np.log1p(cp10k[2])])
    adata = make_adata(mixed)
    seqs, obs, info = tokenise(adata, vocab, MEDIANS, maps=maps)
    assert [s.tolist() for s in seqs] == EXPECTED
    assert obs["log_input"].tolist() == [True, False, True]
    assert info["n_log_cells"] == 2


def test_non_integer_cells():
    import scipy.sparse as sp
    X = sp.csr_matrix(np.array([[0, 3, 5], [0.69, 0, 1.1], [0, 0, 0]]))
    assert non_integer_cells(X).tolist() == [False, True, False]
    assert np.allclose(np.asarray(normalise(X).sum(1)).ravel(), [1e4, 1e4, 0])


def test_unseen_genes_dropped_or_kept(vocab, maps):
    adata = make_adata([[1, 0, 0, 0, 1]])
    med = MEDIANS.copy()
    med[8] = np.nan  # GE never seen in pretraining
    drop, _, _ = tokenise(adata, vocab, med, maps=maps, unseen="drop")
    keep, _, _ = tokenise(adata, vocab, med, maps=maps, unseen="median1")
    assert drop[0].tolist() == [CLS_ID, 4]
    assert keep[0].tolist() == [CLS_ID, 4, 8]  # tie at 5000: ascending token id


def test_empty_cells_dropped_with_warning(vocab, maps):
    adata = make_adata([[1, 0, 0, 0, 0], [0, 0, 0, 0, 0]])
    with pytest.warns(UserWarning, match="dropped 1 of 2 cells"):
        seqs, obs, info = tokenise(adata, vocab, MEDIANS, maps=maps, dataset="toy")
    assert len(seqs) == 1 and obs["cell_id"].tolist() == ["c0"]
    assert info["n_cells_dropped_empty"] == 1


@pytest.mark.parametrize("key", ["label_key", "batch_key"])
def test_missing_obs_key(hand_adata, vocab, maps, key):
    with pytest.raises(DatasetError, match="obs has no column 'nope'.*Fix the sheet"):
        tokenise(hand_adata, vocab, MEDIANS, maps=maps, dataset="toy", **{key: "nope"})


def test_negative_values(vocab, maps):
    with pytest.raises(ValueError, match="toy: X holds negative values"):
        tokenise(make_adata([[1, -2, 0, 0, 0]]), vocab, MEDIANS, maps=maps, dataset="toy")


def test_non_numeric_values(vocab, maps):
    adata = make_adata(np.array([["a", "b", "c", "d", "e"]], dtype=object))
    with pytest.raises(DatasetError, match="non-numeric"):
        tokenise(adata, vocab, MEDIANS, maps=maps, dataset="toy")


def test_nan_values(vocab, maps):
    with pytest.raises(ValueError, match="NaN"):
        tokenise(make_adata([[1, np.nan, 0, 0, 0]]), vocab, MEDIANS, maps=maps)


def test_duplicate_gene_names(vocab, maps):
    adata = make_adata([[1, 2, 3, 4, 5]], var_names=["GA", "GB", "GA", "GD", "GE"])
    with pytest.raises(ValueError, match="toy: duplicate gene names.*'GA'"):
        tokenise(adata, vocab, MEDIANS, maps=maps, dataset="toy")


def test_unknown_species(hand_adata, vocab, maps):
    with pytest.raises(ValueError, match="unknown species 'zebrafish'"):
        tokenise(hand_adata, vocab, MEDIANS, maps=maps, species="zebrafish")


def test_unmapped_fraction_limit(vocab, maps):
    adata = make_adata([[1, 2, 3, 4, 5]], var_names=["GA", "X1", "X2", "X3", "GE"])
    with pytest.raises(ValueError, match="60.0% of 5 genes map to no human symbol"):
        tokenise(adata, vocab, MEDIANS, maps=maps, max_unmapped_fraction=0.5)
    seqs, _, info = tokenise(adata, vocab, MEDIANS, maps=maps, max_unmapped_fraction=0.6)
    assert info["n_mapped"] == 2 and set(seqs[0][1:].tolist()) == {4, 8}


def test_gene_order_in_file_does_not_matter(hand_adata, vocab, maps):
    perm = [4, 2, 0, 3, 1]
    shuffled = make_adata(np.asarray(hand_adata.X)[:, perm], var_names=[GENES[i] for i in perm])
    seqs, _, _ = tokenise(shuffled, vocab, MEDIANS, maps=maps)
    assert [s.tolist() for s in seqs] == EXPECTED
