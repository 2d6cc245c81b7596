"""Fetching dataset files: resumable, checksummed, cached HTTP downloads and source resolution.

``download`` GETs a URL into ``<dest>.part`` (resuming with an HTTP Range request when a partial
file exists or the connection drops), checks the SHA-256 against the expected value (or records it
in ``<dest>.sha256`` on first download), then renames into place. A cached file whose checksum
matches is returned without any request. ``resolve_source`` turns a sheet source
(``local:``, ``cellxgene:``, ``https://``) into a local path; a placeholder source raises
:class:`PlaceholderSourceError`. ``census:`` sources are not single files: ``scsigmoid.data.census``
streams them into shards.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import requests
from tqdm.auto import tqdm

from scsigmoid.data.sheet import PLACEHOLDER, is_local, local_path

CELLXGENE_API = "https://api.cellxgene.cziscience.com/curation/v1"
CHUNK = 1 << 20
NET_CHUNK = 1 << 14  # small network reads: a dropped connection loses at most this much


class DownloadError(RuntimeError):
    """A download failed or produced a file with the wrong checksum."""


class PlaceholderSourceError(ValueError):
    """A dataset's sheet source is still a placeholder: there is nothing to fetch."""


def sha256_of(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _sidecar(dest: Path) -> Path:
    return dest.with_name(dest.name + ".sha256")


def download(url: str, dest: str | os.PathLike, *, sha256: str | None = None, retries: int = 5,
             timeout: float = 60.0, session: requests.Session | None = None) -> Path:
    """Download ``url`` to ``dest`` (resumable, verified, atomic). Returns ``dest``."""
    dest = Path(dest)
    expected = (sha256 or "").lower() or None
    if dest.exists():
        recorded = _sidecar(dest).read_text().strip() if _sidecar(dest).exists() else None
        want = expected or recorded
        if want is None or sha256_of(dest) == want:
            return dest
        raise DownloadError(f"cached {dest} has checksum {sha256_of(dest)}, expected {want}; "
                            "delete it (and its .sha256) to download again.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    http = session or requests.Session()
    total = None
    for _attempt in range(retries + 1):
        have = part.stat().st_size if part.exists() else 0
        if total is not None and have >= total:
            break
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            with http.get(url, headers=headers, stream=True, timeout=timeout) as resp:
                if resp.status_code == 416 and have:  # nothing left to send: .part is complete
                    break
                if resp.status_code not in (200, 206):
                    raise DownloadError(f"GET {url} answered HTTP {resp.status_code}; check the URL "
                                        "or the dataset id in the sheet.")
                if resp.status_code == 200:  # no range support (or fresh start): from the top
                    have = 0
                    length = resp.headers.get("Content-Length")
                    total = int(length) if length else None
                else:
                    crange = resp.headers.get("Content-Range", "")
                    total = int(crange.rsplit("/", 1)[1]) if "/" in crange else None
                mode = "ab" if have else "wb"
                with open(part, mode) as fh, tqdm(total=total, initial=have, unit="B",
                                                  unit_scale=True, desc=dest.name,
                                                  leave=False) as bar:
                    for block in resp.iter_content(NET_CHUNK):
                        fh.write(block)
                        bar.update(len(block))
        except (requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError):
            continue  # resume from what arrived
        size = part.stat().st_size if part.exists() else 0
        if total is None or size >= total:
            break
    else:
        raise DownloadError(f"GET {url}: transfer incomplete after {retries + 1} attempts "
                            f"({part} kept; run again to resume).")
    size = part.stat().st_size if part.exists() else 0
    if total is not None and size != total:
        raise DownloadError(f"GET {url}: got {size} of {total} bytes ({part} kept; run again).")
    digest = sha256_of(part)
    if expected and digest != expected:
        part.unlink()
        raise DownloadError(f"GET {url}: checksum {digest} does not match the expected {expected}; "
                            "the file was removed. Check the expected checksum or the source.")
    os.replace(part, dest)
    _sidecar(dest).write_text(digest + "\n")
    return dest


def cellxgene_h5ad_url(dataset_id: str, *, api: str = CELLXGENE_API,
                       session: requests.Session | None = None, census_version: str | None = None) -> str:
    """Public H5AD URL of a CellxGene Discover dataset (Curation API ``/datasets/{id}``; with
    ``census_version`` the optional ``cellxgene_census`` package is asked instead)."""
    if census_version:
        try:
            import cellxgene_census
        except ImportError:
            raise ImportError("census_version needs the optional extra: pip install '.[census]'") from None
        return cellxgene_census.get_source_h5ad_uri(dataset_id, census_version=census_version)["uri"]
    http = session or requests.Session()
    resp = http.get(f"{api.rstrip('/')}/datasets/{dataset_id}", timeout=60)
    if resp.status_code != 200:
        raise DownloadError(f"CellxGene dataset {dataset_id}: API answered HTTP {resp.status_code}; "
                            "check the id in the sheet (cellxgene.cziscience.com/e/<id>.cxg).")
    for asset in resp.json().get("assets", []):
        if str(asset.get("filetype", "")).upper() == "H5AD":
            return asset["url"]
    raise DownloadError(f"CellxGene dataset {dataset_id} lists no H5AD asset.")


def resolve_source(source: str, *, data_dir: str | os.PathLike, cache_dir: str | os.PathLike | None = None,
                   name: str | None = None, sha256: str | None = None, sheet: str | None = None,
                   **kwargs) -> Path:
    """Local path of a sheet source; remote sources are downloaded into ``cache_dir`` once.
    ``sheet`` (the sheet's path) only serves error messages."""
    if PLACEHOLDER in source:
        raise PlaceholderSourceError(
            f"dataset {name or '?'}: its source {source!r} in {sheet or 'the dataset sheet'} is a "
            "placeholder, so there is nothing to download. Look the dataset up by the title in the "
            "sheet's notes column on cellxgene.cziscience.com (Collections), then replace the "
            "source with cellxgene:<36-character dataset id> (or an https:// URL of its .h5ad).")
    if is_local(source):
        path = local_path(source, data_dir)
        if not path.exists():
            hint = ("fix the path in the sheet" if Path(source.removeprefix("local:")).expanduser().is_absolute()
                    else "set config data_dir to the folder holding the data bundle, or give an "
                    "absolute path in the sheet")
            raise FileNotFoundError(f"dataset {name or '?'}: {path} (source {source!r}) not found; "
                                    f"{hint}.")
        return path
    if source.startswith("census:"):
        raise ValueError(
            f"dataset {name or '?'}: source {source!r} is the CellxGene Census, not one .h5ad; the "
            "workflow's data_census_shards rule (scsigmoid.data.census.write_census_shards) streams "
            "it into shards listed by a manifest, which the corpus rules read shard by shard.")
    cache = Path(cache_dir or Path(data_dir) / "cache")
    if source.startswith("cellxgene:"):
        dataset_id = source[len("cellxgene:"):]
        dest = cache / f"{name or dataset_id}.h5ad"
        if dest.exists():
            return download("unused://cached", dest, sha256=sha256)
        return download(cellxgene_h5ad_url(dataset_id, **kwargs), dest, sha256=sha256)
    if source.startswith(("http://", "https://")):
        dest = cache / (f"{name}.h5ad" if name else source.rstrip("/").rsplit("/", 1)[-1])
        return download(source, dest, sha256=sha256)
    raise ValueError(f"source {source!r}: expected local:<file>.h5ad, cellxgene:<id> or a URL.")
