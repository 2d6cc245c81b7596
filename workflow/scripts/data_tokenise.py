"""Tokenise one evaluation (or extra) dataset into a corpus directory."""


from scsigmoid.data.build import build_eval_corpus
from scsigmoid.data.genes import GeneMaps, read_vocab
from scsigmoid.data.sheet import read_sheet, sheet_row
from scsigmoid.data.tokenise import read_medians
from scsigmoid.script import log_to_file

if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    with log_to_file(smk):
        p = smk.params
        vocab = read_vocab(smk.input.vocab)
        build_eval_corpus(
            sheet_row(read_sheet(p.sheet), smk.wildcards.dataset), smk.output[0], vocab,
            read_medians(smk.input.medians, vocab), GeneMaps.load(p.gene_maps),
            data_dir=p.data_dir, h5ad=smk.input.h5ad, max_len=p.max_len, unseen=p.unseen,
            max_unmapped_fraction=float(p.max_unmapped_fraction))
