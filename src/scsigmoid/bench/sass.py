"""The authors' TritonSigmoid kernels (forward, dQ, dK/dV) compiled for sm_90 on any machine: each
main loop's SASS instructions and special-function ops per score, the counts `sigattn.resources`
reports for our kernels (kernels/PERF.md "Session 13" and "Session 14" compare the two).

    pip install -e ".[gpu-baselines]"   # triton-sigmoid 0.1.2
    python -m scsigmoid.bench.sass --out results/kernels/tritonsigmoid_sm90.csv [--head-dims 64 128]

One row per kernel × head dim × entry of that kernel's Hopper autotune list (its
``kernel_utils.FWD_CONFIGS``, ``DQ_CONFIGS``, ``DKDV_CONFIGS``), compiled as its dense kernels run
in the benchmark: bf16, not causal, no score_mod, a token count in the 16K bucket, unit head-dim
strides, 16-byte aligned pointers and strides. Each kernel's main loop is its one tile loop (every
tile takes the masked path there). TritonSigmoid picks its autotune list by asking torch for the GPU when it is
imported and refuses to import without CUDA, so on a CPU the import is answered "sm_90" (the
answer holds only during the import; nothing runs on a GPU).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path
from unittest import mock

from scsigmoid.bench.adapters import TritonSigmoidDense

COLUMNS = ["impl", "kernel", "head_dim", "dtype", "sigmoid", "block_m", "block_n", "num_warps", "num_stages",
           "registers", "spill_stack_bytes", "shared_bytes", "loop_instr", "loop_instr_per_score",
           "loop_mufu_per_score", "compile_s", "arch", "triton_sigmoid"]


@contextlib.contextmanager
def _as_hopper():
    import torch

    with mock.patch.object(torch.cuda, "is_available", lambda: True), \
            mock.patch.object(torch.cuda, "get_device_capability", lambda *a, **k: (9, 0)):
        yield


#: Our kernel names (sigattn.resources.KERNELS) -> TritonSigmoid's dense kernel, as the benchmark
#: adapter names them.
KERNELS = dict(zip(("fwd", "dq", "dkdv"), TritonSigmoidDense.kernels, strict=True))
_TENSORS = {"Q", "K", "V", "Out", "dO", "dQ", "dK", "dV"}


def import_tritonsigmoid():
    """(its dense-kernels module, {kernel: its autotuner's configs}, its version), imported with the
    Hopper autotune lists."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("triton-sigmoid")
    except PackageNotFoundError as exc:
        raise SystemExit("triton-sigmoid is not installed: pip install -e '.[gpu-baselines]' "
                         "(the authors' kernel, pinned in pyproject.toml).") from exc
    with _as_hopper():
        from triton_sigmoid import kernel_utils, sigmoid_triton_dense
    if len(kernel_utils.FWD_CONFIGS) < 2:
        raise SystemExit("triton-sigmoid imported with its one-config list (PYTEST_VERSION set or not "
                         "Hopper): run outside pytest.")
    return sigmoid_triton_dense, {k: getattr(sigmoid_triton_dense, name).configs for k, name in KERNELS.items()}, found


def compile_kernel(dense, kernel: str, head_dim: int, config, *, arch: int = 90, seq_len: int = 16384):
    """One of TritonSigmoid's dense kernels ("fwd", "dq", "dkdv") for one autotune config, compiled
    for ``arch``."""
    from sigattn.resources import compile_for

    fn = getattr(dense, KERNELS[kernel]).fn
    consts = dict(D=head_dim, IS_CAUSAL=False, IS_FP32=False, IS_BF16=True, T_bucketed=seq_len,
                  HAS_SCORE_MOD=False, stride_q_d=1, stride_k_d=1, **config.kwargs)
    signature, aligned = {}, []
    for i, name in enumerate(fn.arg_names):
        if name in consts:
            signature[name] = "constexpr"
        elif name in _TENSORS:
            signature[name], _ = "*bf16", aligned.append(i)
        elif name.endswith("_ptr"):
            signature[name], _ = "*fp32", aligned.append(i)
        else:
            signature[name] = "i32"
            if name.startswith("stride_"):
                aligned.append(i)
    return compile_for(fn, signature, consts, aligned, arch=arch, num_warps=config.num_warps,
                       num_stages=config.num_stages)


def table(head_dims=(64, 128), kernels=tuple(KERNELS), *, arch: int = 90) -> list[dict]:
    from sigattn.resources import resources

    dense, configs, found = import_tritonsigmoid()
    rows = []
    for kernel in kernels:
        for head_dim in head_dims:
            for config in configs[kernel]:
                t0 = time.perf_counter()
                compiled = compile_kernel(dense, kernel, head_dim, config, arch=arch)
                m, n = config.kwargs["BLOCK_M"], config.kwargs["BLOCK_N"]
                report = resources(compiled, m * n / (32 * config.num_warps))
                rows.append({"impl": "tritonsigmoid_dense", "kernel": kernel, "head_dim": head_dim,
                             "dtype": "bf16", "sigmoid": "tanh", "block_m": m, "block_n": n,
                             "num_warps": config.num_warps, "num_stages": config.num_stages, **report,
                             "compile_s": round(time.perf_counter() - t0, 2), "arch": f"sm_{arch}",
                             "triton_sigmoid": found})
    return rows


def main(argv=None) -> None:
    from sigattn.resources import write_csv

    p = argparse.ArgumentParser(prog="python -m scsigmoid.bench.sass", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="CSV file to write")
    p.add_argument("--arch", type=int, default=90)
    p.add_argument("--head-dims", type=int, nargs="+", default=[64, 128])
    p.add_argument("--kernels", nargs="+", choices=list(KERNELS), default=list(KERNELS))
    args = p.parse_args(argv)
    rows = table(args.head_dims, args.kernels, arch=args.arch)
    write_csv(rows, Path(args.out), COLUMNS)
    print(f"wrote {args.out}: {len(rows)} configs")


if __name__ == "__main__":
    main()
