"""Kernel tests run the Triton kernels: compiled on a CUDA machine, under Triton's CPU interpreter
otherwise. The interpreter is switched on by tests/conftest.py before anything imports sigattn."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # sigattn_testutil, also under --import-mode=importlib

HAS_CUDA = torch.cuda.is_available()

import sigattn  # noqa: E402  (tests/conftest.py switched the interpreter on first, without CUDA)
from sigattn import backend  # noqa: E402
from sigattn.debug import poison_outputs  # noqa: E402

DEVICE = "cuda" if HAS_CUDA else "cpu"


def pytest_collection_modifyitems(config, items):
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
    skip_all = pytest.mark.skip(reason="sigattn was imported before tests/conftest.py could switch "
                                       "Triton's interpreter on (no CUDA); run pytest from the repo root")
    kernels_run = HAS_CUDA or sigattn.INTERPRETER
    for item in items:
        if "tests/kernels" not in str(item.fspath).replace("\\", "/"):
            continue
        if "gpu" in item.keywords and not HAS_CUDA:
            item.add_marker(skip_gpu)
        elif not kernels_run and "reference_only" not in item.keywords:
            item.add_marker(skip_all)


def pytest_configure(config):
    config.addinivalue_line("markers", "reference_only: tests that do not need the Triton kernels")
    # Triton 3.6's interpreter converts 1-element arrays with int(); numpy deprecates that.
    config.addinivalue_line("filterwarnings", "ignore:Conversion of an array with ndim > 0:DeprecationWarning")


@pytest.fixture(autouse=True)
def _kernels_on_cpu_and_poisoned_outputs(monkeypatch):
    """CPU tensors run the interpreted kernels, and every kernel output starts as NaN, so an
    element the kernels forget to write shows."""
    monkeypatch.setattr(backend, "CPU_USES_TRITON", True)
    with poison_outputs():
        yield


@pytest.fixture
def device():
    return DEVICE


#: kernel_variant's params -> the single variant each runs (sigattn.triton_kernels.variant_env); on a
#: GPU also the loaded A operands in registers (Q / dO and K / V: "qreg_kvreg", pointer loads and
#: descriptors), which the interpreter runs as the kernels without it (no inline assembly there:
#: tests/kernels/test_sigattn_qreg.py checks the compiled code on the CPU instead)
KERNEL_VARIANTS = {"pointer": "fast", "tma": "tma", "fused": "fused", "tma_fused": "tma_fused",
                   **({"qreg": "qreg_kvreg", "tma_qreg": "tma_qreg_kvreg"} if HAS_CUDA else {})}


@pytest.fixture(params=list(KERNEL_VARIANTS))
def kernel_variant(request, monkeypatch):
    """Runs a test with each single kernel variant: pointer loads, tensor descriptors
    (SIGATTN_TMA=1), and each with the fused backward (SIGATTN_FUSED=1: no dQ kernel, dQ added by
    the dK/dV kernel), the fast sigmoid unless the test sets another. Fails the test if a launch
    took another variant than asked (the TMA variant falling back to pointers would pass every
    check without testing anything)."""
    from sigattn import triton_kernels
    from sigattn_testutil import use_variant

    want_tma, want_fused, want_qreg = "tma" in request.param, "fused" in request.param, "qreg" in request.param
    use_variant(monkeypatch, KERNEL_VARIANTS[request.param])  # single variants (the default mixes them)
    launched = []
    real_launch = triton_kernels._launch

    def spy(name, kernel, autotuner, grid, args, flags, *rest):
        launched.append((name, flags["TMA"], flags.get("FUSE_DQ", False)))
        if "A_REGS" in flags and args[0].dtype in (torch.float16, torch.bfloat16):
            assert flags["A_REGS"] == want_qreg, (
                f"{request.param} variant asked, but {name} launched A_REGS={flags['A_REGS']}")
        return real_launch(name, kernel, autotuner, grid, args, flags, *rest)

    monkeypatch.setattr(triton_kernels, "_launch", spy)
    yield request.param
    assert launched, "no kernel was launched"
    wrong = [name for name, tma, _ in launched if tma != want_tma]
    assert not wrong, f"{request.param} variant asked, but {wrong} launched the other one"
    backward = {name: fused for name, _, fused in launched if name.startswith("backward")}
    if backward:
        assert backward == ({"backward_dkdv": True} if want_fused else {"backward_dq": False, "backward_dkdv": False}), (
            f"{request.param} variant asked, but the backward launched {backward}")
