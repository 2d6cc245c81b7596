"""Gene mapping into the shared vocabulary: Ensembl IDs, mouse orthologs, duplicate merging."""

from pathlib import Path

import numpy as np
import pandas as pd
from conftest import make_adata

from scsigmoid.data.gene_aliases import build_alias_table, read_alias_table, write_alias_table
from scsigmoid.data.genes import GeneMaps, build_vocab, map_genes, read_vocab, write_vocab
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


ROOT = Path(__file__).resolve().parents[2]
SHIPPED_ALIASES = ROOT / "reference" / "gene_aliases_human.tsv.gz"


def current_symbol_maps(aliases):
    """GENCODE-like maps knowing only current symbols (as GENCODE v44 does)."""
    gencode = pd.DataFrame({"id": ["ENSG00000130770", "ENSG00000198843", "ENSG00000184897",
                                   "ENSG00000000001"],
                            "symbol": ["ATP5IF1", "SELENOT", "H1-10", "GA"]})
    ortho = pd.DataFrame({"human": ["GA"], "mouse": ["Mx1"]})
    return GeneMaps.from_frames(gencode, ortho, aliases)


def test_retired_symbols_map_through_the_shipped_table():
    maps = current_symbol_maps(read_alias_table(SHIPPED_ALIASES))
    got = map_genes(["ATPIF1", "SELT", "H1FX", "Atpif1", "GA"], "human", maps)
    assert got.tolist() == ["ATP5IF1", "SELENOT", "H1-10", "ATP5IF1", "GA"]
    assert map_genes(["ATPIF1"], "human", current_symbol_maps(None)).tolist() == [None]


def test_shipped_alias_table_has_provenance():
    import gzip

    with gzip.open(SHIPPED_ALIASES, "rt") as fh:
        header = [line for line in fh.read(2000).splitlines() if line.startswith("#")]
    assert any("org.Hs.eg.db" in h for h in header) and any("EGSOURCEDATE" in h for h in header)


def test_alias_never_merges_into_a_gene_the_file_names():
    maps = current_symbol_maps({"ATPIF1": "ATP5IF1", "OLDGA": "GA"})
    # ATP5IF1 is in the file itself: its alias is a different feature there, left unmapped
    got = map_genes(["ATPIF1", "ATP5IF1", "OLDGA"], "human", maps)
    assert got.tolist() == [None, "ATP5IF1", "GA"]


def test_mouse_symbol_wins_over_a_human_alias_in_mixed_files():
    maps = current_symbol_maps({"MX1": "SELENOT"})  # a human alias spelled like a mouse gene
    assert map_genes(["Mx1"], "human+mouse", maps).tolist() == ["GA"]  # the mouse ortholog
    assert map_genes(["Mx1"], "mouse", maps).tolist() == ["GA"]
    assert map_genes(["MX1"], "human", maps).tolist() == ["SELENOT"]


def test_alias_table_builder(tmp_path):
    import sqlite3

    db = tmp_path / "org.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("create table metadata (name text, value text)")
        con.execute("insert into metadata values ('EGSOURCEDATE', '2022-Sep12')")
        con.execute("create table gene_info (_id integer, gene_name text, symbol text)")
        con.execute("create table alias (_id integer, alias_symbol text)")
        con.executemany("insert into gene_info values (?, '', ?)",
                        [(1, "ATP5IF1"), (2, "SELENOT"), (3, "KRAS")])
        con.executemany("insert into alias values (?, ?)",
                        [(1, "ATP5IF1"), (1, "ATPIF1"), (2, "SELT"), (3, "AMBIG"), (2, "AMBIG"),
                         (1, "KRAS")])
    table, meta = build_alias_table(db)
    # own symbol dropped, a current symbol (KRAS) never an alias, AMBIG names two genes: dropped
    assert table.values.tolist() == [["ATPIF1", "ATP5IF1"], ["SELT", "SELENOT"]]
    assert meta["aliases_ambiguous_dropped"] == "1"
    write_alias_table(table, meta, tmp_path / "a.tsv.gz", "r-bioc-org.hs.eg.db 3.16.0-1")
    assert read_alias_table(tmp_path / "a.tsv.gz") == {"ATPIF1": "ATP5IF1", "SELT": "SELENOT"}
    first = (tmp_path / "a.tsv.gz").read_bytes()
    write_alias_table(table, meta, tmp_path / "a.tsv.gz", "r-bioc-org.hs.eg.db 3.16.0-1")
    assert (tmp_path / "a.tsv.gz").read_bytes() == first  # reproducible bytes


def test_frozen_vocabulary_matches_the_committed_models():
    import json

    import yaml

    path = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["data"]["vocab"]
    vocab = read_vocab(ROOT / path)
    summaries = sorted((ROOT / "results" / "train" / "runs").glob("small_*/summary.json"))
    assert summaries, "no committed small runs to compare with"
    for summary in summaries:
        assert json.loads(summary.read_text())["model"]["vocab_size"] == len(vocab), summary
