"""Tokenise every pretrain dataset (Census: shard by shard) into one corpus with a hashed
train/val split."""


import pandas as pd

from scsigmoid.data.build import build_pretrain_corpus
from scsigmoid.data.genes import GeneMaps, read_vocab
from scsigmoid.data.tokenise import read_medians
from scsigmoid.script import log_to_file

if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    with log_to_file(smk):
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
