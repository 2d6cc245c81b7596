"""The holdout-style check on a public dataset the project never saw and can build without the
offline bundle or a download: scanpy's shipped pbmc68k_reduced (700 PBMCs, 765 genes, stored as
log1p of per-cell normalised values). Stored as log1p, as CP10k with symbols, or as FPKM with
Ensembl IDs, it tokenises to the ranks of a reading written here in plain numpy; declarations
that cannot be right are refused."""

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from scsigmoid.data.checks import DatasetError
from scsigmoid.data.corpus import CLS_ID
from scsigmoid.data.genes import GeneMaps, build_vocab
from scsigmoid.data.tokenise import tokenise

sc = pytest.importorskip("scanpy")


@pytest.fixture(scope="module")
def public():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = sc.datasets.pbmc68k_reduced().raw.to_adata()
    log1p = np.asarray(raw.X.todense() if hasattr(raw.X, "todense") else raw.X, dtype=np.float64)
    symbols = [s.upper() for s in raw.var_names]
    keep = ~pd.Index(symbols).duplicated()  # one column per symbol, as a gene sheet would hold
    ids = [f"ENSG{i:011d}" for i in range(len(symbols))]
    rng = np.random.default_rng(0)
    vocab = build_vocab([np.array(symbols)[keep]])
    medians = np.r_[[np.nan] * (len(vocab) - keep.sum()), rng.uniform(0.5, 5.0, int(keep.sum()))]
    medians[len(vocab) - keep.sum() + rng.choice(int(keep.sum()), 40, replace=False)] = np.nan  # unseen in pretraining
    maps = GeneMaps.from_frames(pd.DataFrame({"id": ids, "symbol": symbols}),
                                pd.DataFrame({"human": ["X"], "mouse": ["x"]}))
    return {"log1p": log1p[:, keep], "symbols": list(np.array(symbols)[keep]), "ids": list(np.array(ids)[keep]),
            "labels": raw.obs["bulk_labels"].astype(str).to_numpy(), "vocab": vocab, "medians": medians,
            "maps": maps, "lengths_kb": rng.uniform(0.3, 8.0, int(keep.sum()))}


def by_hand(linear, genes, d):
    """TEDDY-G in numpy: per cell to 10,000, divided by the gene's pretraining median, genes without
    one or not expressed left out, ranked by value (ties: lower token id first), CLS first."""
    token = d["vocab"].set_index("gene").loc[genes, "token_id"].to_numpy()
    out = []
    for row in linear:
        value = row / row.sum() * 1e4 / d["medians"][token]
        ok = np.isfinite(value) & (value > 0)
        order = sorted(np.flatnonzero(ok), key=lambda j: (-value[j], token[j]))
        out.append([CLS_ID] + token[order].tolist())
    return out


def read(X, var_names, scale, d):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata = ad.AnnData(X=X, obs=pd.DataFrame({"bulk_labels": d["labels"]}, index=[f"c{i}" for i in range(len(X))]),
                           var=pd.DataFrame(index=var_names))
        seqs, obs, info = tokenise(adata, d["vocab"], d["medians"], maps=d["maps"], scale=scale,
                                   label_key="bulk_labels", dataset="pbmc68k", path="/data/pbmc68k.h5ad")
    return [s.tolist() for s in seqs], obs, info


def test_log1p_and_cp10k_files_give_the_hand_ranks(public):
    cp10k = np.expm1(public["log1p"])
    expected = by_hand(cp10k, public["symbols"], public)
    for X, scale in ((public["log1p"], "log1p_cp10k"), (public["log1p"], "auto"), (cp10k, "cp10k")):
        seqs, obs, info = read(X, public["symbols"], scale, public)
        assert seqs == expected, scale
        assert len(seqs) == 700 and obs["label"].nunique() == 10 and info["n_in_vocab"] == len(public["symbols"])


def test_fpkm_file_with_ensembl_ids_gives_the_hand_ranks(public):
    fpkm = np.expm1(public["log1p"]) / public["lengths_kb"]
    fpkm = fpkm / fpkm.sum(1, keepdims=True) * 1e6
    seqs, _, _ = read(fpkm, public["ids"], "fpkm_tpm", public)
    assert seqs == by_hand(fpkm, public["symbols"], public)
    assert seqs != by_hand(np.expm1(public["log1p"]), public["symbols"], public)  # the lengths count


@pytest.mark.parametrize("form, scale, seen", [("cp10k", "log1p_cp10k", "values reach"),
                                              ("cp10k", "counts", "non-integer values"),
                                              ("cp10k", "auto", "non-integer values above 20"),
                                              ("log1p", "cp10k", "looks like log1p")])
def test_wrong_declarations_are_refused(public, form, scale, seen):
    X = np.expm1(public["log1p"]) if form == "cp10k" else public["log1p"]
    with pytest.raises(DatasetError, match=seen) as err:
        read(X, public["symbols"], scale, public)
    assert str(err.value).startswith("pbmc68k (/data/pbmc68k.h5ad): ")
