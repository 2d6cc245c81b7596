"""Shared fixtures: tiny gene maps, a hand-made 3 cells x 5 genes AnnData, its vocabulary."""

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from scsigmoid.data.genes import GeneMaps, build_vocab

GENES = ["GA", "GB", "GC", "GD", "GE"]  # token ids 4..8 (after the 4 special tokens)


@pytest.fixture
def maps() -> GeneMaps:
    gencode = pd.DataFrame({"id": ["ENSG00000000001", "ENSG00000000002", "ENSG00000000003",
                                   "ENSG00000000004", "ENSG00000000005"],
                            "symbol": GENES})
    ortho = pd.DataFrame({"human": GENES + ["GB"], "mouse": ["Ga", "Gb", "Gc", "Gd", "Ge", "Gbx"]})
    return GeneMaps.from_frames(gencode, ortho)


@pytest.fixture
def vocab() -> pd.DataFrame:
    return build_vocab([GENES])


def make_adata(X, var_names=GENES, obs=None, obs_names=None) -> ad.AnnData:
    X = np.asarray(X, dtype=np.float32) if not isinstance(X, np.ndarray) or X.dtype != object else X
    n = X.shape[0]
    obs = pd.DataFrame(obs if obs is not None else {}, index=obs_names or [f"c{i}" for i in range(n)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ad.AnnData(X=X, obs=obs, var=pd.DataFrame(index=list(var_names)))


@pytest.fixture
def hand_adata() -> ad.AnnData:
    return make_adata(
        [[1, 0, 3, 0, 6],
         [2, 2, 0, 4, 0],
         [1, 2, 0, 0, 0]],
        obs={"cell_type": ["t1", "t2", "t1"], "donor": ["d1", "d1", "d2"]},
    )
