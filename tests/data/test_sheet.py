"""Dataset sheet validation, including the shipped sheet."""

from pathlib import Path

import pandas as pd
import pytest

from scsigmoid.data.sheet import COLUMNS, read_sheet, validate_sheet

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


def test_paper_sheet_flags_its_placeholders():
    """Five eval ids are unknown: the sheet must refuse to run until they are filled in."""
    raw = pd.read_csv(ROOT / "config" / "paper_datasets.tsv", sep="\t", comment="#", dtype=str,
                      keep_default_na=False)
    assert (raw["role"] == "eval").sum() == 6 and (raw["role"] == "pretrain").sum() == 1
    with pytest.raises(ValueError, match="placeholder") as err:
        read_sheet(ROOT / "config" / "paper_datasets.tsv")
    assert str(err.value).count("is a placeholder") == 5
    filled = raw.assign(source=raw["source"].str.replace(
        r"cellxgene:PLACEHOLDER.*", "cellxgene:" + "0" * 8 + "-0000-0000-0000-" + "0" * 12, regex=True))
    validate_sheet(filled)  # everything else about the paper sheet is valid
