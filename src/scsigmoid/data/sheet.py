"""The dataset sheet (config/datasets.tsv): which datasets exist, their role and where they live.

Columns: name, role (pretrain / eval / extra), source, label_key, batch_key, species, notes.
A source is ``local:<file>.h5ad`` (relative to the configured data directory),
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

import pandas as pd

from scsigmoid.data.genes import SPECIES

COLUMNS = ("name", "role", "source", "label_key", "batch_key", "species", "notes")
ROLES = ("pretrain", "eval", "extra")
# Files that hold the same cells as an evaluation set: never pretrain on them while it is evaluated.
KNOWN_DUPLICATES = {"pbmc3k_raw_allgenes_scToolbox": "pbmc3k_seurat_labeled"}
_SOURCE = re.compile(
    r"^(local:.+\.h5ad|cellxgene:[0-9a-fA-F-]{36}|census:\d{4}-\d{2}-\d{2}|https?://\S+)$"
)
PLACEHOLDER = "PLACEHOLDER"


class PlaceholderSourceWarning(UserWarning):
    """The sheet names datasets whose source is still a placeholder (they cannot be fetched)."""


def is_placeholder(source: str) -> bool:
    return PLACEHOLDER in str(source)
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
    for col in COLUMNS:
        sheet[col] = sheet[col].fillna("").astype(str).str.strip()
    sheet["role"] = sheet["role"].str.lower()
    sheet["species"] = sheet["species"].str.lower()
    problems = []
    for i, row in sheet.iterrows():
        tag = f"row {i + 2} ({row['name'] or 'no name'})"
        if not _NAME.match(row["name"]):
            problems.append(f"{tag}: name must be non-empty letters, digits, '_', '.', '-'")
        if row["role"] not in ROLES:
            problems.append(f"{tag}: unknown role {row['role']!r}; use one of {', '.join(ROLES)}")
        if row["species"] not in SPECIES:
            problems.append(f"{tag}: unknown species {row['species']!r}; use one of {', '.join(SPECIES)}")
        if is_placeholder(row["source"]):
            pass  # accepted here (planning works); warned about below, refused when fetched
        elif not _SOURCE.match(row["source"]):
            problems.append(f"{tag}: source {row['source']!r} must be local:<file>.h5ad, "
                            "cellxgene:<36-char dataset id>, census:<YYYY-MM-DD> or an http(s) URL")
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


def sheet_row(sheet: pd.DataFrame, name: str) -> pd.Series:
    hit = sheet.loc[sheet["name"] == name]
    if hit.empty:
        raise KeyError(f"dataset {name!r} is not in the dataset sheet; known: {', '.join(sheet['name'])}.")
    return hit.iloc[0]
