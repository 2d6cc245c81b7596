"""Checks on the real offline bundle (skipped where ../shared/data is absent)."""

import warnings
from pathlib import Path

import anndata as ad
import pytest

from scsigmoid.data.build import check_holdout
from scsigmoid.data.checks import non_integer_cells
from scsigmoid.data.tokenise import _as_csr

BUNDLE = Path(__file__).resolve().parents[3] / "shared" / "data"
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
