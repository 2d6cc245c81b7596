"""Tokenise one evaluation (or extra) dataset into a corpus directory; a dataset whose data check
failed stops here with the check's reason."""

import json
from pathlib import Path

import pandas as pd

from scsigmoid.data.build import build_eval_corpus
from scsigmoid.data.checks import DatasetError
from scsigmoid.data.genes import GeneMaps, read_vocab
from scsigmoid.data.tokenise import read_medians
from scsigmoid.script import log_to_file

if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    with log_to_file(smk):
        check = json.loads(Path(smk.input.check).read_text())
        if check["status"] != "ok":
            raise DatasetError(check["reason"])
        p = smk.params
        vocab = read_vocab(smk.input.vocab)
        build_eval_corpus(
            pd.Series(p.row), smk.output[0], vocab, read_medians(smk.input.medians, vocab),
            GeneMaps.load(p.gene_maps, aliases=next(iter(smk.input.gene_aliases), None)),
            data_dir=p.data_dir,
            h5ad=smk.input.h5ad, max_len=p.max_len, unseen=p.unseen,
            max_unmapped_fraction=float(p.max_unmapped_fraction), missing_labels=p.missing_labels)
