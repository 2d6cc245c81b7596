"""Previous and alias human gene symbols -> current symbols, derived from a maintained source.

The table shipped in ``reference/gene_aliases_human.tsv.gz`` (config ``data.gene_aliases``) is
built by this module from Bioconductor's ``org.Hs.eg.db`` annotation (NCBI Entrez Gene symbols
and their synonyms, previous HGNC symbols included), as Debian packages it::

    apt-get download r-bioc-org.hs.eg.db && dpkg-deb -x r-bioc-org.hs.eg.db_*.deb pkg
    python -m scsigmoid.data.gene_aliases \\
        pkg/usr/lib/R/site-library/org.Hs.eg.db/extdata/org.Hs.eg.sqlite \\
        reference/gene_aliases_human.tsv.gz "r-bioc-org.hs.eg.db $(dpkg-deb -f r-bioc-org.hs.eg.db_*.deb Version)"

Rules: symbols are upper-cased; an alias that is itself a current symbol is left out (a current
symbol always means its own gene), and so is an alias naming more than one gene (ambiguous). The
file starts with ``#`` lines recording the source database, its dates and the counts.
"""

from __future__ import annotations

import gzip
import os
import sqlite3
import sys
from pathlib import Path

import pandas as pd


def build_alias_table(sqlite_path: str | os.PathLike) -> tuple[pd.DataFrame, dict[str, str]]:
    """(alias, symbol) rows of every unambiguous non-current alias, and the source's metadata."""
    with sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True) as db:
        meta = dict(db.execute("select name, value from metadata").fetchall())
        pairs = pd.DataFrame(
            db.execute("select upper(a.alias_symbol), upper(g.symbol) from alias a "
                       "join gene_info g on a._id = g._id").fetchall(),
            columns=["alias", "symbol"])
        current = {s for (s,) in db.execute("select upper(symbol) from gene_info")}
    pairs = pairs[(pairs["alias"] != pairs["symbol"]) & ~pairs["alias"].isin(current)]
    pairs = pairs.drop_duplicates()
    n_genes = pairs.groupby("alias")["symbol"].transform("nunique")
    table = pairs[n_genes == 1].sort_values(["alias", "symbol"]).reset_index(drop=True)
    meta.update({"aliases_kept": str(len(table)),
                 "aliases_ambiguous_dropped": str(int((n_genes > 1).groupby(pairs["alias"]).any().sum()))})
    return table, meta


def write_alias_table(table: pd.DataFrame, meta: dict[str, str], path: str | os.PathLike,
                      package: str = "") -> None:
    """The table, gzipped, behind ``#`` provenance lines (``package``: the Debian package and
    version it was built from)."""
    keys = ("ORGANISM", "EGSOURCENAME", "EGSOURCEDATE", "EGSOURCEURL", "aliases_kept",
            "aliases_ambiguous_dropped")
    header = ["# Human previous/alias gene symbols -> current symbol (scsigmoid.data.gene_aliases)",
              f"# source: Bioconductor org.Hs.eg.db, table alias (Debian package {package or 'r-bioc-org.hs.eg.db'})",
              *(f"# {k}: {meta[k]}" for k in keys if k in meta)]
    text = "\n".join(header) + "\n" + table.to_csv(sep="\t", index=False)
    # mtime 0: the same table gives the same bytes
    with open(path, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as fh:
        fh.write(text.encode())


def read_alias_table(path: str | os.PathLike) -> dict[str, str]:
    """alias -> current symbol (both upper case)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"gene alias table {path} not found; set config data.gene_aliases "
                                "to reference/gene_aliases_human.tsv.gz (or null to map no aliases).")
    opener = gzip.open if path.suffix == ".gz" else open
    n_header = 0  # leading '#' provenance lines ('#' also occurs inside a few aliases)
    with opener(path, "rt") as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            n_header += 1
    table = pd.read_csv(path, sep="\t", skiprows=n_header, dtype=str, keep_default_na=False)
    if list(table.columns) != ["alias", "symbol"]:
        raise ValueError(f"{path}: expected columns alias, symbol; got {list(table.columns)}.")
    return dict(zip(table["alias"].str.upper(), table["symbol"].str.upper(), strict=True))


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: python -m scsigmoid.data.gene_aliases ORG_HS_EG_SQLITE OUT.tsv.gz "
                 "['r-bioc-org.hs.eg.db VERSION']")
    write_alias_table(*build_alias_table(sys.argv[1]), sys.argv[2], *sys.argv[3:])
