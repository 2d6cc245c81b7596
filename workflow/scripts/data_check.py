"""Check one eval/extra dataset (everything its tokenisation does, short of writing) and record
status ok|failed with the reason. Bad input never fails this job: the summary tables list it."""


import pandas as pd

from scsigmoid.data.build import check_dataset
from scsigmoid.data.genes import GeneMaps, read_vocab
from scsigmoid.data.tokenise import read_medians
from scsigmoid.io import write_json
from scsigmoid.script import log_to_file

if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    with log_to_file(smk):
        p = smk.params
        vocab = read_vocab(smk.input.vocab)
        status = check_dataset(
            pd.Series(p.row), vocab, read_medians(smk.input.medians, vocab),
            GeneMaps.load(p.gene_maps, aliases=next(iter(smk.input.gene_aliases), None)),
            data_dir=p.data_dir,
            h5ad=smk.input.h5ad, max_len=p.max_len, unseen=p.unseen,
            max_unmapped_fraction=float(p.max_unmapped_fraction), missing_labels=p.missing_labels,
            pretrain_corpus=smk.input.pretrain, max_barcode_overlap=float(p.max_barcode_overlap))
        print(f"{smk.wildcards.dataset}: {status['status']} {status['reason']}")
        write_json(status, smk.output[0])
