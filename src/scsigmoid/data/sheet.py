"""The dataset sheet (config/datasets.tsv): which datasets exist, their role and where they live.

Columns: name, role (pretrain / eval / extra), source, label_key, batch_key, species, notes, and
the optional ``scale`` (how X is stored: counts, log1p_cp10k, cp10k, fpkm_tpm or auto, the default;
see :mod:`scsigmoid.data.checks`).
A source is ``local:<file>.h5ad`` (relative to the configured data directory, or an absolute
path; a bare absolute path ``/.../<file>.h5ad`` means the same),
``cellxgene:<dataset_id>`` (CellxGene Discover), a plain ``https://...h5ad`` URL, or
``census:<release>`` (the CellxGene Census pretraining corpus; paper scale only). A source
containing ``PLACEHOLDER`` marks an identifier still to be looked up: the sheet is accepted with
one warning naming those datasets (so the workflow can plan), and fetching such a dataset fails
(``scsigmoid.data.download.resolve_source``) with the dataset, the sheet and what to fill in.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import pandas as pd

from scsigmoid.data.checks import SCALES
from scsigmoid.data.genes import SPECIES

COLUMNS = ("name", "role", "source", "label_key", "batch_key", "species", "notes")
OPTIONAL_COLUMNS = {"scale": "auto"}  # column -> value of an empty cell or a sheet without it
ROLES = ("pretrain", "eval", "extra")
# Files that hold the same cells as an evaluation set: never pretrain on them while it is evaluated.
KNOWN_DUPLICATES = {"pbmc3k_raw_allgenes_scToolbox": "pbmc3k_seurat_labeled"}
_SOURCE = re.compile(
    r"^(local:.+\.h5ad|/.+\.h5ad|cellxgene:[0-9a-fA-F-]{36}|census:\d{4}-\d{2}-\d{2}|https?://\S+)$"
)
PLACEHOLDER = "PLACEHOLDER"


class PlaceholderSourceWarning(UserWarning):
    """The sheet names datasets whose source is still a placeholder (they cannot be fetched)."""


def is_placeholder(source: str) -> bool:
    return PLACEHOLDER in str(source)


def is_local(source: str) -> bool:
    return str(source).startswith(("local:", "/"))


def local_path(source: str, data_dir: str | os.PathLike) -> Path:
    """The file of a local source: ``local:rel/x.h5ad`` under ``data_dir``; ``local:/abs/x.h5ad``,
    ``local:~/x.h5ad`` and a bare ``/abs/x.h5ad`` as they are."""
    path = Path(str(source).removeprefix("local:")).expanduser()
    return path if path.is_absolute() else Path(data_dir) / path
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def read_sheet(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a dataset sheet; errors name the sheet, the row and the fix."""
    try:
        sheet = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, comment="#")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"dataset sheet {path} not found; set config 'datasets' to a TSV with columns "
            f"{', '.join(COLUMNS)}."
        ) from None
    return validate_sheet(sheet, where=str(path))


