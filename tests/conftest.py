"""Session-wide test setup, loaded before any test module imports our packages.

On a machine without CUDA the Triton kernels run under Triton's CPU interpreter, which must be
switched on before ``sigattn`` defines its kernels. It is switched on here, for the kernel tests;
every other test folder keeps the fast plain-PyTorch reference on CPU (``backend.CPU_USES_TRITON``
is off outside the kernel tests' fixture), and subprocesses do not inherit the interpreter.
Under pytest-xdist the tests that run Snakemake in the repository share one worker (REPO_SNAKEMAKE).
"""

import os
import sys

import pytest
import torch

if not torch.cuda.is_available() and "sigattn" not in sys.modules:
    os.environ["TRITON_INTERPRET"] = "1"
    import sigattn  # noqa: F401  (defines the kernels in interpreter mode)
    import triton
    from sigattn import backend

    triton.knobs.runtime.interpret = True
    del os.environ["TRITON_INTERPRET"]
    backend.CPU_USES_TRITON = False

#: Test files that run Snakemake in the repository's own directory (its .snakemake lock, and
#: .test/out, which test_dag builds and test_dag_byod reuses): under pytest-xdist (pyproject's
#: addopts, ``--dist loadgroup``) they share one worker and run there in collection order.
REPO_SNAKEMAKE = {"tests/workflow/test_dag.py", "tests/workflow/test_dag_byod.py", "tests/data/test_data_workflow.py"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.split("::")[0] in REPO_SNAKEMAKE:
            item.add_marker(pytest.mark.xdist_group("repo_snakemake"))
