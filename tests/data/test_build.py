"""Corpus building end to end on tiny files: vocabulary, medians, split, hold-out checks, stats."""

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import make_adata

from scsigmoid.data import build
from scsigmoid.data.corpus import TokenCorpus
from scsigmoid.data.genes import build_vocab
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


def with_dataset(d, sheet, name, role, adata, label_key=""):
    """The sheet plus one row for ``adata``, written to ``d/<name>.h5ad``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata.write_h5ad(d / f"{name}.h5ad")
    row = pd.DataFrame([[name, role, f"local:{name}.h5ad", label_key, "", "human", ""]],
                       columns=sheet.columns[:7])
    return validate_sheet(pd.concat([sheet[list(sheet.columns[:7])], row], ignore_index=True))


def test_end_to_end(bundle, maps):
    d, sheet = bundle
    vocab, medians = build.build_vocabulary(sheet, d, maps, max_unmapped_fraction=0.5)
    assert vocab["gene"].tolist()[4:] == ["GA", "GB", "GC", "GD", "GE"]
    assert (medians["median"].iloc[4:] > 0).all()
    med = medians["median"].to_numpy()
    pre = build.build_pretrain_corpus(sheet, d / "corpus/pretrain", vocab, med, maps, data_dir=d,
                                      val_fraction=0.25, seed=1)
    ev = build.build_eval_corpus(sheet.iloc[2], d / "corpus/ev", vocab, med, maps, data_dir=d)
    pc, ec = TokenCorpus(pre), TokenCorpus(ev)
    assert set(pc.obs["split"]) == {"train", "val"} and len(pc) <= 50
    assert pc.obs["cell_id"].str.startswith(("pre/", "mouse/")).all()
    assert ec.obs["label"].tolist() == list("aabbccdd") and (ec.obs["split"] == "eval").all()
    assert all(pc[i][0] == 1 for i in range(len(pc)))
    records = build.corpus_records(pre) + build.corpus_records(ev)
    lengths = build.length_counts(records, pretrain=["pre", "mouse"])
    assert lengths.groupby("dataset")["n_cells"].sum().to_dict() == {"ev": 8, "pretrain": len(pc)}
    assert set(lengths.loc[lengths["dataset"] == "pretrain", "split"]) == {"train", "val"}
    # the data check gives the eval dataset the same record as its corpus
    check = build.check_dataset(sheet.iloc[2], vocab, med, maps, data_dir=d)
    assert {k: v for k, v in check.items() if k != "file"} == build.corpus_records(ev)[0]
    summary = build.dataset_summary(sheet, records).set_index("dataset")
    assert summary.loc["ev", "cell_types"] == 4 and summary.loc["mouse", "cells"] == 10
    assert summary.loc["mouse", "genes_in_vocab"] == 2 and summary.loc["mouse", "genes"] == 3
    assert summary.loc["mouse", "vocab_coverage"] == 2 / 5 and (summary["status"] == "ok").all()


def test_barcode_overlap_fails_the_eval_dataset(bundle, maps):
    d, sheet = bundle
    copy = make_adata(np.ones((8, 5)), obs_names=[f"E{i}" for i in range(8)])
    sheet2 = with_dataset(d, sheet, "copy", "pretrain", copy)
    vocab, medians = build.build_vocabulary(sheet2, d, maps, max_unmapped_fraction=0.5)
    med = medians["median"].to_numpy()
    pre = build.build_pretrain_corpus(sheet2, d / "c", vocab, med, maps, data_dir=d)
    ev = sheet2.set_index("name", drop=False).loc["ev"]
    with pytest.raises(ValueError, match="copy shares 100% of the cell barcodes of eval dataset ev"):
        build.build_eval_corpus(ev, d / "ev", vocab, med, maps, data_dir=d, pretrain_corpus=pre)
    status = build.check_dataset(ev, vocab, med, maps, data_dir=d, pretrain_corpus=pre)
    assert status["status"] == "failed" and "copy shares 100%" in status["reason"]
    assert not (d / "ev").exists()
    # without the copy in pretraining: chance overlap only (none here), the check passes
    pre1 = build.build_pretrain_corpus(sheet, d / "c1", vocab, med, maps, data_dir=d)
    assert build.check_dataset(ev, vocab, med, maps, data_dir=d, pretrain_corpus=pre1)["status"] == "ok"


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


def test_new_eval_dataset_changes_neither_vocabulary_nor_medians(bundle, maps):
    d, sheet = bundle
    vocab, medians = build.build_vocabulary(sheet, d, maps, max_unmapped_fraction=0.5)
    novel = make_adata(np.ones((4, 2)), var_names=["GA", "NEWGENE"], obs={"ct": list("abab")},
                       obs_names=[f"N{i}" for i in range(4)])
    grown = with_dataset(d, sheet, "novel", "eval", novel, label_key="ct")
    vocab2, medians2 = build.build_vocabulary(grown, d, maps, max_unmapped_fraction=1.0)
    assert vocab2.equals(vocab) and medians2.equals(medians)


def test_frozen_vocabulary_drops_and_counts_unknown_genes(bundle, maps):
    d, sheet = bundle
    frozen = build_vocab([["GA", "GB", "GC"]])  # a model's vocabulary lacking GD and GE
    vocab, medians = build.build_vocabulary(sheet, d, maps, max_unmapped_fraction=0.5,
                                            frozen_vocab=frozen)
    assert vocab.equals(frozen)
    med = medians["median"].to_numpy()
    ev = build.build_eval_corpus(sheet.iloc[2], d / "ev", vocab, med, maps, data_dir=d)
    c = TokenCorpus(ev)
    assert c.meta["n_not_in_vocab"] == 2 and c.meta["n_in_vocab"] == 3
    assert max(int(c[i].max()) for i in range(len(c))) < len(frozen)
    pre = build.build_pretrain_corpus(sheet, d / "pre", vocab, med, maps, data_dir=d)
    records = build.corpus_records(pre) + build.corpus_records(ev)
    summary = build.dataset_summary(sheet, records).set_index("dataset")
    assert summary.loc["ev", "genes_not_in_vocab"] == 2 and summary.loc["ev", "genes_in_vocab"] == 3
    assert summary.loc["mouse", "genes_not_in_vocab"] == 0  # Ga, Gb, Gbx -> GA, GB, GB


def test_summary_lists_failed_datasets(bundle, maps):
    d, sheet = bundle
    vocab, medians = build.build_vocabulary(sheet, d, maps, max_unmapped_fraction=0.5)
    pre = build.build_pretrain_corpus(sheet, d / "pre", vocab, medians["median"].to_numpy(), maps,
                                      data_dir=d)
    failed = {"dataset": "ev", "status": "failed", "reason": "ev (/x/ev.h5ad): no cells"}
    records = build.corpus_records(pre) + [failed]
    summary = build.dataset_summary(sheet, records)
    assert build.length_counts(records, pretrain=["pre", "mouse"])["dataset"].unique().tolist() == ["pretrain"]
    failed = summary.set_index("dataset").loc["ev"]
    assert failed["status"] == "failed" and failed["reason"] == "ev (/x/ev.h5ad): no cells"
    assert failed["role"] == "eval" and pd.isna(failed["cells"])
    assert list(summary.columns) == list(build.SUMMARY_COLUMNS)
