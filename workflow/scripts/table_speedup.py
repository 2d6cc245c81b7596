"""Write the kernel speedup table (CSV, Markdown) from the merged benchmark CSV."""


import pandas as pd

from scsigmoid.bench.reference import other_device
from scsigmoid.bench.speedup import speedup_markdown, speedup_table
from scsigmoid.io import write_csv, write_text
from scsigmoid.script import log_to_file

if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    with log_to_file(smk):
        results, reference = pd.read_csv(smk.input.results), pd.read_csv(smk.input.flashsigmoid)
        table = speedup_table(results, reference, timing=smk.params.timing)
        write_csv(table, smk.output.csv)
        write_text(speedup_markdown(table, left_out=other_device(results, reference)), smk.output.md)
