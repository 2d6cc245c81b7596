"""The one place that decides which implementation runs a call: Triton kernels or the reference.

- CUDA tensors -> Triton kernels (compiled).
- CPU tensors  -> Triton kernels under Triton's CPU interpreter, if ``TRITON_INTERPRET=1`` was set
  before ``sigattn`` was imported (Triton reads it when kernels are defined);
  otherwise -> the plain-PyTorch reference, so models still train on CPU.
"""

from __future__ import annotations

import os

import torch

#: Whether Triton's interpreter was switched on when sigattn was imported.
INTERPRETER = os.environ.get("TRITON_INTERPRET", "0") == "1"

#: With the interpreter on, whether CPU tensors go to the interpreted kernels (True) or to the
#: reference. The kernel tests keep it True only for their own tests, so other test folders in
#: the same pytest process still get the fast reference on CPU.
CPU_USES_TRITON = True


def backend_for(tensor: torch.Tensor) -> str:
    """Return ``"triton"`` or ``"reference"``: the implementation that runs for ``tensor``'s device."""
    if tensor.device.type == "cuda":
        return "triton"
    if tensor.device.type == "cpu" and INTERPRETER and CPU_USES_TRITON:
        return "triton"
    return "reference"
