"""Data-stage steps the workflow runs: vocabulary + gene medians, eval corpora, the pretraining
corpus (hashed train/val split, hold-out checks) and the length/dataset statistics.

Each step takes the sheet plus, optionally, ``h5ad``: dataset name -> the file the workflow
provides (a local file, a fetched download, or the manifest of Census shards). Without it,
sources are resolved here (local files; remote ones downloaded into ``cache_dir``). A Census
source is read shard by shard: the pretraining corpus streams to disk one shard at a time, and
its gene medians use an even sample of ``median_sample_cells`` cells over all shards."""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from scsigmoid.data import census
from scsigmoid.data.corpus import N_SPECIAL, CorpusWriter, TokenCorpus, write_corpus
from scsigmoid.data.download import resolve_source
from scsigmoid.data.genes import GeneMaps, build_vocab, map_genes, unmapped_fraction
from scsigmoid.data.tokenise import gene_medians, to_vocab_matrix, tokenise

CONTEXTS = (2048, 4096, 8192)
MEDIAN_SAMPLE_CELLS = 200_000  # Census cells (spread over all shards) behind the gene medians


def is_census(row: pd.Series) -> bool:
    return str(row["source"]).startswith("census:")


def load_dataset(row: pd.Series, data_dir: str | os.PathLike, cache_dir=None, path=None) -> ad.AnnData:
    """One dataset in memory: from ``path`` when the workflow gives it, else its sheet source."""
    if is_census(row):
        raise ValueError(f"{row['name']}: a Census source is read shard by shard "
                         "(scsigmoid.data.census.iter_shards), never as one AnnData.")
    if path is None:
        path = resolve_source(row["source"], data_dir=data_dir, cache_dir=cache_dir, name=row["name"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ad.read_h5ad(path)


def _census_genes(row: pd.Series, manifest, maps: GeneMaps) -> np.ndarray:
    names = census.shard_var_names(manifest)
    return np.concatenate([map_genes(v, census.species_of(org), maps, where=f"{row['name']} ({org}): ")
                           for org, v in names.items()])


def build_vocabulary(sheet: pd.DataFrame, data_dir, maps: GeneMaps, *,
                     max_unmapped_fraction: float, cache_dir=None, h5ad: dict | None = None,
                     median_sample_cells: int = MEDIAN_SAMPLE_CELLS):
    """Vocabulary (union of mapped genes of pretrain + eval datasets), gene medians over the
    pretraining datasets, and a per-dataset mapping table."""
    h5ad = h5ad or {}
    rows = sheet[sheet["role"].isin(["pretrain", "eval"])]
    mapped, data, census_rows = {}, {}, {}
    for _, row in tqdm(list(rows.iterrows()), desc="mapping genes", leave=False):
        if is_census(row):
            if row["name"] not in h5ad:
                raise ValueError(f"{row['name']}: a Census source needs its shard manifest "
                                 "(the data_census_shards rule's output) in h5ad.")
            mapped[row["name"]] = _census_genes(row, h5ad[row["name"]], maps)
            census_rows[row["name"]] = h5ad[row["name"]]
            continue
        adata = load_dataset(row, data_dir, cache_dir, h5ad.get(row["name"]))
        genes = map_genes(adata.var_names, row["species"], maps, where=f"{row['name']}: ")
        frac = unmapped_fraction(genes)
        if frac > max_unmapped_fraction:
            raise ValueError(
                f"{row['name']}: {frac:.1%} of {len(genes)} genes map to no human symbol (limit "
                f"{max_unmapped_fraction:.0%}, config data.max_unmapped_fraction); check its species "
                "in the sheet or raise the limit.")
        mapped[row["name"]] = genes
        if row["role"] == "pretrain":
            data[row["name"]] = (adata, row["species"])
    vocab = build_vocab(mapped.values())
    if not data and not census_rows:
        raise ValueError("the dataset sheet has no pretrain dataset; gene medians need one.")
    matrices = [to_vocab_matrix(a, vocab, maps, s)[0] for a, s in data.values()]
    for manifest in census_rows.values():
        for entry, sample in census.sample_cells(manifest, median_sample_cells):
            matrices.append(to_vocab_matrix(sample, vocab, maps, census.species_of(entry["organism"]))[0])
    medians = gene_medians(matrices, vocab)
    n_vocab = len(vocab) - N_SPECIAL
    in_vocab = set(vocab["gene"])
    coverage = pd.DataFrame([
        {"dataset": name, "genes": len(g), "genes_mapped": int(sum(x is not None for x in g)),
         "unmapped_fraction": unmapped_fraction(g),
         "genes_in_vocab": len({x for x in g if x in in_vocab}),
         "vocab_coverage": len({x for x in g if x in in_vocab}) / max(n_vocab, 1)}
        for name, g in mapped.items()])
    return vocab, medians, coverage


def assign_split(cell_ids, val_fraction: float, seed: int) -> np.ndarray:
    """'train'/'val' per cell from a hash of (seed, cell id): stable under reordering."""
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must lie in [0, 1); got {val_fraction} (config data.val_fraction).")
    u = np.array([int.from_bytes(hashlib.sha256(f"{seed}:{c}".encode()).digest()[:8], "big") / 2**64
                  for c in cell_ids])
    return np.where(u < val_fraction, "val", "train")


def check_holdout(pretrain_ids: dict[str, set], eval_ids: dict[str, set], max_overlap: float) -> None:
    """Error when an eval dataset shares more than ``max_overlap`` of its cell barcodes with a
    pretraining dataset (10x barcodes recur by chance between runs, so a small overlap is normal)."""
    for ev, ev_ids in eval_ids.items():
        for pre, pre_ids in pretrain_ids.items():
            frac = len(ev_ids & pre_ids) / max(len(ev_ids), 1)
            if frac > max_overlap:
                raise ValueError(
                    f"pretraining dataset {pre} shares {frac:.0%} of the cell barcodes of eval "
                    f"dataset {ev} (limit {max_overlap:.0%}): it likely holds the same cells. "
                    "Set its role to 'extra' in the dataset sheet.")


def _meta(vocab, info, **extra) -> dict:
    return {"vocab_size": len(vocab), "tokeniser": "TEDDY-G", "target_sum": 1e4, **info, **extra}


def build_eval_corpus(row: pd.Series, out_dir, vocab, medians, maps, *, data_dir, max_len=None,
                      unseen="drop", max_unmapped_fraction=1.0, cache_dir=None, h5ad=None) -> Path:
    """Tokenise one dataset (``h5ad``: its file, when the workflow provides it)."""
    adata = load_dataset(row, data_dir, cache_dir, h5ad)
    seqs, obs, info = tokenise(adata, vocab, medians, maps=maps, species=row["species"],
                               label_key=row["label_key"] or None, batch_key=row["batch_key"] or None,
                               max_unmapped_fraction=max_unmapped_fraction, max_len=max_len,
                               unseen=unseen, dataset=row["name"], split="eval")
    meta = _meta(vocab, info, datasets=[row["name"]], role=row["role"], max_len=max_len,
                 unseen_genes=unseen, species=row["species"], source=row["source"])
    return write_corpus(out_dir, seqs, obs, meta)


def _pretrain_chunks(row: pd.Series, data_dir, cache_dir, h5ad: dict):
    """(species, AnnData) pieces of one pretrain dataset: the whole file, or Census shard by shard."""
    if is_census(row):
        if row["name"] not in h5ad:
            raise ValueError(f"{row['name']}: a Census source needs its shard manifest in h5ad.")
        for entry, adata in census.iter_shards(h5ad[row["name"]]):
            yield census.species_of(entry["organism"]), adata
    else:
        yield row["species"], load_dataset(row, data_dir, cache_dir, h5ad.get(row["name"]))


def _add_info(total: dict, info: dict) -> dict:
    """Statistics of a dataset read in pieces: counts summed, the rest from the first piece."""
    if not total:
        return dict(info)
    for key, value in info.items():
        if key.startswith("n_") and key not in ("n_genes", "n_mapped", "n_in_vocab"):
            total[key] = total[key] + value
    return total


def build_pretrain_corpus(sheet: pd.DataFrame, out_dir, vocab, medians, maps, *, data_dir,
                          val_fraction=0.05, seed=0, max_len=None, unseen="drop",
                          max_unmapped_fraction=1.0, max_barcode_overlap=0.2, cache_dir=None,
                          h5ad: dict | None = None) -> Path:
    """All pretrain datasets, written piece by piece (a file, or one Census shard) so memory stays
    bounded; eval datasets are checked for shared cells first."""
    h5ad = h5ad or {}
    eval_ids = {r["name"]: set(load_dataset(r, data_dir, cache_dir, h5ad.get(r["name"])).obs_names.astype(str))
                for _, r in sheet[sheet["role"] == "eval"].iterrows()}
    pretrain = sheet[sheet["role"] == "pretrain"]
    columns = ["cell_id"] + (["batch"] if (pretrain["batch_key"] != "").any() else [])
    writer = CorpusWriter(out_dir, len(vocab), columns + ["split", "dataset", "log_input"])
    per_dataset = {}
    for _, row in pretrain.iterrows():
        if row["name"] in eval_ids:
            raise ValueError(f"{row['name']} is both pretrain and eval; fix the dataset sheet.")
        info_total: dict = {}
        for species, adata in _pretrain_chunks(row, data_dir, cache_dir, h5ad):
            check_holdout({row["name"]: set(adata.obs_names.astype(str))}, eval_ids, max_barcode_overlap)
            seqs, obs, info = tokenise(adata, vocab, medians, maps=maps, species=species,
                                       batch_key=row["batch_key"] or None,
                                       max_unmapped_fraction=max_unmapped_fraction, max_len=max_len,
                                       unseen=unseen, dataset=row["name"], split="")
            del adata
            obs["cell_id"] = row["name"] + "/" + obs["cell_id"]
            obs["split"] = assign_split(obs["cell_id"], val_fraction, seed)
            writer.append(seqs, obs)
            info_total = _add_info(info_total, info)
        per_dataset[row["name"]] = info_total
    meta = _meta(vocab, {}, datasets=list(per_dataset), per_dataset=per_dataset, role="pretrain",
                 max_len=max_len, unseen_genes=unseen, val_fraction=val_fraction, seed=seed)
    return writer.close(meta)


def length_counts(corpora: dict[str, str | os.PathLike]) -> pd.DataFrame:
    """Histogram table (dataset, split, length, n_cells) of sequence lengths, CLS included."""
    frames = []
    for name, path in corpora.items():
        c = TokenCorpus(path)
        df = pd.DataFrame({"split": c.obs["split"].astype(str).to_numpy(), "length": c.lengths})
        g = df.groupby(["split", "length"]).size().rename("n_cells").reset_index()
        g.insert(0, "dataset", name)
        frames.append(g)
    return pd.concat(frames, ignore_index=True)


def dataset_summary(sheet: pd.DataFrame, corpora: dict[str, str | os.PathLike],
                    coverage: pd.DataFrame) -> pd.DataFrame:
    """One row per corpus dataset: cells, genes, vocabulary coverage, cell types, batches, lengths."""
    rows = []
    cov = coverage.set_index("dataset")
    for path in corpora.values():
        c = TokenCorpus(path)
        for ds in c.meta["datasets"]:
            r = sheet.loc[sheet["name"] == ds].iloc[0]
            sub = c.obs["dataset"].astype(str).to_numpy() == ds if "dataset" in c.obs else slice(None)
            lengths = c.lengths[sub]
            info = c.meta.get("per_dataset", {}).get(ds, c.meta)
            row = {"dataset": ds, "role": r["role"], "species": r["species"], "source": r["source"],
                   "cells": int(info["n_cells_in"]), "cells_tokenised": int(len(lengths)),
                   "log_input_cells": int(info["n_log_cells"])}
            if ds in cov.index:
                row.update(cov.loc[ds].to_dict())
            row["cell_types"] = int(c.obs.loc[sub, "label"].nunique()) if "label" in c.obs else 0
            has_batch = bool(r["batch_key"]) and "batch" in c.obs
            row["batches"] = int(c.obs.loc[sub, "batch"].nunique()) if has_batch else 0
            row["median_length"] = float(np.median(lengths)) if len(lengths) else float("nan")
            for ctx in CONTEXTS:
                row[f"frac_le_{ctx}"] = float(np.mean(lengths <= ctx)) if len(lengths) else float("nan")
            rows.append(row)
    return pd.DataFrame(rows)
