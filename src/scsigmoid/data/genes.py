"""Gene identifiers and the shared vocabulary: Ensembl IDs and mouse genes -> human symbols.

Every dataset's genes are mapped into one namespace, upper-case human gene symbols:

- human Ensembl IDs (``ENSG...``, version suffix ignored) -> symbol via the GENCODE v44 table,
- human symbols are upper-cased and kept when GENCODE v44 or the ortholog table knows them,
- other human symbols are looked up as previous/alias symbols (``data.gene_aliases``, built by
  :mod:`scsigmoid.data.gene_aliases` from org.Hs.eg.db: ATPIF1 -> ATP5IF1, SELT -> SELENOT,
  H1FX -> H1-10) and take the current symbol when GENCODE v44 or the ortholog table knows it,
- mouse symbols (any case) -> human ortholog via the Ensembl 105 human-mouse table
  (first human gene in file order when a mouse gene has several),
- species ``human+mouse`` (one file holding both) tries a current human symbol (or Ensembl ID),
  then a mouse ortholog, then a human alias (so a mouse symbol is never read as a human alias).

Genes that map nowhere are dropped; several source genes mapping to one symbol are summed by the
tokeniser. The vocabulary is the sorted union of mapped genes of the configured datasets; its
token ids start after the special tokens of :mod:`scsigmoid.data.corpus`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from scsigmoid.data.checks import DatasetError
from scsigmoid.data.corpus import N_SPECIAL, SPECIAL_TOKENS
from scsigmoid.data.gene_aliases import read_alias_table
from scsigmoid.io import atomic_path

SPECIES = ("human", "mouse", "human+mouse")
GENCODE_FILE = "GENCODEv44_Gene_id2name_from_celltypist.csv"
ORTHOLOG_FILE = "Ensembl105_Human2Mouse_Genes_from_celltypist.csv"
_ENSEMBL_HUMAN = re.compile(r"^ENSG\d+(\.\d+)?$")


@dataclass
class GeneMaps:
    """Lookup tables from the bundle's ``gene_maps`` folder."""

    ensembl_to_symbol: dict[str, str]
    mouse_to_human: dict[str, str]
    human_symbols: set[str] = field(default_factory=set)
    aliases: dict[str, str] = field(default_factory=dict)  # previous/alias -> current symbol

    @classmethod
    def load(cls, gene_map_dir: str | os.PathLike, aliases: str | os.PathLike | None = None) -> GeneMaps:
        """Read both tables (two columns, no header) from ``gene_map_dir``, and the alias table
        ``aliases`` (:mod:`scsigmoid.data.gene_aliases`) when given."""
        gene_map_dir = Path(gene_map_dir)
        for name in (GENCODE_FILE, ORTHOLOG_FILE):
            if not (gene_map_dir / name).exists():
                raise FileNotFoundError(
                    f"gene map {gene_map_dir / name} not found; point data_dir at the data bundle "
                    "(its gene_maps/ folder holds both tables)."
                )
        gencode = pd.read_csv(gene_map_dir / GENCODE_FILE, header=None, names=["id", "symbol"],
                              dtype=str, keep_default_na=False)
        ortho = pd.read_csv(gene_map_dir / ORTHOLOG_FILE, header=None, names=["human", "mouse"],
                            dtype=str, keep_default_na=False)
        return cls.from_frames(gencode, ortho, read_alias_table(aliases) if aliases else None)

    @classmethod
    def from_frames(cls, gencode: pd.DataFrame, ortho: pd.DataFrame,
                    aliases: dict[str, str] | None = None) -> GeneMaps:
        """Build from DataFrames with columns (id, symbol) and (human, mouse), and an optional
        alias -> current symbol dict (kept where the current symbol is known here)."""
        ens = {}
        for gid, sym in zip(gencode["id"], gencode["symbol"], strict=True):
            if gid and sym:
                ens.setdefault(gid.split(".")[0], sym.upper())
        m2h = {}
        for human, mouse in zip(ortho["human"], ortho["mouse"], strict=True):
            if human and mouse:
                m2h.setdefault(mouse.upper(), human.upper())
        symbols = set(ens.values()) | {h.upper() for h in ortho["human"] if h}
        alias = {a.upper(): c.upper() for a, c in (aliases or {}).items()
                 if c.upper() in symbols and a.upper() not in symbols}
        return cls(ens, m2h, symbols, alias)

    def map_one(self, name: str, species: str, aliases: bool = True) -> str | None:
        """Human symbol of one gene name/ID, or None when it maps nowhere (``aliases=False``:
        current symbols, Ensembl IDs and orthologs only)."""
        name = str(name).strip()
        upper = name.upper()
        human = species in ("human", "human+mouse")
        if human:
            if _ENSEMBL_HUMAN.match(upper):
                return self.ensembl_to_symbol.get(upper.split(".")[0])
            if upper in self.human_symbols:
                return upper
        if species in ("mouse", "human+mouse") and upper in self.mouse_to_human:
            return self.mouse_to_human[upper]
        return self.aliases.get(upper) if human and aliases else None


