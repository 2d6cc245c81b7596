"""Dataset sheet validation, including the shipped sheet."""

import warnings
from pathlib import Path

import pandas as pd
import pytest

from scsigmoid.data.download import PlaceholderSourceError, resolve_source
from scsigmoid.data.sheet import (
    COLUMNS,
    PlaceholderSourceWarning,
    check_config_datasets,
    local_path,
    read_sheet,
    validate_sheet,
)

ROOT = Path(__file__).resolve().parents[2]


def sheet(*rows):
    return pd.DataFrame([dict(zip(COLUMNS, r, strict=True)) for r in rows])


GOOD = [
    ("pre", "pretrain", "local:pre.h5ad", "", "", "human", ""),
    ("ev", "eval", "local:ev.h5ad", "cell_type", "", "mouse", ""),
]


def test_good_sheet():
    out = validate_sheet(sheet(*GOOD))
    assert out["role"].tolist() == ["pretrain", "eval"]


@pytest.mark.parametrize(
    "row, message",
    [
        (("x", "training", "local:x.h5ad", "", "", "human", ""), "unknown role 'training'"),
        (("x", "extra", "local:x.h5ad", "", "", "fish", ""), "unknown species 'fish'"),
        (("x", "extra", "ftp:x", "", "", "human", ""), "source 'ftp:x' must be"),
        (("x", "eval", "local:x.h5ad", "", "", "human", ""), "needs a label_key"),
        (("pre", "extra", "local:y.h5ad", "", "", "human", ""), "duplicate dataset name"),
        (("x", "eval", "local:pre.h5ad", "l", "", "human", ""), "both pretrain and eval"),
    ],
)
def test_bad_rows(row, message):
    with pytest.raises(ValueError, match=message):
        validate_sheet(sheet(*GOOD, row), where="s.tsv")


def test_missing_column():
    with pytest.raises(ValueError, match="missing column.*species"):
        validate_sheet(sheet(*GOOD).drop(columns="species"))


def test_pbmc3k_duplicate_never_pretrained():
    rows = [("pbmc3k_seurat_labeled", "eval", "local:a.h5ad", "cell_type", "", "human", ""),
            ("pbmc3k_raw_allgenes_scToolbox", "pretrain", "local:b.h5ad", "", "", "human", "")]
    with pytest.raises(ValueError, match="same cells as the eval set pbmc3k_seurat_labeled"):
        validate_sheet(sheet(*rows))


def test_missing_file_names_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="dataset sheet .* not found"):
        read_sheet(tmp_path / "nope.tsv")


def test_shipped_sheet_is_valid():
    s = read_sheet(ROOT / "config" / "datasets.tsv")
    assert (s["role"] == "eval").sum() == 6
    assert (s["role"] == "pretrain").sum() == 6
    assert s.set_index("name").loc["pbmc3k_raw_allgenes_scToolbox", "role"] == "extra"


