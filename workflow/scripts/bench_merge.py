"""Concatenate the per-(head_dim, pass) benchmark parts into attention_<device>.csv.

Under Snakemake: input.parts -> output[0]. Directly:
    python workflow/scripts/bench_merge.py PART.csv [PART.csv ...] --out results/bench/attention_h200.csv \
        [--replace] [--fill-unmeasured "why"]
Parts may be ``.partial.csv`` files of a run cut short. Parts written before the CSV had
``warmup_ms``/``rep_ms`` columns get the settings on record for their commit
(harness.KNOWN_TIMING); the merge prints what it filled. ``--replace``: a later part's row replaces
an earlier part's row of the same point (list the superseded parts first); without it a repeated
point is an error. ``--fill-unmeasured`` adds a ``not_measured`` row (with the reason given) for
every protocol grid point (config/config.yaml, bench:) of every implementation that the parts do
not cover, e.g. after a run cut short; an implementation that cannot run on the machine gets its
own reason instead.
"""

import argparse

import pandas as pd

from scsigmoid.bench.harness import BenchConfig, fill_unmeasured, merge_parts
from scsigmoid.config import load_config
from scsigmoid.io import write_csv
from scsigmoid.provenance import provenance
from scsigmoid.script import log_to_file


def merge_named(parts, replace_points: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """The part files merged (harness.merge_parts) and the merge's notes, each naming its file."""
    notes: list[str] = []
    frames = [pd.read_csv(p, dtype={"commit": str, "config": str}) for p in parts]
    merged = merge_parts(frames, replace_points=replace_points, notes=notes)
    names = {f"part {i}": str(p) for i, p in enumerate(parts)}
    named = []
    for note in notes:
        head, _, rest = note.partition(":")
        named.append(f"{names.get(head, head)}:{rest}" if rest else note)
    return merged, named


def merge_files(parts, out, unmeasured_reason: str | None = None, replace_points: bool = False) -> None:
    merged, notes = merge_named(parts, replace_points)
    for note in notes:
        print(note)
    if unmeasured_reason:
        # device: the one the parts ran on; no torch/triton: nothing ran for these rows
        prov = {**provenance(), "device": merged["device"].dropna().iloc[0], "torch": "", "triton": ""}
        bench = load_config()["bench"]  # the protocol's grid (config/config.yaml)
        merged = fill_unmeasured(merged, BenchConfig.from_config(bench), head_dims=bench["head_dims"],
                                 passes=bench["passes"], reason=unmeasured_reason, provenance=prov)
    write_csv(merged, out)
    print(f"wrote {out}: {len(merged)} rows, {(merged['status'] == 'ok').sum()} ok")


if __name__ == "__main__":
    if "snakemake" in globals():
        smk = snakemake  # noqa: F821
        with log_to_file(smk):
            merge_files(smk.input.parts, smk.output[0])
    else:
        parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_argument("parts", nargs="+")
        parser.add_argument("--out", required=True)
        parser.add_argument("--replace", action="store_true",
                            help="later parts' rows replace earlier parts' rows of the same point")
        parser.add_argument("--fill-unmeasured", metavar="REASON", default=None,
                            help="add not_measured rows with this reason for uncovered grid points")
        args = parser.parse_args()
        merge_files(args.parts, args.out, args.fill_unmeasured, args.replace)
