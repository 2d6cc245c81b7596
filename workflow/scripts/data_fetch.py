"""Download one remote dataset (cellxgene:<id> or https URL) to the rule's output: resumable,
checksummed, cached. A placeholder source fails here with the dataset, the sheet and the fix."""

from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from scsigmoid.data.download import resolve_source

if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    with open(smk.log[0], "w") as log, redirect_stdout(log), redirect_stderr(log):
        out = Path(smk.output[0])
        path = resolve_source(smk.params.source, data_dir=smk.params.data_dir, cache_dir=out.parent,
                              name=smk.wildcards.dataset, sheet=smk.params.sheet)
        if path.resolve() != out.resolve():
            raise RuntimeError(f"{smk.wildcards.dataset}: downloaded to {path}, expected {out}.")
        print(f"{smk.wildcards.dataset}: {smk.params.source} -> {out}")
