"""Sequence-length table and per-dataset summary (with provenance) from the corpora of the datasets
that passed their data check; failed datasets are listed with their reason."""

import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from scsigmoid.data.build import dataset_summary, length_counts
from scsigmoid.data.sheet import read_sheet
from scsigmoid.io import write_csv
from scsigmoid.provenance import provenance

if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    with open(smk.log[0], "w") as log, redirect_stdout(log), redirect_stderr(log):
        paths = [smk.input.pretrain, *smk.input.corpora]
        corpora = {Path(p).name: p for p in paths}  # corpus directories are named after datasets
        checks = [json.loads(Path(p).read_text()) for p in smk.input.checks]
        failed = {c["dataset"]: c["reason"] for c in checks if c["status"] != "ok"}
        prov = provenance()
        write_csv(length_counts(corpora).assign(**prov), smk.output.lengths)
        summary = dataset_summary(read_sheet(smk.params.sheet), corpora, failed)
        write_csv(summary.assign(**prov), smk.output.summary)
