"""Checks on the real offline bundle (skipped where ../shared/data is absent)."""

import os
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pytest

from scsigmoid.data.build import check_holdout
from scsigmoid.data.checks import non_integer_cells
from scsigmoid.data.genes import GeneMaps, build_vocab, map_genes, read_vocab
from scsigmoid.data.sheet import read_sheet
from scsigmoid.data.tokenise import _as_csr, tokenise

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = Path(os.environ.get("SCSIGMOID_DATA_DIR", ROOT.parent / "shared" / "data"))
pytestmark = pytest.mark.skipif(not BUNDLE.exists(), reason="offline data bundle not present")


def read(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ad.read_h5ad(BUNDLE / f"{name}.h5ad")


def test_pbmc3k_raw_copy_is_caught_by_barcodes():
    raw = set(read("pbmc3k_raw_allgenes_scToolbox").obs_names)
    labelled = set(read("pbmc3k_seurat_labeled").obs_names)
    with pytest.raises(ValueError, match="pbmc3k_raw shares 100%"):
        check_holdout({"pbmc3k_raw": raw}, {"pbmc3k": labelled}, max_overlap=0.2)
    other = set(read("pbmc1k_pisces_unlabeled").obs_names)
    check_holdout({"pbmc1k": other}, {"pbmc3k": labelled}, max_overlap=0.2)  # chance overlap only


def test_mixed_file_has_six_log_normalised_samples():
    adata = read("pbmc_20samples_tidytranscriptomics")
    is_log = non_integer_cells(_as_csr(adata.X, ""))
    per_sample = adata.obs.assign(log=is_log).groupby("sample", observed=True)["log"].mean()
    assert set(per_sample.round(6)) == {0.0, 1.0}  # each sample all raw or all log
    assert (per_sample == 1.0).sum() == 6


def test_frozen_vocabulary_is_the_one_the_sheet_gave_before_aliases():
    """reference/vocab_bundle.tsv.gz = the sorted union of the mapped genes of the sheet's pretrain
    and eval datasets under the bundle's gene maps (no aliases): the vocabulary the committed
    small models were trained with."""
    sheet = read_sheet(ROOT / "config" / "datasets.tsv")
    maps = GeneMaps.load(BUNDLE / "gene_maps")
    genes = []
    for _, row in sheet[sheet["role"].isin(["pretrain", "eval"])].iterrows():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            backed = ad.read_h5ad(BUNDLE / row["source"].removeprefix("local:"), backed="r")
        genes.append(map_genes(backed.var_names, row["species"], maps))
    assert read_vocab(ROOT / "reference" / "vocab_bundle.tsv.gz").equals(build_vocab(genes))


@pytest.mark.parametrize("name", ["pbmc3k_seurat_labeled", "pbmc_20samples_tidytranscriptomics"])
def test_declared_scale_keeps_the_tokens_of_the_per_cell_reading(name):
    """The sheet's scale of a bundle file reads it as the per-cell detection did."""
    sheet = read_sheet(ROOT / "config" / "datasets.tsv").set_index("name")
    adata = read(name)[:300]
    vocab = read_vocab(ROOT / "reference" / "vocab_bundle.tsv.gz")
    maps = GeneMaps.load(BUNDLE / "gene_maps")
    medians = np.ones(len(vocab))
    declared, _, _ = tokenise(adata, vocab, medians, maps=maps, scale=sheet.loc[name, "scale"])
    per_cell, _, _ = tokenise(adata, vocab, medians, maps=maps, scale="auto")
    assert all(np.array_equal(a, b) for a, b in zip(declared, per_cell, strict=True))
