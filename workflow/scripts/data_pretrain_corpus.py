"""Tokenise every pretrain dataset (Census: shard by shard) into one corpus with a hashed
train/val split."""


from scsigmoid.data.build import build_pretrain_corpus
from scsigmoid.data.genes import GeneMaps, read_vocab
from scsigmoid.data.sheet import read_sheet
from scsigmoid.data.tokenise import read_medians
from scsigmoid.script import log_to_file

if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    with log_to_file(smk):
        p = smk.params
        vocab = read_vocab(smk.input.vocab)
        build_pretrain_corpus(
            read_sheet(p.sheet), smk.output[0], vocab, read_medians(smk.input.medians, vocab),
            GeneMaps.load(p.gene_maps), data_dir=p.data_dir, val_fraction=float(p.val_fraction),
            seed=int(p.seed), max_len=p.max_len, unseen=p.unseen,
            max_unmapped_fraction=float(p.max_unmapped_fraction),
            max_barcode_overlap=float(p.max_barcode_overlap),
            h5ad=dict(zip(p.datasets, smk.input.h5ad, strict=True)))
