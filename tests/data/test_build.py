"""Corpus building end to end on tiny files: vocabulary, medians, split, hold-out checks, stats."""

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import make_adata

from scsigmoid.data import build
from scsigmoid.data.corpus import TokenCorpus
from scsigmoid.data.sheet import validate_sheet


@pytest.fixture
def bundle(tmp_path):
    rng = np.random.default_rng(0)
    pre = make_adata(rng.poisson(2.0, (40, 5)), obs_names=[f"P{i}" for i in range(40)])
    mouse = make_adata(rng.poisson(1.0, (10, 3)), var_names=["Ga", "Gb", "Gbx"],
                       obs_names=[f"M{i}" for i in range(10)])
    ev = make_adata(rng.poisson(2.0, (8, 5)), obs={"ct": list("aabbccdd")},
                    obs_names=[f"E{i}" for i in range(8)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pre.write_h5ad(tmp_path / "pre.h5ad")
        mouse.write_h5ad(tmp_path / "mouse.h5ad")
        ev.write_h5ad(tmp_path / "ev.h5ad")
    sheet = validate_sheet(pd.DataFrame([
        ["pre", "pretrain", "local:pre.h5ad", "", "", "human", ""],
        ["mouse", "pretrain", "local:mouse.h5ad", "", "", "mouse", ""],
        ["ev", "eval", "local:ev.h5ad", "ct", "", "human", ""],
    ], columns=["name", "role", "source", "label_key", "batch_key", "species", "notes"]))
    return tmp_path, sheet


def test_end_to_end(bundle, maps):
    d, sheet = bundle
    vocab, medians, coverage = build.build_vocabulary(sheet, d, maps, max_unmapped_fraction=0.5)
    assert vocab["gene"].tolist()[4:] == ["GA", "GB", "GC", "GD", "GE"]
    assert (medians["median"].iloc[4:] > 0).all()
    assert coverage.set_index("dataset").loc["mouse", "genes_in_vocab"] == 2
    med = medians["median"].to_numpy()
    pre = build.build_pretrain_corpus(sheet, d / "corpus/pretrain", vocab, med, maps, data_dir=d,
                                      val_fraction=0.25, seed=1)
    ev = build.build_eval_corpus(sheet.iloc[2], d / "corpus/ev", vocab, med, maps, data_dir=d)
    pc, ec = TokenCorpus(pre), TokenCorpus(ev)
    assert set(pc.obs["split"]) == {"train", "val"} and len(pc) <= 50
    assert pc.obs["cell_id"].str.startswith(("pre/", "mouse/")).all()
    assert ec.obs["label"].tolist() == list("aabbccdd") and (ec.obs["split"] == "eval").all()
    assert all(pc[i][0] == 1 for i in range(len(pc)))
    lengths = build.length_counts({"pretrain": pre, "ev": ev})
    assert lengths.groupby("dataset")["n_cells"].sum().to_dict() == {"ev": 8, "pretrain": len(pc)}
    summary = build.dataset_summary(sheet, {"pretrain": pre, "ev": ev}, coverage).set_index("dataset")
    assert summary.loc["ev", "cell_types"] == 4 and summary.loc["mouse", "cells"] == 10


def test_barcode_overlap_blocks_pretraining(bundle, maps):
    d, sheet = bundle
    vocab, medians, _ = build.build_vocabulary(sheet, d, maps, max_unmapped_fraction=0.5)
    copy = make_adata(np.ones((8, 5)), obs_names=[f"E{i}" for i in range(8)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        copy.write_h5ad(d / "copy.h5ad")
    sheet2 = pd.concat([sheet, pd.DataFrame([["copy", "pretrain", "local:copy.h5ad", "", "", "human", ""]],
                                            columns=sheet.columns)], ignore_index=True)
    with pytest.raises(ValueError, match="copy shares 100% of the cell barcodes of eval dataset ev"):
        build.build_pretrain_corpus(sheet2, d / "c", vocab, medians["median"].to_numpy(), maps, data_dir=d)


def test_split_is_deterministic_and_order_free():
    ids = [f"cell{i}" for i in range(2000)]
    a = build.assign_split(ids, 0.05, seed=0)
    b = build.assign_split(ids[::-1], 0.05, seed=0)[::-1]
    assert (a == b).all() and 0.03 < (a == "val").mean() < 0.07
    assert (a != build.assign_split(ids, 0.05, seed=1)).any()
    with pytest.raises(ValueError, match="val_fraction"):
        build.assign_split(ids, 1.5, seed=0)


def test_missing_local_file_names_data_dir(bundle, maps):
    d, sheet = bundle
    with pytest.raises(FileNotFoundError, match="set config data_dir"):
        build.load_dataset(sheet.iloc[0], d / "elsewhere")
