"""Session-wide test setup, loaded before any test module imports our packages.

On a machine without CUDA the Triton kernels run under Triton's CPU interpreter, which must be
switched on before ``sigattn`` defines its kernels. It is switched on here, for the kernel tests;
every other test folder keeps the fast plain-PyTorch reference on CPU (``backend.CPU_USES_TRITON``
is off outside the kernel tests' fixture), and subprocesses do not inherit the interpreter.
"""

import os
import sys

import torch

if not torch.cuda.is_available() and "sigattn" not in sys.modules:
    os.environ["TRITON_INTERPRET"] = "1"
    import sigattn  # noqa: F401  (defines the kernels in interpreter mode)
    import triton
    from sigattn import backend

    triton.knobs.runtime.interpret = True
    del os.environ["TRITON_INTERPRET"]
    backend.CPU_USES_TRITON = False