def test_paper_sheet_warns_once_about_its_placeholders():
    """Five eval ids are unknown: the sheet still parses (the workflow plans) with one warning
    naming exactly those five datasets."""
    raw = pd.read_csv(ROOT / "config" / "paper_datasets.tsv", sep="\t", comment="#", dtype=str,
                      keep_default_na=False)
    assert (raw["role"] == "eval").sum() == 6 and (raw["role"] == "pretrain").sum() == 1
    with pytest.warns(PlaceholderSourceWarning) as record:
        s = read_sheet(ROOT / "config" / "paper_datasets.tsv")
    placeholder_warnings = [w for w in record if issubclass(w.category, PlaceholderSourceWarning)]
    assert len(placeholder_warnings) == 1
    message = str(placeholder_warnings[0].message)
    assert "5 dataset(s)" in message and "paper_datasets.tsv" in message
    for name in ("indonesian_pbmc", "healthy_colon", "aging_pbmc", "lung_acr", "heart_oft"):
        assert name in message
    assert "adolescent_brain" not in message and "census" not in message.split("fetched:")[1]
    assert len(s) == 7
    filled = raw.assign(source=raw["source"].str.replace(
        r"cellxgene:PLACEHOLDER.*", "cellxgene:" + "0" * 8 + "-0000-0000-0000-" + "0" * 12, regex=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a filled sheet is valid and warns about nothing
        validate_sheet(filled)


def test_placeholder_does_not_hide_other_errors():
    row = ("x", "eval", "cellxgene:PLACEHOLDER-x", "", "", "human", "")
    with pytest.raises(ValueError, match="needs a label_key"):
        validate_sheet(sheet(*GOOD, row))


def test_fetching_a_placeholder_names_dataset_sheet_and_fix(tmp_path):
    with pytest.raises(PlaceholderSourceError) as err:
        resolve_source("cellxgene:PLACEHOLDER-heart-oft", data_dir=tmp_path, cache_dir=tmp_path,
                       name="heart_oft", sheet="config/paper_datasets.tsv")
    text = str(err.value)
    assert "heart_oft" in text and "config/paper_datasets.tsv" in text
    assert "cellxgene:<36-character dataset id>" in text
    assert not list(tmp_path.iterdir())  # nothing was downloaded or created


def test_scale_column_optional_checked_and_shipped():
    assert validate_sheet(sheet(*GOOD))["scale"].tolist() == ["auto", "auto"]  # older sheets
    with_scale = sheet(*GOOD).assign(scale=["counts", ""])
    assert validate_sheet(with_scale)["scale"].tolist() == ["counts", "auto"]
    with pytest.raises(ValueError, match="unknown scale 'log2'.*counts, log1p_cp10k, cp10k, fpkm_tpm"):
        validate_sheet(sheet(*GOOD).assign(scale=["counts", "log2"]))
    shipped = read_sheet(ROOT / "config" / "datasets.tsv").set_index("name")["scale"]
    assert shipped["pbmc_20samples_tidytranscriptomics"] == "auto"  # raw and log cells mixed
    assert shipped["pbmc3k_seurat_labeled"] == "counts"


def test_local_paths_relative_or_absolute(tmp_path):
    assert local_path("local:x.h5ad", "../shared/data") == Path("../shared/data/x.h5ad")
    assert local_path("local:sub/x.h5ad", tmp_path) == tmp_path / "sub" / "x.h5ad"
    assert local_path("local:/abs/x.h5ad", "../shared/data") == Path("/abs/x.h5ad")
    assert local_path("/abs/x.h5ad", "../shared/data") == Path("/abs/x.h5ad")
    assert local_path("local:~/x.h5ad", "d") == Path.home() / "x.h5ad"
    ok = sheet(*GOOD, ("abs", "extra", "/data/mine/abs.h5ad", "", "", "human", ""))
    assert validate_sheet(ok)["source"].iloc[-1] == "/data/mine/abs.h5ad"
    (tmp_path / "abs.h5ad").write_bytes(b"")
    assert resolve_source(f"local:{tmp_path}/abs.h5ad", data_dir="../nowhere") == tmp_path / "abs.h5ad"
    with pytest.raises(FileNotFoundError, match="dataset y: /gone/y.h5ad .*fix the path in the sheet"):
        resolve_source("local:/gone/y.h5ad", data_dir=tmp_path, name="y")


def test_reserved_name():
    with pytest.raises(ValueError, match="'pretrain' is reserved"):
        validate_sheet(sheet(*GOOD, ("pretrain", "extra", "local:p.h5ad", "", "", "human", "")))


@pytest.mark.parametrize("umap, message", [
    ("nope", "'nope' is not in the sheet"),
    ("pre", "'pre' has role 'pretrain'"),
])
def test_umap_dataset_must_be_an_eval_dataset(umap, message):
    s = validate_sheet(sheet(*GOOD))
    with pytest.raises(ValueError, match=f"config evaluate.umap_dataset {message} .*one of the sheet's eval datasets: ev"):
        check_config_datasets(s, {"umap_dataset": umap}, where="s.tsv")
    check_config_datasets(s, {"umap_dataset": "ev"})
