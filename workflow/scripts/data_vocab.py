"""Build the gene vocabulary, the pretraining gene medians and the per-dataset mapping table."""


from scsigmoid.data.build import build_vocabulary
from scsigmoid.data.genes import GeneMaps, write_vocab
from scsigmoid.data.sheet import read_sheet
from scsigmoid.data.tokenise import write_medians
from scsigmoid.io import write_csv
from scsigmoid.script import log_to_file

if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    with log_to_file(smk):
        sheet = read_sheet(smk.input.sheet)
        maps = GeneMaps.load(smk.params.gene_maps)
        vocab, medians, coverage = build_vocabulary(
            sheet, smk.params.data_dir, maps,
            max_unmapped_fraction=float(smk.params.max_unmapped_fraction),
            h5ad=dict(zip(smk.params.datasets, smk.input.h5ad, strict=True)))
        write_vocab(vocab, smk.output.vocab)
        write_medians(medians, smk.output.medians)
        write_csv(coverage, smk.output.coverage)
