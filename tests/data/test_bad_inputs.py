"""Bad input files, one small hand-made file each: every one gives one clear message naming the
dataset, the file and the cause; the data check records it instead of stopping, and no corpus
is written."""

import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from conftest import GENES, make_adata

from scsigmoid.data import build
from scsigmoid.data.checks import DatasetError
from scsigmoid.data.sheet import validate_sheet

# medians of GA..GE over the "pretraining corpus" (specials first)
MEDIANS = np.array([np.nan] * 4 + [1.0, 2.0, 1.0, 1.0, 4.0])


def write(adata, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata.write_h5ad(path)
    return path


def eval_row(path, label_key="ct", role="eval", scale="counts"):
    return validate_sheet(pd.DataFrame([{
        "name": "ev", "role": role, "source": f"local:{path}", "label_key": label_key,
        "batch_key": "", "species": "human", "notes": "", "scale": scale}])).iloc[0]


def labelled(X, labels, var_names=GENES):
    return make_adata(X, var_names=var_names, obs={"ct": labels})


def check(tmp_path, adata, vocab, maps, **kwargs):
    """The data check's record and the DatasetError of build_eval_corpus for one file."""
    path = write(adata, tmp_path / "ev.h5ad")
    row = eval_row(path, **{k: kwargs.pop(k) for k in ("label_key", "role", "scale") if k in kwargs})
    status = build.check_dataset(row, vocab, MEDIANS, maps, data_dir=tmp_path, **kwargs)
    with pytest.raises(DatasetError) as err:
        build.build_eval_corpus(row, tmp_path / "corpus", vocab, MEDIANS, maps, data_dir=tmp_path,
                                **kwargs)
    assert not (tmp_path / "corpus").exists()  # nothing half-written, nothing counted as done
    assert status["status"] == "failed" and status["reason"] == str(err.value)
    assert str(err.value).startswith(f"ev ({path}): ")
    return str(err.value)


GOOD = [[1, 0, 3, 0, 6], [2, 2, 0, 4, 0], [1, 2, 0, 0, 0]]


def test_good_file_passes(tmp_path, vocab, maps):
    path = write(labelled(GOOD, ["a", "b", "a"]), tmp_path / "ev.h5ad")
    status = build.check_dataset(eval_row(path), vocab, MEDIANS, maps, data_dir=tmp_path)
    assert status["status"] == "ok" and status["n_cells_tokenised"] == 3
    assert status["n_not_in_vocab"] == 0 and status["scale"] == "counts"


def test_zero_cells(tmp_path, vocab, maps):
    adata = make_adata(np.zeros((0, 5)), obs={"ct": []})
    assert "no cells (0 rows)" in check(tmp_path, adata, vocab, maps)


def test_all_zero(tmp_path, vocab, maps):
    adata = labelled(np.zeros((3, 5)), ["a", "b", "a"])
    assert "every value of X is zero (3 cells x 5 genes)" in check(tmp_path, adata, vocab, maps)


def test_all_cells_dropped(tmp_path, vocab, maps):
    # only genes the vocabulary lacks are expressed: nothing is left to rank
    adata = labelled([[0, 0, 0, 5], [0, 0, 0, 1]], ["a", "b"], var_names=["GA", "GB", "X1", "X2"])
    message = check(tmp_path, adata, vocab, maps)
    assert "no usable cells: none of its 2 cells expresses a vocabulary gene" in message
    assert "2 of its 4 genes are in the vocabulary" in message


def test_truncated_h5ad(tmp_path, vocab, maps):
    path = write(labelled(GOOD, ["a", "b", "a"]), tmp_path / "ev.h5ad")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    row = eval_row(path)
    status = build.check_dataset(row, vocab, MEDIANS, maps, data_dir=tmp_path)
    assert status["status"] == "failed"
    assert status["reason"].startswith(f"ev ({path}): cannot read the file as AnnData .h5ad")
    assert "truncated, damaged or not an .h5ad" in status["reason"]


def test_not_an_h5ad(tmp_path):
    (tmp_path / "ev.h5ad").write_text("cell,GA\nc0,1\n")
    with pytest.raises(DatasetError, match=r"ev \(.*ev.h5ad\): cannot read the file"):
        build.read_h5ad(tmp_path / "ev.h5ad", "ev")


@pytest.mark.parametrize("missing", [np.nan, None, "", "nan", "NaN"])
def test_missing_labels_are_refused(tmp_path, vocab, maps, missing):
    adata = labelled(GOOD, pd.Categorical(["a", missing, "b"]))
    message = check(tmp_path, adata, vocab, maps)
    assert "1 of 3 cells have no label" in message and "data.missing_labels: drop" in message


def test_missing_labels_dropped_when_declared(tmp_path, vocab, maps):
    path = write(labelled(GOOD, pd.Categorical(["a", np.nan, "b"])), tmp_path / "ev.h5ad")
    seqs, obs, meta = build.tokenise_dataset(eval_row(path), vocab, MEDIANS, maps,
                                             data_dir=tmp_path, missing_labels="drop")
    assert obs["label"].tolist() == ["a", "b"] and obs["cell_id"].tolist() == ["c0", "c2"]
    assert len(seqs) == 2 and meta["n_cells_dropped_unlabelled"] == 1 and "nan" not in set(obs["label"])


def test_all_labels_missing_when_dropping(tmp_path, vocab, maps):
    adata = labelled(GOOD, pd.Categorical([np.nan] * 3, categories=["a"]))
    message = check(tmp_path, adata, vocab, maps, missing_labels="drop")
    assert "no usable cells: all 3 cells lack a label" in message


def test_eval_dataset_needs_two_cell_types(tmp_path, vocab, maps):
    adata = labelled(GOOD, ["a", "a", "a"])
    assert "only 1 cell type(s) in obs column 'ct'" in check(tmp_path, adata, vocab, maps)


def test_missing_label_column(tmp_path, vocab, maps):
    adata = labelled(GOOD, ["a", "b", "a"])
    assert "obs has no column 'cell_type'" in check(tmp_path, adata, vocab, maps, label_key="cell_type")


def test_declared_scale_refused(tmp_path, vocab, maps):
    adata = labelled(np.asarray(GOOD) / 7.0 * 1000, ["a", "b", "a"])  # linear, non-integer
    message = check(tmp_path, adata, vocab, maps, scale="counts")
    assert "scale 'counts' but 3 of 3 cells hold non-integer values" in message


def test_missing_file_names_dataset_and_data_dir(tmp_path, vocab, maps):
    row = eval_row("nope.h5ad")
    with pytest.raises(FileNotFoundError, match=r"dataset ev: .*nope.h5ad .*set config data_dir"):
        build.check_dataset(row, vocab, MEDIANS, maps, data_dir=tmp_path)


def test_absolute_paths_per_row(tmp_path, vocab, maps):
    path = write(labelled(GOOD, ["a", "b", "a"]), tmp_path / "ev.h5ad")
    elsewhere = tmp_path / "data_dir_without_the_file"
    for source in (f"local:{path}", str(path)):
        row = eval_row(path)
        row["source"] = source
        status = build.check_dataset(row, vocab, MEDIANS, maps, data_dir=elsewhere)
        assert status["status"] == "ok" and status["file"] == str(path)


def test_no_pretrain_dataset_is_an_error(tmp_path, maps):
    path = write(labelled(GOOD, ["a", "b", "a"]), tmp_path / "ev.h5ad")
    sheet = pd.DataFrame([eval_row(path)])
    with pytest.raises(ValueError, match="no pretrain dataset"):
        build.build_vocabulary(sheet, tmp_path, maps, max_unmapped_fraction=0.5)


def test_empty_pretrain_dataset_fails_the_vocabulary(tmp_path, maps):
    path = write(make_adata(np.zeros((4, 5))), tmp_path / "pre.h5ad")
    sheet = validate_sheet(pd.DataFrame([{
        "name": "pre", "role": "pretrain", "source": "local:pre.h5ad", "label_key": "",
        "batch_key": "", "species": "human", "notes": ""}]))
    with pytest.raises(DatasetError, match=rf"pre \({path}\): every value of X is zero"):
        build.build_vocabulary(sheet, tmp_path, maps, max_unmapped_fraction=0.5)


def test_read_h5ad_keeps_good_files(tmp_path):
    path = write(labelled(GOOD, ["a", "b", "a"]), tmp_path / "ev.h5ad")
    assert isinstance(build.read_h5ad(Path(path), "ev"), ad.AnnData)
