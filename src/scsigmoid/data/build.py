"""Data-stage steps the workflow runs: vocabulary + gene medians, eval corpora (with the checks
that decide whether a dataset is usable), the pretraining corpus (hashed train/val split) and the
length/dataset statistics.

Each step takes the sheet plus, optionally, ``h5ad``: dataset name -> the file the workflow
provides (a local file, a fetched download, or the manifest of Census shards). Without it,
sources are resolved here (local files; remote ones downloaded into ``cache_dir``). A Census
source is read shard by shard: the pretraining corpus streams to disk one shard at a time, and
its gene medians use an even sample of ``median_sample_cells`` cells over all shards.

The vocabulary belongs to the pretraining data: the mapped genes of the pretrain datasets, or a
frozen vocabulary file (config ``data.vocab``) that trained models were built with. Evaluation
datasets are tokenised against it (genes outside it are dropped and counted), so adding one never
changes the vocabulary, the medians or the pretraining corpus."""

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
from scsigmoid.data.checks import DatasetError
from scsigmoid.data.corpus import N_SPECIAL, CorpusWriter, TokenCorpus, write_corpus
from scsigmoid.data.download import resolve_source
from scsigmoid.data.genes import GeneMaps, build_vocab, map_genes
from scsigmoid.data.tokenise import gene_medians, to_vocab_matrix, tokenise, where_of

CONTEXTS = (2048, 4096, 8192)
MEDIAN_SAMPLE_CELLS = 200_000  # Census cells (spread over all shards) behind the gene medians
MIN_EVAL_LABELS = 2  # scIB needs at least two cell types


def is_census(row: pd.Series) -> bool:
    return str(row["source"]).startswith("census:")


def scale_of(row: pd.Series) -> str:
    """The sheet's scale of a dataset (``auto`` for sheets without the column)."""
    return str(row.get("scale", "") or "auto")


def read_h5ad(path, name: str = "") -> ad.AnnData:
    """Read an .h5ad; any failure (truncated, not HDF5, not AnnData) names the dataset and file."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ad.read_h5ad(path)
    except FileNotFoundError:
        raise DatasetError(f"{where_of(name, path)}file not found; check the sheet's source and "
                           "config data_dir.") from None
    except Exception as err:  # h5py/anndata raise many types for a damaged file
        raise DatasetError(
            f"{where_of(name, path)}cannot read the file as AnnData .h5ad ({type(err).__name__}: "
            f"{err}). It is truncated, damaged or not an .h5ad: copy or download it again (a "
            "remote source: delete the cached file so data_fetch fetches it anew).") from None


def load_dataset(row: pd.Series, data_dir: str | os.PathLike, cache_dir=None, path=None) -> ad.AnnData:
    """One dataset in memory: from ``path`` when the workflow gives it, else its sheet source."""
    return read_h5ad(dataset_path(row, data_dir, cache_dir, path), row["name"])


def dataset_path(row: pd.Series, data_dir, cache_dir=None, path=None) -> Path:
    """The file of a (non-Census) dataset: ``path`` when given, else its resolved sheet source."""
    if is_census(row):
        raise ValueError(f"{row['name']}: a Census source is read shard by shard "
                         "(scsigmoid.data.census.iter_shards), never as one AnnData.")
    if path is None:
        path = resolve_source(row["source"], data_dir=data_dir, cache_dir=cache_dir, name=row["name"])
    return Path(path)


def _census_genes(row: pd.Series, manifest, maps: GeneMaps) -> np.ndarray:
    names = census.shard_var_names(manifest)
    return np.concatenate([map_genes(v, census.species_of(org), maps, where=f"{row['name']} ({org}): ")
                           for org, v in names.items()])


def build_vocabulary(sheet: pd.DataFrame, data_dir, maps: GeneMaps, *,
                     max_unmapped_fraction: float, cache_dir=None, h5ad: dict | None = None,
                     median_sample_cells: int = MEDIAN_SAMPLE_CELLS,
                     frozen_vocab: pd.DataFrame | None = None):
    """Vocabulary and gene medians of the pretraining datasets: (vocab, medians).

    The vocabulary is ``frozen_vocab`` when given (the one trained models were built with), else
    the sorted union of the pretrain datasets' mapped genes. Medians are taken over the pretrain
    datasets' cells (Census: a sample). Eval datasets play no part."""
    h5ad = h5ad or {}
    rows = sheet[sheet["role"] == "pretrain"]
    if rows.empty:
        raise ValueError("the dataset sheet has no pretrain dataset; the vocabulary and gene "
                         "medians need one.")
    mapped, data, census_rows = {}, {}, {}
    for _, row in tqdm(list(rows.iterrows()), desc="mapping genes", leave=False):
        if is_census(row):
            if row["name"] not in h5ad:
                raise ValueError(f"{row['name']}: a Census source needs its shard manifest "
                                 "(the data_census_shards rule's output) in h5ad.")
            mapped[row["name"]] = _census_genes(row, h5ad[row["name"]], maps)
            census_rows[row["name"]] = h5ad[row["name"]]
            continue
        path = dataset_path(row, data_dir, cache_dir, h5ad.get(row["name"]))
        adata = read_h5ad(path, row["name"])
        mapped[row["name"]] = map_genes(adata.var_names, row["species"], maps,
                                        where=where_of(row["name"], path))
        data[row["name"]] = (adata, row, path)
    vocab = frozen_vocab if frozen_vocab is not None else build_vocab(mapped.values())
    matrices = [to_vocab_matrix(a, vocab, maps, r["species"], scale=scale_of(r),
                                max_unmapped_fraction=max_unmapped_fraction,
                                where=where_of(r["name"], p))[0]
                for a, r, p in data.values()]
    for manifest in census_rows.values():
        for entry, sample in census.sample_cells(manifest, median_sample_cells):
            matrices.append(to_vocab_matrix(sample, vocab, maps, census.species_of(entry["organism"]))[0])
    return vocab, gene_medians(matrices, vocab)


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
                raise DatasetError(
                    f"pretraining dataset {pre} shares {frac:.0%} of the cell barcodes of eval "
                    f"dataset {ev} (limit {max_overlap:.0%}, config data.max_barcode_overlap): it "
                    f"likely holds the same cells. Set {pre}'s role to 'extra' in the dataset "
                    f"sheet (and retrain), or evaluate on another dataset than {ev}.")


