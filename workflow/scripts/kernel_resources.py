"""Snakemake script: the sm_90 compile report of every autotune config (sigattn.resources).

Runs the module in a child process without TRITON_INTERPRET: the report needs Triton's real JIT,
and a parent (e.g. the test suite) may have switched the interpreter on.
"""

import os
import subprocess
import sys

sm = snakemake  # noqa: F821
env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
cmd = [sys.executable, "-m", "sigattn.resources", "--out", str(sm.output[0]), "--arch", str(sm.params.arch),
       "--head-dims", *map(str, sm.params.head_dims)]
if sm.params.limit:
    cmd += ["--limit", str(sm.params.limit)]
with open(sm.log[0], "w") as log:
    subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