def check_species(species: str, where: str = "") -> str:
    species = str(species).strip().lower()
    if species not in SPECIES:
        raise ValueError(
            f"{where}unknown species {species!r}; expected one of {', '.join(SPECIES)} "
            "(set the 'species' column of the dataset sheet)."
        )
    return species


def map_genes(var_names, species: str, maps: GeneMaps, *, where: str = "") -> np.ndarray:
    """Human symbol per gene (object array, None where unmapped). Duplicate inputs are an error."""
    species = check_species(species, where)
    names = pd.Index([str(v) for v in var_names])
    if names.has_duplicates:
        dups = names[names.duplicated()].unique()[:5].tolist()
        raise DatasetError(
            f"{where}duplicate gene names in var_names (e.g. {dups}); sum or drop the duplicates "
            "in the source file first (var_names_make_unique would invent genes)."
        )
    direct = np.array([maps.map_one(n, species, aliases=False) for n in names], dtype=object)
    # a previous/alias symbol takes its current symbol only when the file does not name that gene
    # itself: a file listing both treats them as different features (e.g. an antisense RNA the
    # alias table folds into its coding gene), and summing them would corrupt the current gene
    present = {d for d in direct if d is not None}
    out = direct.copy()
    for i in np.flatnonzero(direct == None):  # noqa: E711 (elementwise on an object array)
        current = maps.map_one(names[i], species)
        out[i] = current if current not in present else None
    return out


def unmapped_fraction(mapped: np.ndarray) -> float:
    return float(np.mean([m is None for m in mapped])) if len(mapped) else 1.0


def build_vocab(gene_lists) -> pd.DataFrame:
    """Vocabulary table (token_id, gene) from iterables of mapped symbols, sorted, specials first."""
    genes = sorted({g for genes in gene_lists for g in genes if g is not None})
    specials = sorted(SPECIAL_TOKENS.items(), key=lambda kv: kv[1])
    rows = [(tid, tok) for tok, tid in specials]
    rows += [(N_SPECIAL + i, g) for i, g in enumerate(genes)]
    return pd.DataFrame(rows, columns=["token_id", "gene"])


def write_vocab(vocab: pd.DataFrame, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        vocab.to_csv(tmp, sep="\t", index=False)


def read_vocab(path: str | os.PathLike) -> pd.DataFrame:
    """A vocabulary TSV (token_id, gene; a ``.gz`` name is read as gzip)."""
    if not Path(path).exists():
        raise FileNotFoundError(f"vocabulary {path} not found (config data.vocab: a frozen "
                                "vocabulary file, or null to build one from the pretrain datasets).")
    vocab = pd.read_csv(path, sep="\t", dtype={"gene": str}, keep_default_na=False)
    if list(vocab.columns[:2]) != ["token_id", "gene"] or not np.array_equal(
        vocab["token_id"].to_numpy(), np.arange(len(vocab))
    ):
        raise ValueError(f"{path}: not a vocabulary (columns token_id, gene; ids 0..n-1). "
                         "Rebuild it with the data_vocab rule.")
    return vocab
