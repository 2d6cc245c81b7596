"""The CellxGene Census pretraining corpus (sheet source ``census:<release>``) as .h5ad shards.

``write_census_shards`` opens one Census release (``cellxgene_census.open_soma``, optional extra
``census``, imported only here and only when needed), lists the primary cells
(``is_primary_data == True``) of each organism the sheet's species names, and writes them in
fixed blocks of ``shard_cells`` cells (in ``soma_joinid`` order) to ``shard_<organism>_<k>.h5ad``.
Each shard is written beside its final name and renamed into place, so an interrupted run leaves
only complete shards; a rerun skips every shard that exists with the expected cell count. The
manifest (``manifest.json``, written last and atomically) lists the release, the shards, their
organisms and cell counts. Only one shard of expression data is in memory at a time.

Shard var_names are Ensembl ids for human and gene symbols for mouse (what the gene maps read).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from scsigmoid.io import atomic_path, write_json

MANIFEST = "manifest.json"
DEFAULT_SHARD_CELLS = 200_000
# sheet species -> Census experiment names (census["census_data"][...]) and get_anndata organism
ORGANISMS = {"human": ("homo_sapiens", "Homo sapiens"), "mouse": ("mus_musculus", "Mus musculus")}
OBS_COLUMNS = ["soma_joinid", "dataset_id", "donor_id", "assay", "cell_type", "tissue_general"]
PRIMARY_FILTER = "is_primary_data == True"


def census_version(source: str) -> str:
    """The release named by a ``census:<YYYY-MM-DD>`` sheet source."""
    if not source.startswith("census:"):
        raise ValueError(f"source {source!r} is not a census:<release> source.")
    return source[len("census:"):]


def organisms_of(species: str) -> list[str]:
    """Census experiments to stream for a sheet species (human, mouse or human+mouse)."""
    wanted = [s for s in ("human", "mouse") if s in species.split("+")]
    if not wanted:
        raise ValueError(f"species {species!r}: the Census corpus needs human and/or mouse.")
    return [ORGANISMS[s][0] for s in wanted]


class SomaCensus:
    """The two reads the sharder needs, on an opened ``cellxgene_census`` Census."""

    def __init__(self, census, cellxgene_census):
        self.census = census
        self._cxg = cellxgene_census

    def primary_cell_ids(self, organism: str) -> np.ndarray:
        """Sorted soma_joinids of the organism's primary cells."""
        obs = self.census["census_data"][organism].obs
        table = obs.read(value_filter=PRIMARY_FILTER, column_names=["soma_joinid"]).concat()
        return np.sort(table.column("soma_joinid").to_numpy())

    def cells(self, organism: str, ids: np.ndarray) -> ad.AnnData:
        """Raw counts and obs of the given cells (all genes)."""
        name = {exp: org for exp, org in ORGANISMS.values()}[organism]
        adata = self._cxg.get_anndata(self.census, organism=name, obs_coords=ids,
                                      obs_column_names=OBS_COLUMNS,
                                      var_column_names=["feature_id", "feature_name"])
        adata.var_names = adata.var["feature_id" if organism == "homo_sapiens" else "feature_name"]
        return adata

    def close(self) -> None:
        self.census.close()


def open_census(version: str) -> SomaCensus:
    """Open one Census release (module-level so tests can substitute a fake)."""
    try:
        import cellxgene_census
    except ImportError:
        raise ImportError("streaming the CellxGene Census needs the optional extra: "
                          "pip install -e '.[census]' (package cellxgene-census).") from None
    return SomaCensus(cellxgene_census.open_soma(census_version=version), cellxgene_census)


def _shard_cells(path: Path) -> int | None:
    """Cell count of an existing shard, None when it is missing or unreadable."""
    if not path.exists():
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            backed = ad.read_h5ad(path, backed="r")
        try:
            return int(backed.n_obs)
        finally:
            backed.file.close()
    except Exception:
        return None


def _write_shard(adata: ad.AnnData, path: Path) -> None:
    with atomic_path(path, suffix=".h5ad") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata.write_h5ad(tmp, compression="gzip")


