"""Tokenise every pretrain dataset (Census: shard by shard) into one corpus with a hashed
train/val split."""

from contextlib import redirect_stderr, redirect_stdout

import pandas as pd

from scsigmoid.data.build import build_pretrain_corpus
from scsigmoid.data.genes import GeneMaps, read_vocab
from scsigmoid.data.tokenise import read_medians

if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    with open(smk.log[0], "w") as log, redirect_stdout(log), redirect_stderr(log):
        p = smk.params
        vocab = read_vocab(smk.input.vocab)
        build_pretrain_corpus(
            pd.DataFrame(p.pretrain_rows), smk.output[0], vocab,
            read_medians(smk.input.medians, vocab),
            GeneMaps.load(p.gene_maps, aliases=next(iter(smk.input.gene_aliases), None)),
            data_dir=p.data_dir,
            val_fraction=float(p.val_fraction), seed=int(p.seed), max_len=p.max_len,
            unseen=p.unseen, max_unmapped_fraction=float(p.max_unmapped_fraction),
            h5ad=dict(zip(p.datasets, smk.input.h5ad, strict=True)))