def pretrain_cell_ids(corpus, chunksize: int = 1_000_000) -> dict[str, set]:
    """Cell ids (as in their source files) of every dataset in a pretraining corpus, read from its
    obs.tsv in chunks (a Census corpus holds many millions)."""
    ids: dict[str, set] = {}
    reader = pd.read_csv(Path(corpus) / "obs.tsv", sep="\t", usecols=["cell_id", "dataset"],
                         dtype=str, keep_default_na=False, chunksize=chunksize)
    for chunk in reader:
        for name, part in chunk.groupby("dataset"):
            ids.setdefault(name, set()).update(part["cell_id"].str.slice(len(name) + 1))
    return ids


def _meta(vocab, info, **extra) -> dict:
    return {"vocab_size": len(vocab), "tokeniser": "TEDDY-G", "target_sum": 1e4, **info, **extra}


def tokenise_dataset(row: pd.Series, vocab, medians, maps, *, data_dir, max_len=None,
                     unseen="drop", max_unmapped_fraction=1.0, missing_labels="error",
                     pretrain_corpus=None, max_barcode_overlap=0.2, cache_dir=None, h5ad=None):
    """Tokenise one (eval or extra) dataset: ``(sequences, obs, meta)``, or a DatasetError naming
    the dataset, its file and why it cannot be used (unreadable, no usable cells, impossible
    scale, missing labels, fewer than two cell types for an eval set, cells shared with the
    pretraining corpus ``pretrain_corpus``)."""
    path = dataset_path(row, data_dir, cache_dir, h5ad)
    adata = read_h5ad(path, row["name"])
    where = where_of(row["name"], path)
    seqs, obs, info = tokenise(adata, vocab, medians, maps=maps, species=row["species"],
                               label_key=row["label_key"] or None, batch_key=row["batch_key"] or None,
                               max_unmapped_fraction=max_unmapped_fraction, max_len=max_len,
                               unseen=unseen, dataset=row["name"], split="eval",
                               scale=scale_of(row), missing_labels=missing_labels, path=path)
    if row["role"] == "eval" and obs["label"].nunique() < MIN_EVAL_LABELS:
        raise DatasetError(f"{where}only {obs['label'].nunique()} cell type(s) in obs column "
                           f"{row['label_key']!r} among the usable cells; scIB needs at least "
                           f"{MIN_EVAL_LABELS}. Pick another label_key in the sheet.")
    if pretrain_corpus is not None:
        check_holdout(pretrain_cell_ids(pretrain_corpus), {row["name"]: set(obs["cell_id"])},
                      max_barcode_overlap)
    meta = _meta(vocab, info, datasets=[row["name"]], role=row["role"], max_len=max_len,
                 unseen_genes=unseen, species=row["species"], source=row["source"], file=str(path))
    return seqs, obs, meta


