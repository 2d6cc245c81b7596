"""Census streaming on a fake Census: sharding, resume after an interrupted shard, the manifest,
and the pretraining corpus built shard by shard."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import GENES, make_adata

from scsigmoid.data import build, census
from scsigmoid.data.corpus import TokenCorpus
from scsigmoid.data.sheet import COLUMNS, validate_sheet


class FakeCensus:
    """Primary cells 0, 2, 4, ... of a 23-cell human experiment; real AnnData per request."""

    def __init__(self, fail_on_call=None):
        self.calls = []
        self.fail_on_call = fail_on_call
        self.closed = False
        rng = np.random.default_rng(0)
        self.X = rng.poisson(2.0, (23, len(GENES)))

    def primary_cell_ids(self, organism):
        assert organism == "homo_sapiens"
        return np.arange(0, 23, 2)[::-1].copy()  # unsorted on purpose

    def cells(self, organism, ids):
        self.calls.append([int(i) for i in ids])
        if self.fail_on_call is not None and len(self.calls) == self.fail_on_call:
            raise ConnectionError("network dropped")
        return make_adata(self.X[ids], obs={"donor_id": [f"d{i % 3}" for i in ids]})

    def close(self):
        self.closed = True


@pytest.fixture
def fake(monkeypatch):
    holder = {}

    def opener(version):
        assert version == "2024-07-01"
        return holder["census"]

    monkeypatch.setattr(census, "open_census", opener)
    return holder


def test_shards_and_manifest(tmp_path, fake):
    fake["census"] = FakeCensus()
    manifest = census.write_census_shards("census:2024-07-01", "human", tmp_path, shard_cells=5,
                                          log=lambda m: None)
    data = json.loads(manifest.read_text())
    assert data["census_version"] == "2024-07-01" and data["n_cells"] == 12
    assert [s["n_cells"] for s in data["shards"]] == [5, 5, 2]
    assert fake["census"].calls == [[0, 2, 4, 6, 8], [10, 12, 14, 16, 18], [20, 22]]
    assert fake["census"].closed
    shards = list(census.iter_shards(manifest))
    assert shards[1][1].obs_names.tolist() == [f"homo_sapiens:{i}" for i in (10, 12, 14, 16, 18)]
    np.testing.assert_array_equal(shards[2][1].X, fake["census"].X[[20, 22]])


def test_resume_after_interrupted_shard(tmp_path, fake):
    fake["census"] = FakeCensus(fail_on_call=2)
    with pytest.raises(ConnectionError):
        census.write_census_shards("census:2024-07-01", "human", tmp_path, shard_cells=5,
                                   log=lambda m: None)
    assert sorted(p.name for p in tmp_path.glob("shard_*.h5ad")) == ["shard_homo_sapiens_00000.h5ad"]
    assert not (tmp_path / census.MANIFEST).exists()  # no manifest until every shard is written
    (tmp_path / "shard_homo_sapiens_00001.h5ad").write_bytes(b"truncated")  # a broken leftover
    fake["census"] = FakeCensus()
    census.write_census_shards("census:2024-07-01", "human", tmp_path, shard_cells=5, log=lambda m: None)
    assert fake["census"].calls == [[10, 12, 14, 16, 18], [20, 22]]  # shard 0 skipped, 1 rewritten
    assert json.loads((tmp_path / census.MANIFEST).read_text())["n_cells"] == 12


def test_bad_inputs_name_the_fix(tmp_path, fake):
    with pytest.raises(ValueError, match="census_shard_cells"):
        census.write_census_shards("census:2024-07-01", "human", tmp_path, shard_cells=0)
    with pytest.raises(ValueError, match="not a census"):
        census.census_version("local:x.h5ad")
    with pytest.raises(FileNotFoundError, match="data_census_shards"):
        census.read_manifest(tmp_path / "nope.json")


def test_pretrain_corpus_streams_census_shards(tmp_path, fake, maps):
    fake["census"] = FakeCensus()
    manifest = census.write_census_shards("census:2024-07-01", "human", tmp_path / "raw",
                                          shard_cells=5, log=lambda m: None)
    ev = make_adata(np.ones((4, 5)), obs={"ct": list("abab")}, obs_names=[f"E{i}" for i in range(4)])
    ev.write_h5ad(tmp_path / "ev.h5ad")
    sheet = validate_sheet(pd.DataFrame([
        ["cx", "pretrain", "census:2024-07-01", "", "donor_id", "human", ""],
        ["ev", "eval", "local:ev.h5ad", "ct", "", "human", ""]], columns=list(COLUMNS)))
    h5ad = {"cx": manifest}
    vocab, medians = build.build_vocabulary(sheet, tmp_path, maps, max_unmapped_fraction=0.5,
                                            h5ad=h5ad, median_sample_cells=6)
    assert vocab["gene"].tolist()[4:] == GENES and (medians["median"].iloc[4:] > 0).all()
    out = build.build_pretrain_corpus(sheet, tmp_path / "pre", vocab, medians["median"].to_numpy(),
                                      maps, data_dir=tmp_path, val_fraction=0.25, h5ad=h5ad)
    corpus = TokenCorpus(out)
    kept = (fake["census"].X[::2] > 0).any(axis=1).sum()
    assert len(corpus) == kept and corpus.meta["per_dataset"]["cx"]["n_cells_in"] == 12
    assert corpus.obs["cell_id"].str.startswith("cx/homo_sapiens:").all()
    assert set(corpus.obs["batch"]) <= {"d0", "d1", "d2"} and all(corpus[i][0] == 1 for i in range(len(corpus)))
