"""Snakemake script: an sm_90 compile report with the suite's provenance columns (device = the
machine that compiled, commit, date) added. ``params.module`` names the report: sigattn.resources
(every autotune config of our kernel) or scsigmoid.bench.sass (the authors' TritonSigmoid kernels);
``params.args`` its arguments besides ``--out``.

Runs the module in a child process without TRITON_INTERPRET: the report needs Triton's real JIT,
and a parent (e.g. the test suite) may have switched the interpreter on.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from scsigmoid.io import write_csv
from scsigmoid.provenance import provenance
from scsigmoid.script import log_to_file

sm = snakemake  # noqa: F821
log_to_file(sm)  # the child's output too: it inherits the log as stdout and stderr
env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
with tempfile.TemporaryDirectory() as tmp:
    raw = Path(tmp) / "report.csv"
    subprocess.run([sys.executable, "-m", sm.params.module, "--out", str(raw), *map(str, sm.params.args)],
                   env=env, check=True)
    table = pd.read_csv(raw).drop(columns=["triton"], errors="ignore")  # provenance() adds triton (and torch)
    # compile_s is this host's compile time: it alone changing does not make a new table
    write_csv(table.assign(**provenance()), sm.output[0], volatile=("compile_s",))