def build_eval_corpus(row: pd.Series, out_dir, vocab, medians, maps, **kwargs) -> Path:
    """Tokenise one dataset (:func:`tokenise_dataset`) into a corpus directory."""
    seqs, obs, meta = tokenise_dataset(row, vocab, medians, maps, **kwargs)
    return write_corpus(out_dir, seqs, obs, meta)


_INFO_KEYS = ("n_genes", "n_mapped", "unmapped_fraction", "n_in_vocab", "n_not_in_vocab",
              "n_log_cells", "scale", "n_cells_in", "n_cells_dropped_empty",
              "n_cells_dropped_unlabelled")  # the tokeniser's statistics of one dataset


def _record(name: str, info: dict, obs: pd.DataFrame, lengths: np.ndarray, vocab_size: int) -> dict:
    """The statistics of one tokenised dataset that the dataset table and Fig 1 need (JSON-able):
    counts from ``info``, cell types, batches and the (split, length, n_cells) histogram."""
    hist = (pd.DataFrame({"split": obs["split"].astype(str).to_numpy(), "length": lengths})
            .groupby(["split", "length"]).size().reset_index().to_numpy().tolist())
    return {"dataset": name, "status": "ok", "reason": "", "vocab_size": int(vocab_size),
            **{k: info[k] for k in _INFO_KEYS if k in info},
            "n_cells_tokenised": int(len(lengths)),
            "cell_types": int(obs["label"].nunique()) if "label" in obs else 0,
            "batches": int(obs["batch"].nunique()) if "batch" in obs else 0,
            "lengths": [[str(sp), int(n), int(c)] for sp, n, c in hist]}


def check_dataset(row: pd.Series, vocab, medians, maps, **kwargs) -> dict:
    """Whether a dataset is usable, with its statistics: the record of :func:`corpus_records`
    plus ``file``, or ``{"dataset", "status": "failed", "reason"}``. Runs exactly what
    :func:`build_eval_corpus` runs, short of writing; only a DatasetError (bad input) becomes a
    'failed' status, anything else propagates."""
    try:
        seqs, obs, meta = tokenise_dataset(row, vocab, medians, maps, **kwargs)
    except DatasetError as err:
        return {"dataset": row["name"], "status": "failed", "reason": str(err)}
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    return {**_record(row["name"], meta, obs, lengths, len(vocab)), "file": meta["file"]}


def corpus_records(corpus) -> list[dict]:
    """One statistics record per dataset of a corpus directory (see :func:`check_dataset`)."""
    c = TokenCorpus(corpus)
    records = []
    for ds in c.meta["datasets"]:
        sub = c.obs["dataset"].astype(str).to_numpy() == ds if "dataset" in c.obs else slice(None)
        info = c.meta.get("per_dataset", {}).get(ds, c.meta)
        records.append(_record(ds, info, c.obs.loc[sub], c.lengths[sub], c.vocab_size))
    return records


def _pretrain_chunks(row: pd.Series, data_dir, cache_dir, h5ad: dict):
    """(species, AnnData, file) pieces of one pretrain dataset: the whole file, or Census shard
    by shard."""
    if is_census(row):
        if row["name"] not in h5ad:
            raise ValueError(f"{row['name']}: a Census source needs its shard manifest in h5ad.")
        for entry, adata in census.iter_shards(h5ad[row["name"]]):
            yield census.species_of(entry["organism"]), adata, f"{h5ad[row['name']]}: {entry['file']}"
    else:
        path = dataset_path(row, data_dir, cache_dir, h5ad.get(row["name"]))
        yield row["species"], read_h5ad(path, row["name"]), path


def _add_info(total: dict, info: dict) -> dict:
    """Statistics of a dataset read in pieces: counts summed, the rest from the first piece."""
    if not total:
        return dict(info)
    for key, value in info.items():
        if key.startswith("n_") and key not in ("n_genes", "n_mapped", "n_in_vocab", "n_not_in_vocab"):
            total[key] = total[key] + value
    return total


