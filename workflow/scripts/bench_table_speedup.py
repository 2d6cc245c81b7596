"""Write the kernel speedup table (CSV, Markdown) from the merged benchmark CSV."""

from contextlib import redirect_stderr, redirect_stdout

import pandas as pd

from scsigmoid.bench.speedup import speedup_markdown, speedup_table
from scsigmoid.io import write_csv, write_text

if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    with open(smk.log[0], "w") as log, redirect_stdout(log), redirect_stderr(log):
        table = speedup_table(pd.read_csv(smk.input.results), pd.read_csv(smk.input.flashsigmoid),
                              timing=smk.params.timing)
        write_csv(table, smk.output.csv)
        write_text(speedup_markdown(table), smk.output.md)