def validate_sheet(sheet: pd.DataFrame, where: str = "dataset sheet") -> pd.DataFrame:
    missing = [c for c in COLUMNS if c not in sheet.columns]
    if missing:
        raise ValueError(f"{where}: missing column(s) {', '.join(missing)}; the sheet needs "
                         f"{', '.join(COLUMNS)} (tab-separated, empty cells allowed for keys/notes).")
    sheet = sheet.copy()
    for col, default in OPTIONAL_COLUMNS.items():
        if col not in sheet.columns:
            sheet[col] = default
    for col in (*COLUMNS, *OPTIONAL_COLUMNS):
        sheet[col] = sheet[col].fillna("").astype(str).str.strip()
    for col, default in OPTIONAL_COLUMNS.items():
        sheet[col] = sheet[col].replace("", default)
    sheet["scale"] = sheet["scale"].str.lower()
    sheet["role"] = sheet["role"].str.lower()
    sheet["species"] = sheet["species"].str.lower()
    problems = []
    for i, row in sheet.iterrows():
        tag = f"row {i + 2} ({row['name'] or 'no name'})"
        if not _NAME.match(row["name"]):
            problems.append(f"{tag}: name must be non-empty letters, digits, '_', '.', '-'")
        elif row["name"] == "pretrain":
            problems.append(f"{tag}: the name 'pretrain' is reserved (the pretraining corpus)")
        if row["role"] not in ROLES:
            problems.append(f"{tag}: unknown role {row['role']!r}; use one of {', '.join(ROLES)}")
        if row["species"] not in SPECIES:
            problems.append(f"{tag}: unknown species {row['species']!r}; use one of {', '.join(SPECIES)}")
        if row["scale"] not in SCALES:
            problems.append(f"{tag}: unknown scale {row['scale']!r}; use one of {', '.join(SCALES)} "
                            "(how X is stored; auto: integers per cell are counts, others log1p)")
        if is_placeholder(row["source"]):
            pass  # accepted here (planning works); warned about below, refused when fetched
        elif not _SOURCE.match(row["source"]):
            problems.append(f"{tag}: source {row['source']!r} must be local:<file>.h5ad (relative "
                            "to data_dir, or absolute), cellxgene:<36-char dataset id>, "
                            "census:<YYYY-MM-DD> or an http(s) URL")
        if row["role"] == "eval" and not row["label_key"]:
            problems.append(f"{tag}: an eval dataset needs a label_key (obs column of cell types)")
    dups = sheet["name"][sheet["name"].duplicated()].unique().tolist()
    if dups:
        problems.append(f"duplicate dataset name(s) {dups}; names must be unique")
    roles = dict(zip(sheet["name"], sheet["role"], strict=False))
    for copy, original in KNOWN_DUPLICATES.items():
        if roles.get(copy) == "pretrain" and roles.get(original) == "eval":
            problems.append(f"{copy} holds the same cells as the eval set {original}: set its role "
                            "to 'extra' (or drop it) so evaluation cells are never pretrained on")
    pre = sheet.loc[sheet["role"] == "pretrain", "source"]
    ev = sheet.loc[sheet["role"] == "eval", "source"]
    shared = sorted(set(pre) & set(ev))
    if shared:
        problems.append(f"source(s) {shared} are both pretrain and eval; hold eval data out of pretraining")
    if problems:
        raise ValueError(f"{where}: invalid dataset sheet:\n  - " + "\n  - ".join(problems))
    placeholders = sheet.loc[sheet["source"].map(is_placeholder), "name"].tolist()
    if placeholders:
        message = (
            f"{where}: {len(placeholders)} dataset(s) have a PLACEHOLDER source and cannot be "
            f"fetched: {', '.join(placeholders)}. The workflow plans, but their jobs will fail until "
            "each source is replaced with cellxgene:<dataset_id> (look the dataset up by the title "
            "in the notes column on cellxgene.cziscience.com).")
        warnings.warn(message, PlaceholderSourceWarning, stacklevel=3)
    return sheet.reset_index(drop=True)


def check_config_datasets(sheet: pd.DataFrame, evaluate: dict, where: str = "dataset sheet") -> None:
    """Config keys that name datasets must name eval datasets of the sheet (checked when the
    workflow is planned, before any job runs)."""
    evals = sheet.loc[sheet["role"] == "eval", "name"].tolist()
    umap = evaluate.get("umap_dataset")
    if umap is not None and umap not in evals:
        role = sheet.loc[sheet["name"] == umap, "role"]
        what = f"has role {role.iloc[0]!r}" if len(role) else "is not in the sheet"
        raise ValueError(f"config evaluate.umap_dataset {umap!r} {what} ({where}); set it to one of "
                         f"the sheet's eval datasets: {', '.join(evals) or 'none'}.")


def sheet_row(sheet: pd.DataFrame, name: str) -> pd.Series:
    hit = sheet.loc[sheet["name"] == name]
    if hit.empty:
        raise KeyError(f"dataset {name!r} is not in the dataset sheet; known: {', '.join(sheet['name'])}.")
    return hit.iloc[0]
