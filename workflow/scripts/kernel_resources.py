"""Snakemake script: the sm_90 compile report of every autotune config (sigattn.resources), with
the suite's provenance columns (device = the machine that compiled, commit, date) added.

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

sm = snakemake  # noqa: F821
env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
with tempfile.TemporaryDirectory() as tmp, open(sm.log[0], "w") as log:
    raw = Path(tmp) / "resources.csv"
    cmd = [sys.executable, "-m", "sigattn.resources", "--out", str(raw), "--arch", str(sm.params.arch),
           "--head-dims", *map(str, sm.params.head_dims)]
    if sm.params.limit:
        cmd += ["--limit", str(sm.params.limit)]
    subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    table = pd.read_csv(raw).drop(columns=["triton"])  # provenance() adds triton (and torch)
    write_csv(table.assign(**provenance()), sm.output[0])
