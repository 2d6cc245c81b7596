"""Gene mapping into the shared vocabulary: Ensembl IDs, mouse orthologs, duplicate merging."""

import numpy as np
from conftest import make_adata

from scsigmoid.data.genes import build_vocab, map_genes, read_vocab, write_vocab
from scsigmoid.data.tokenise import to_vocab_matrix


def test_ensembl_ids_map_to_symbols(maps):
    got = map_genes(["ENSG00000000001", "ENSG00000000003.7", "ENSG00000099999", "gb"], "human", maps)
    assert got.tolist() == ["GA", "GC", None, "GB"]


def test_mouse_orthologs(maps):
    got = map_genes(["Ga", "GBX", "Zzz", "ga"], "mouse", maps)
    assert got.tolist() == ["GA", "GB", None, "GA"]


def test_human_plus_mouse(maps):
    assert map_genes(["GA", "Gbx"], "human+mouse", maps).tolist() == ["GA", "GB"]
    assert map_genes(["Gbx"], "human", maps).tolist() == [None]


def test_duplicates_after_mapping_are_summed(maps):
    vocab = build_vocab([["GA", "GB"]])
    adata = make_adata([[1, 2, 5], [0, 3, 0]], var_names=["Ga", "Gb", "Gbx"])
    M, info = to_vocab_matrix(adata, vocab, maps, "mouse")
    assert M.toarray()[:, 4:].tolist() == [[1, 7], [0, 3]]
    assert info["n_mapped"] == 3 and info["n_in_vocab"] == 2


def test_vocab_sorted_specials_first_and_roundtrip(tmp_path):
    vocab = build_vocab([["GB", "GA", None], ["GC", "GA"]])
    assert vocab["gene"].tolist() == ["<pad>", "<cls>", "<mask>", "<unk>", "GA", "GB", "GC"]
    assert np.array_equal(vocab["token_id"], np.arange(7))
    write_vocab(vocab, tmp_path / "vocab.tsv")
    assert read_vocab(tmp_path / "vocab.tsv").equals(vocab)
