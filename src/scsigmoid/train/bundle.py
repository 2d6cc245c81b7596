"""Trained runs' weights in a form that travels, and back into checkpoints the DAG reads.

A ``small`` run's ``last.pt`` holds fp32 weights and the optimizer state (~200 MB); a CPU user
who embeds new data needs the weights only. ``pack`` keeps them in bf16 (34 MB a ``small`` run),
xz-compresses each run (~0.7 of that) and cuts it into parts of at most 15 MiB, beside a
``manifest.json`` with every part's size and sha256: the form in which a GPU machine can return
runs (files of at most 16 MiB) and a repository can hold them. ``unpack`` checks every part,
joins them and writes ``{root}/{run}/last.pt``, which :func:`scsigmoid.train.trainer.load_checkpoint`
reads; point ``train.checkpoints`` at ``root``.

    python -m scsigmoid.train.bundle pack --checkpoint-root ROOT --out DIR RUN [RUN ...]
    python -m scsigmoid.train.bundle unpack DIR --out ROOT
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import lzma
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from scsigmoid.io import atomic_path, write_json
from scsigmoid.provenance import provenance

FORMAT = 1
MANIFEST = "manifest.json"
PART_BYTES = 15 * 2**20  # a GPU machine returns files of at most 16 MiB


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _compressed_weights(path: Path, preset: int) -> tuple[bytes, dict]:
    """One run's bf16 weights and model configuration, serialised and xz-compressed."""
    import torch

    state = torch.load(path, map_location="cpu", weights_only=False)
    missing = {"model", "model_config"} - set(state)
    if missing:
        raise ValueError(f"{path} is not a training checkpoint (no {', '.join(sorted(missing))}); "
                         "pack the last.pt a finished run wrote.")
    weights = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in state["model"].items()}
    buf = io.BytesIO()
    torch.save({"model": weights, "model_config": state["model_config"]}, buf)
    info = {"step": state.get("step"), "finished": bool(state.get("finished", False)),
            "params": int(sum(v.numel() for v in weights.values())), "bf16_bytes": buf.tell()}
    return lzma.compress(buf.getvalue(), preset=preset), info


def pack(runs: list[str], checkpoint_root: str | os.PathLike, out_dir: str | os.PathLike, *,
         part_bytes: int = PART_BYTES, preset: int = 6) -> dict:
    """Write the runs' ``{checkpoint_root}/{run}/last.pt`` as parts and a manifest into ``out_dir``
    (runs compressed in parallel); returns the manifest."""
    if not runs:
        raise ValueError("pack: name at least one run.")
    paths = [Path(checkpoint_root) / run / "last.pt" for run in runs]
    absent = [f"{run} ({p})" for run, p in zip(runs, paths, strict=True) if not p.exists()]
    if absent:
        raise FileNotFoundError(f"pack: no checkpoint for {', '.join(absent)}; train the runs first or "
                                "set --checkpoint-root to where they are.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # spawned, not forked: a fork of a process whose OpenMP threads torch has started can hang
    # (it did, inside pytest)
    with ProcessPoolExecutor(max_workers=min(len(runs), os.cpu_count() or 1),
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        packed = list(pool.map(_compressed_weights, paths, [preset] * len(runs)))
    entries = {}
    for run, (data, info) in zip(runs, packed, strict=True):
        parts = []
        for i, start in enumerate(range(0, len(data), part_bytes)):
            chunk = data[start:start + part_bytes]
            name = f"{run}.pt.xz.part-{i:03d}"
            with atomic_path(out / name) as tmp:
                tmp.write_bytes(chunk)
            parts.append({"file": name, "bytes": len(chunk), "sha256": _sha256(chunk)})
        entries[run] = {**info, "xz_bytes": len(data), "sha256": _sha256(data), "parts": parts}
    manifest = {"format": FORMAT, "dtype": "bfloat16", "runs": entries, **provenance()}
    write_json(manifest, out / MANIFEST)  # last: a bundle without it is incomplete
    return manifest


def read_manifest(bundle_dir: str | os.PathLike) -> dict:
    """The bundle's manifest (no torch import: the Snakefile reads it when parsing)."""
    path = Path(bundle_dir) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: {bundle_dir} is not a checkpoint bundle "
                                "(python -m scsigmoid.train.bundle pack makes one; the committed runs' bundle is on "
                                "the branch checkpoints: mkdir -p results/checkpoint_bundle && git archive "
                                "origin/checkpoints bundle | tar x -C results/checkpoint_bundle, README "
                                "'Bring your own data').")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{path}: bundle format {manifest.get('format')!r}, this code reads {FORMAT}.")
    return manifest


def unpack(bundle_dir: str | os.PathLike, out_root: str | os.PathLike,
           runs: list[str] | None = None) -> list[Path]:
    """Check and join the bundle's parts, write ``{out_root}/{run}/last.pt`` for each run (all,
    or ``runs``); returns the paths. A part missing or changed stops with its name; a run's
    checkpoint is written only once all of its parts check out."""
    import torch

    bundle, manifest = Path(bundle_dir), read_manifest(bundle_dir)
    unknown = sorted(set(runs or []) - set(manifest["runs"]))
    if unknown:
        raise KeyError(f"{bundle}: no run {', '.join(unknown)}; it holds {', '.join(manifest['runs'])}.")
    written = []
    for run in runs or list(manifest["runs"]):
        entry, data = manifest["runs"][run], b""
        for part in entry["parts"]:
            path = bundle / part["file"]
            if not path.exists():
                raise FileNotFoundError(f"{path} is missing from the bundle (run {run}); fetch the bundle again.")
            chunk = path.read_bytes()
            if len(chunk) != part["bytes"] or _sha256(chunk) != part["sha256"]:
                raise ValueError(f"{path}: sha256 or size differs from {MANIFEST} (run {run}): the part is "
                                 "damaged or from another bundle; fetch the bundle again.")
            data += chunk
        state = torch.load(io.BytesIO(lzma.decompress(data)), map_location="cpu", weights_only=False)
        state.update(finished=True, step=entry["step"],
                     bundle={"dtype": manifest["dtype"], "commit": manifest.get("commit"),
                             "sha256": entry["sha256"]})
        path = Path(out_root) / run / "last.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="runs' last.pt -> bf16 xz parts + manifest.json")
    p.add_argument("runs", nargs="+")
    p.add_argument("--checkpoint-root", required=True, help="folder of <run>/last.pt")
    p.add_argument("--out", required=True)
    p.add_argument("--part-mib", type=float, default=PART_BYTES / 2**20)
    p.add_argument("--preset", type=int, default=6, help="xz preset (0-9)")
    u = sub.add_parser("unpack", help="bundle -> <root>/<run>/last.pt (then train.checkpoints: <root>)")
    u.add_argument("bundle")
    u.add_argument("--out", required=True)
    u.add_argument("--runs", nargs="*", default=None)
    args = parser.parse_args(argv)
    if args.command == "pack":
        manifest = pack(args.runs, args.checkpoint_root, args.out,
                        part_bytes=int(args.part_mib * 2**20), preset=args.preset)
        for run, e in manifest["runs"].items():
            print(f"{run}: {e['params']:,} parameters, {e['bf16_bytes'] / 1e6:.1f} MB bf16 -> "
                  f"{e['xz_bytes'] / 1e6:.1f} MB in {len(e['parts'])} part(s)")
    else:
        for path in unpack(args.bundle, args.out, args.runs):
            print(path)


if __name__ == "__main__":
    main()
