"""Stream a CellxGene Census release's primary cells into resumable .h5ad shards + a manifest."""

from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from scsigmoid.data.census import write_census_shards

if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    with open(smk.log[0], "a") as log, redirect_stdout(log), redirect_stderr(log):
        manifest = Path(smk.output[0])
        write_census_shards(smk.params.source, smk.params.species, manifest.parent,
                            shard_cells=int(smk.params.shard_cells), manifest=manifest,
                            log=lambda msg: print(msg, flush=True))
