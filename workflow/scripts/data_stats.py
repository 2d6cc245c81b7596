"""Sequence-length table and per-dataset summary (with provenance): the pretraining corpus and the
data checks of the eval datasets (their statistics, or the reason they failed)."""

import json
from pathlib import Path

from scsigmoid.data.build import corpus_records, dataset_summary, length_counts
from scsigmoid.data.sheet import read_sheet
from scsigmoid.io import write_csv
from scsigmoid.provenance import provenance
from scsigmoid.script import log_to_file

if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    with log_to_file(smk):
        pretrain = corpus_records(smk.input.pretrain)
        records = pretrain + [json.loads(Path(p).read_text()) for p in smk.input.checks]
        for rec in records:
            if rec["status"] != "ok":
                print(f"{rec['dataset']}: failed its data check: {rec['reason']}")
        prov = provenance()
        lengths = length_counts(records, pretrain=[r["dataset"] for r in pretrain])
        write_csv(lengths.assign(**prov), smk.output.lengths)
        write_csv(dataset_summary(read_sheet(smk.params.sheet), records).assign(**prov),
                  smk.output.summary)