def write_census_shards(source: str, species: str, out_dir: str | os.PathLike, *,
                        shard_cells: int = DEFAULT_SHARD_CELLS, manifest: str | os.PathLike | None = None,
                        log=print) -> Path:
    """Stream the primary cells of a Census release into shards; returns the manifest path."""
    if int(shard_cells) < 1:
        raise ValueError(f"shard_cells must be a positive cell count (config data.census_shard_cells); "
                         f"got {shard_cells}.")
    shard_cells = int(shard_cells)
    version = census_version(source)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = Path(manifest) if manifest else out_dir / MANIFEST
    shards = []
    census = open_census(version)
    try:
        for organism in organisms_of(species):
            ids = np.sort(np.asarray(census.primary_cell_ids(organism)))  # fixed shard boundaries
            n_shards = -(-len(ids) // shard_cells)
            log(f"census {version} {organism}: {len(ids)} primary cells -> {n_shards} shards")
            for k in range(n_shards):
                block = ids[k * shard_cells:(k + 1) * shard_cells]
                path = out_dir / f"shard_{organism}_{k:05d}.h5ad"
                if _shard_cells(path) == len(block):
                    log(f"  {path.name}: present, skipped")
                else:
                    adata = census.cells(organism, block)
                    if adata.n_obs != len(block):
                        raise RuntimeError(f"census {version} {organism}: asked for {len(block)} "
                                           f"cells of shard {k}, got {adata.n_obs}.")
                    adata.obs_names = [f"{organism}:{i}" for i in block]
                    _write_shard(adata, path)
                    del adata
                    log(f"  {path.name}: written")
                shards.append({"file": path.name, "organism": organism, "n_cells": int(len(block)),
                               "first_joinid": int(block[0]), "last_joinid": int(block[-1])})
    finally:
        census.close()
    write_json({"source": source, "census_version": version, "species": species,
                "shard_cells": shard_cells, "filter": PRIMARY_FILTER,
                "n_cells": int(sum(s["n_cells"] for s in shards)), "shards": shards}, manifest)
    return manifest


def read_manifest(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"census manifest {path} not found; build it with the "
                                "data_census_shards rule.")
    return json.loads(path.read_text())


def iter_shards(manifest_path: str | os.PathLike) -> Iterator[tuple[dict, ad.AnnData]]:
    """(manifest entry, AnnData) per shard, one in memory at a time."""
    manifest_path = Path(manifest_path)
    for entry in read_manifest(manifest_path)["shards"]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            adata = ad.read_h5ad(manifest_path.parent / entry["file"])
        yield entry, adata


def sample_cells(manifest_path: str | os.PathLike, n_cells: int, *,
                 seed: int = 0) -> Iterator[tuple[dict, ad.AnnData]]:
    """About ``n_cells`` cells spread evenly over all shards (for gene medians), shard by shard:
    (manifest entry, AnnData of the sampled cells)."""
    manifest = read_manifest(manifest_path)
    total = max(int(manifest["n_cells"]), 1)
    rng = np.random.default_rng(seed)
    for entry, adata in iter_shards(manifest_path):
        take = min(adata.n_obs, int(np.ceil(n_cells * entry["n_cells"] / total)))
        rows = np.sort(rng.choice(adata.n_obs, size=take, replace=False))
        yield entry, adata[rows].copy()


def shard_var_names(manifest_path: str | os.PathLike) -> dict[str, pd.Index]:
    """Gene names of each organism's shards (the first shard of each; all share the Census var)."""
    manifest_path = Path(manifest_path)
    names = {}
    for entry in read_manifest(manifest_path)["shards"]:
        if entry["organism"] not in names:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                backed = ad.read_h5ad(manifest_path.parent / entry["file"], backed="r")
            names[entry["organism"]] = pd.Index(backed.var_names.astype(str))
            backed.file.close()
    return names


def species_of(organism: str) -> str:
    return {exp: sp for sp, (exp, _) in ORGANISMS.items()}[organism]
