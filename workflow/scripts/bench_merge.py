"""Concatenate the per-(head_dim, pass) benchmark parts into attention_<device>.csv.

Under Snakemake: input.parts -> output[0]. Directly:
    python workflow/scripts/bench_merge.py PART.csv [PART.csv ...] --out results/bench/attention_h200.csv
"""

import argparse
from contextlib import redirect_stderr, redirect_stdout

import pandas as pd

from scsigmoid.bench.harness import merge_parts
from scsigmoid.io import write_csv


def merge_files(parts, out) -> None:
    merged = merge_parts(pd.read_csv(p) for p in parts)
    write_csv(merged, out)
    print(f"wrote {out}: {len(merged)} rows, {(merged['status'] == 'ok').sum()} ok")


if __name__ == "__main__":
    if "snakemake" in globals():
        smk = snakemake  # noqa: F821
        with open(smk.log[0], "w") as log, redirect_stdout(log), redirect_stderr(log):
            merge_files(smk.input.parts, smk.output[0])
    else:
        parser = argparse.ArgumentParser(description=__doc__)
        parser.add_argument("parts", nargs="+")
        parser.add_argument("--out", required=True)
        args = parser.parse_args()
        merge_files(args.parts, args.out)
