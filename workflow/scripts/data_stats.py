"""Sequence-length table and per-dataset summary (with provenance) from the corpora."""


import pandas as pd

from scsigmoid.data.build import dataset_summary, length_counts
from scsigmoid.data.sheet import read_sheet
from scsigmoid.io import write_csv
from scsigmoid.provenance import provenance
from scsigmoid.script import log_to_file

if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    with log_to_file(smk):
        corpora = dict(zip(smk.params.names, smk.input.corpora, strict=True))
        prov = provenance()
        write_csv(length_counts(corpora).assign(**prov), smk.output.lengths)
        summary = dataset_summary(read_sheet(smk.params.sheet), corpora,
                                  pd.read_csv(smk.input.coverage))
        write_csv(summary.assign(**prov), smk.output.summary)
