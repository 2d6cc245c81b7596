"""Stream a CellxGene Census release's primary cells into resumable .h5ad shards + a manifest."""

from pathlib import Path

from scsigmoid.data.census import write_census_shards
from scsigmoid.script import log_to_file

if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    with log_to_file(smk):
        manifest = Path(smk.output[0])
        write_census_shards(smk.params.source, smk.params.species, manifest.parent,
                            shard_cells=int(smk.params.shard_cells), manifest=manifest,
                            log=lambda msg: print(msg, flush=True))
