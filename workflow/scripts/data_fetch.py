"""Download one remote dataset (cellxgene:<id> or https URL) to the rule's output: resumable,
checksummed, cached. A placeholder source fails here with the dataset, the sheet and the fix."""

from pathlib import Path

from scsigmoid.data.download import resolve_source
from scsigmoid.script import log_to_file

if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    with log_to_file(smk):
        out = Path(smk.output[0])
        path = resolve_source(smk.params.source, data_dir=smk.params.data_dir, cache_dir=out.parent,
                              name=smk.wildcards.dataset, sheet=smk.params.sheet)
        if path.resolve() != out.resolve():
            raise RuntimeError(f"{smk.wildcards.dataset}: downloaded to {path}, expected {out}.")
        print(f"{smk.wildcards.dataset}: {smk.params.source} -> {out}")