def build_pretrain_corpus(sheet: pd.DataFrame, out_dir, vocab, medians, maps, *, data_dir,
                          val_fraction=0.05, seed=0, max_len=None, unseen="drop",
                          max_unmapped_fraction=1.0, cache_dir=None,
                          h5ad: dict | None = None) -> Path:
    """All pretrain datasets, written piece by piece (a file, or one Census shard) so memory stays
    bounded. Eval datasets are checked against it for shared cells when they are tokenised."""
    h5ad = h5ad or {}
    pretrain = sheet[sheet["role"] == "pretrain"]
    columns = ["cell_id"] + (["batch"] if (pretrain["batch_key"] != "").any() else [])
    writer = CorpusWriter(out_dir, len(vocab), columns + ["split", "dataset", "log_input"])
    per_dataset = {}
    for _, row in pretrain.iterrows():
        info_total: dict = {}
        for species, adata, path in _pretrain_chunks(row, data_dir, cache_dir, h5ad):
            seqs, obs, info = tokenise(adata, vocab, medians, maps=maps, species=species,
                                       batch_key=row["batch_key"] or None,
                                       max_unmapped_fraction=max_unmapped_fraction, max_len=max_len,
                                       unseen=unseen, dataset=row["name"], split="",
                                       scale=scale_of(row), path=path)
            del adata
            obs["cell_id"] = row["name"] + "/" + obs["cell_id"]
            obs["split"] = assign_split(obs["cell_id"], val_fraction, seed)
            writer.append(seqs, obs)
            info_total = _add_info(info_total, info)
        per_dataset[row["name"]] = info_total
    meta = _meta(vocab, {}, datasets=list(per_dataset), per_dataset=per_dataset, role="pretrain",
                 max_len=max_len, unseen_genes=unseen, val_fraction=val_fraction, seed=seed)
    return writer.close(meta)


def length_counts(records: list[dict], pretrain=()) -> pd.DataFrame:
    """Histogram table (dataset, split, length, n_cells) of sequence lengths, CLS included, of
    the datasets whose record is ok; the datasets named in ``pretrain`` pooled as 'pretrain'."""
    rows = [("pretrain" if r["dataset"] in set(pretrain) else r["dataset"], sp, n, c)
            for r in records if r["status"] == "ok" for sp, n, c in r["lengths"]]
    table = pd.DataFrame(rows, columns=["dataset", "split", "length", "n_cells"])
    return table.groupby(["dataset", "split", "length"], sort=False, as_index=False)["n_cells"].sum()


SUMMARY_COLUMNS = (
    "dataset", "role", "species", "scale", "source", "status", "reason", "cells", "cells_tokenised",
    "cells_dropped_empty", "cells_dropped_unlabelled", "log_input_cells", "genes", "genes_mapped",
    "unmapped_fraction", "genes_in_vocab", "genes_not_in_vocab", "vocab_coverage", "cell_types",
    "batches", "median_length", *(f"frac_le_{ctx}" for ctx in CONTEXTS),
)


def dataset_summary(sheet: pd.DataFrame, records: list[dict]) -> pd.DataFrame:
    """One row per dataset record (:func:`corpus_records`, :func:`check_dataset`): cells, genes,
    vocabulary coverage and genes outside the vocabulary, cell types, batches, lengths; status
    'failed' and the reason (other columns empty) for a failed one."""
    rows = []
    for rec in records:
        r = sheet.loc[sheet["name"] == rec["dataset"]].iloc[0]
        row = {"dataset": rec["dataset"], "role": r["role"], "species": r["species"],
               "scale": scale_of(r), "source": r["source"], "status": rec["status"],
               "reason": rec["reason"]}
        if rec["status"] == "ok":
            hist = np.array([[n, c] for _, n, c in rec["lengths"]], dtype=np.int64).reshape(-1, 2)
            lengths = np.repeat(hist[:, 0], hist[:, 1])
            row.update({
                "cells": rec["n_cells_in"], "cells_tokenised": rec["n_cells_tokenised"],
                "cells_dropped_empty": rec["n_cells_dropped_empty"],
                "cells_dropped_unlabelled": rec.get("n_cells_dropped_unlabelled", 0),
                "log_input_cells": rec["n_log_cells"], "genes": rec["n_genes"],
                "genes_mapped": rec["n_mapped"], "unmapped_fraction": rec["unmapped_fraction"],
                "genes_in_vocab": rec["n_in_vocab"], "genes_not_in_vocab": rec["n_not_in_vocab"],
                "vocab_coverage": rec["n_in_vocab"] / max(rec["vocab_size"] - N_SPECIAL, 1),
                "cell_types": rec["cell_types"], "batches": rec["batches"] if r["batch_key"] else 0,
                "median_length": float(np.median(lengths)) if len(lengths) else float("nan")})
            for ctx in CONTEXTS:
                row[f"frac_le_{ctx}"] = float(np.mean(lengths <= ctx)) if len(lengths) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows).reindex(columns=list(SUMMARY_COLUMNS))
