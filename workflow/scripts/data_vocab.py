"""Build the gene vocabulary (or take the frozen one) and the pretraining gene medians."""

import pandas as pd

from scsigmoid.data.build import build_vocabulary
from scsigmoid.data.genes import GeneMaps, read_vocab, write_vocab
from scsigmoid.data.tokenise import write_medians
from scsigmoid.script import log_to_file

if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    with log_to_file(smk):
        p = smk.params
        maps = GeneMaps.load(p.gene_maps, aliases=next(iter(smk.input.gene_aliases), None))
        frozen = read_vocab(smk.input.frozen[0]) if smk.input.frozen else None
        vocab, medians = build_vocabulary(
            pd.DataFrame(p.pretrain_rows), p.data_dir, maps,
            max_unmapped_fraction=float(p.max_unmapped_fraction),
            h5ad=dict(zip(p.datasets, smk.input.h5ad, strict=True)), frozen_vocab=frozen)
        origin = f"frozen: {smk.input.frozen[0]}" if smk.input.frozen else "built from the pretrain datasets"
        print(f"vocabulary: {len(vocab)} tokens ({origin}); medians over {', '.join(p.datasets)}")
        write_vocab(vocab, smk.output.vocab)
        write_medians(medians, smk.output.medians)
