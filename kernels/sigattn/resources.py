"""Compile the kernels for a GPU architecture on any machine (no GPU needed) and report what each
autotune config costs: registers, spill stack, shared memory, and the SASS instruction mix
(special-function MUFU ops, Hopper HGMMA ops, local-memory spill loads/stores, TMA loads), and the
kernel's main loop: its SASS instructions per score each thread issues in one pass of the unmasked
key (or query) tile loop, the count that bounds the sigmoid's share of the time where the tensor
cores are not the limit (kernels/PERF.md "Session 13").

Triton's wheel ships ptxas and cuobjdump, so ``triton.compile`` can lower a kernel all the way to
a cubin for sm_90 on a CPU-only machine. The JIT specialises integer arguments equal to 1 (the
head-dim strides of contiguous tensors) and pointers/strides divisible by 16; the same is done
here so the compiled code (vectorised, pipelined loads) matches what runs on the GPU.

    python -m sigattn.resources --out resources_sm90.csv [--arch 90] [--head-dims 64 128] \
        [--sigmoid fast fma halley mixed bf16x2 tanh] [--kernels fwd fwd_ws ...]

Run without TRITON_INTERPRET (the interpreter replaces the JIT functions this needs).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from . import triton_kernels as tk

KERNELS = {"fwd": tk._fwd_kernel, "dq": tk._bwd_dq_kernel, "dkdv": tk._bwd_dkdv_kernel,
           "dkdv_fused": tk._bwd_dkdv_kernel}  # the fused backward (SIGATTN_FUSED=1)
KERNELS.update({f"{name}_tma": kernel for name, kernel in KERNELS.items()})  # the TMA variant (SIGATTN_TMA=1)
#: The Gluon forward, its persistent form (gluon_kernels.KERNEL, KERNEL_PERSISTENT) and the Gluon
#: backward (gluon_backward.KERNEL), compiled by compile_ws_config.
GLUON_KERNELS = ("fwd_ws", "fwd_wsp", "bwd_wsb", "bwd_wsbt", "bwd_wsbp")
_POINTERS = {"Q", "K", "V", "Out", "MOD", "DO", "DQ", "DK", "DV"}
_FP32_POINTERS = {"DQA"}  # the fused backward's dQ accumulator
_FLOATS = {"scale", "bias_value"}
#: Shared memory one block may use, bytes, per architecture (Triton's OutOfResources on an H100
#: and on an H200 name this "Hardware limit": 227 KB)
SHARED_LIMIT = {90: 232448}
_SASS_OPS = ("MUFU", "HGMMA", "LDL", "STL", "FFMA", "FMUL", "UTMALDG")  # UTMALDG: TMA tile loads
COLUMNS = ["kernel", "head_dim", "dtype", "sigmoid", "block_m", "block_n", "num_warps", "num_stages",
           "registers", "spill_stack_bytes", "shared_bytes", *(f"sass_{op.lower()}" for op in _SASS_OPS),
           "sass_total", "loop_instr", "loop_instr_per_score", "loop_mufu_per_score", "compile_s", "arch",
           "triton"]
_SASS_LINE = re.compile(r"/\*([0-9a-f]{4,})\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_]*)([^;]*);")


def _tool(name: str) -> str:
    return str(Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / name)


def compile_for(fn, signature: dict, consts: dict, aligned, *, arch: int, num_warps: int, num_stages: int,
                source=ASTSource, **options):
    """Compile a JITFunction for ``arch`` as the JIT would: ``signature`` the type of each argument
    (``"constexpr"`` for those in ``consts``), ``aligned`` the indices of the arguments the JIT
    would see as divisible by 16; ``source`` GluonASTSource for a Gluon kernel, ``options`` more
    compile options (maxnreg)."""
    src = source(fn=fn, signature=signature,
                 constexprs={(fn.arg_names.index(k),): v for k, v in consts.items()},
                 attrs={(i,): [["tt.divisibility", 16]] for i in aligned})
    return triton.compile(src, target=GPUTarget("cuda", arch, 32),
                          options=dict(num_warps=num_warps, num_stages=num_stages, **options))


def compile_config(kernel: str, head_dim: int, block: tuple[int, int, int, int], *, arch: int = 90,
                   dtype: str = "bf16", sigmoid: str = "fast", causal: bool = False, a_regs: bool = False):
    """Compile one (kernel, head dim, (BLOCK_M, BLOCK_N, num_warps, num_stages)) for ``arch``;
    returns Triton's CompiledKernel. A kernel name ending in ``_tma`` compiles the TMA variant;
    ``a_regs`` its loaded A operands in registers (Q / dO: the "qreg" variant of the forward and dQ
    kernels; K / V: "kvreg" of the dK/dV kernel)."""
    if tk.INTERPRETER:
        raise RuntimeError("sigattn.resources needs the real JIT: unset TRITON_INTERPRET.")
    fn = KERNELS[kernel].fn  # the JITFunction under the autotuner
    m, n, warps, stages = block
    consts = dict(HEAD_DIM=head_dim, CAUSAL=causal, DEFAULT_BIAS=True, HAS_SCORE_MOD=False,
                  STORE_PADDED=True, UPCAST_DOT=False, SIGMOID=sigmoid,
                  DOT_PRECISION="ieee" if dtype == "fp32" else "tf32", TMA=kernel.endswith("_tma"),
                  BLOCK_M=m, BLOCK_N=n)
    if "A_REGS" in fn.arg_names:
        consts["A_REGS"] = a_regs
    if "FUSE_DQ" in fn.arg_names:
        consts["FUSE_DQ"] = "_fused" in kernel
    consts.update({a: 1 for a in fn.arg_names if a.startswith("stride_") and a.endswith("d")})
    signature, aligned = {}, []
    for i, a in enumerate(fn.arg_names):
        if a in consts:
            signature[a] = "constexpr"
        elif a in _POINTERS:
            signature[a], _ = f"*{dtype}", aligned.append(i)
        elif a in _FP32_POINTERS:
            signature[a], _ = "*fp32", aligned.append(i)
        elif a == "SEQ":
            signature[a], _ = "*i32", aligned.append(i)
        elif a in _FLOATS:
            signature[a] = "fp32"
        else:
            signature[a] = "i32"
            if a[:8] in ("stride_q", "stride_k", "stride_v", "stride_o", "stride_d", "stride_a") and a[-1] in "bth":
                aligned.append(i)
    return compile_for(fn, signature, consts, aligned, arch=arch, num_warps=warps, num_stages=stages)


def compile_ws_config(head_dim: int, block: tuple[int, int, int, int], *, arch: int = 90, sigmoid: str = "bf16x2",
                      kernel: str = "fwd_ws"):
    """Compile a Gluon kernel of GLUON_KERNELS (``kernel``: "fwd_ws" the forward, gluon_kernels,
    SIGATTN_WS=1; "fwd_wsp" its persistent form, SIGATTN_WS=persistent; "bwd_wsb" the backward,
    gluon_backward, SIGATTN_WSB=1, whose sigmoid is fixed; "bwd_wsbt" the same adding dQ by TMA
    reductions, SIGATTN_WSB=tma; "bwd_wsbp" its persistent form, SIGATTN_WSB=persistent) for one (BLOCK_M, BLOCK_N,
    compute warps, ring slots) as its launcher would (bf16, padded layout, default bias; the
    persistent form's descriptors as the JIT would type host-made ones of those block shapes)."""
    import torch
    from triton.backends.nvidia.compiler import CUDABackend
    from triton.experimental.gluon._runtime import GluonASTSource
    from triton.experimental.gluon.nvidia.hopper import TensorDescriptor
    from triton.runtime.jit import native_specialize_impl

    from . import gluon_backward as gb
    from . import gluon_kernels as gk

    fn = {"fwd_ws": gk._ws_fwd_kernel, "fwd_wsp": gk._ws_fwd_persistent_kernel, "bwd_wsb": gb._ws_bwd_kernel,
          "bwd_wsbt": gb._ws_bwd_kernel, "bwd_wsbp": gb._ws_bwd_persistent_kernel}[kernel]
    m, n, warps, stages = block
    consts = dict(HEAD_DIM=head_dim, DEFAULT_BIAS=True, STORE_PADDED=True, BLOCK_M=m, BLOCK_N=n,
                  STAGES=stages, num_warps=warps)
    if "SIGMOID" in fn.arg_names:
        consts["SIGMOID"] = sigmoid
    if "DQ_TMA" in fn.arg_names:
        consts["DQ_TMA"] = kernel == "bwd_wsbt"
    view = torch.empty(16, 16 * head_dim, dtype=torch.bfloat16)  # stands in for [rows, heads · head dim]

    view_fp32 = torch.empty(16, 16 * head_dim, dtype=torch.float32)  # the persistent backward's dQ accumulator

    def descriptor(rows: int, fp32: bool = False) -> str:
        t, layout = (view_fp32, gb.DQ_SMEM_LAYOUT) if fp32 else (view, gk.SMEM_LAYOUT)
        desc = TensorDescriptor(t, list(t.shape), [t.shape[1], 1], [rows, head_dim], layout.value)
        return native_specialize_impl(CUDABackend, desc, False, True, True)[0]

    signature, aligned = {}, []
    for i, a in enumerate(fn.arg_names):
        if a in consts:
            signature[a] = "constexpr"
        elif a.endswith("_desc"):
            signature[a] = descriptor(m if a in ("q_desc", "do_desc", "dqa_desc") else n, fp32=a == "dqa_desc")
        elif a in _POINTERS or a in _FP32_POINTERS or a in ("SEQ", "SCHED"):
            signature[a] = "*i32" if a in ("SEQ", "SCHED") else "*fp32" if a in _FP32_POINTERS else "*bf16"
            aligned.append(i)
        elif a in _FLOATS:
            signature[a] = "fp32"
        else:
            signature[a] = "i32"
            if a.startswith("stride_"):
                aligned.append(i)
    return compile_for(fn, signature, consts, aligned, arch=arch, num_warps=warps, num_stages=stages,
                       source=GluonASTSource, maxnreg=gk.MAX_REGISTERS[warps])


def ptxas_notes(compiled, arch: int = 90) -> list[str]:
    """ptxas's performance notes on a compiled kernel's PTX (``ptxas -v``), e.g. C7512-C7515:
    every wgmma of the kernel serialised (waited for right after issue) because of register
    pressure or instructions touching an accumulator while its wgmma is in flight."""
    with tempfile.TemporaryDirectory() as tmp:
        ptx = Path(tmp) / "k.ptx"
        ptx.write_text(compiled.asm["ptx"])
        out = subprocess.run([_tool("ptxas"), f"-arch=sm_{arch}a", "-v", str(ptx), "-o", str(Path(tmp) / "k.cubin")],
                             capture_output=True, text=True, check=True)
    return [line for line in (out.stdout + out.stderr).splitlines() if "Performance Loss" in line]


def main_loop(sass: str) -> collections.Counter:
    """SASS op counts of the kernel's main loop: of the loops (a branch back to an earlier address,
    the body the instructions from its target to the branch) that issue both tensor-core ops
    (HGMMA on Hopper, HMMA before) and special-function ops (the sigmoid's MUFU: a loop of a
    pipelined kernel's prologue/epilogue can hold matmuls only), the one with the fewest
    instructions: the unmasked tile loop, since the masked loops of the same tiles add mask
    arithmetic. Empty if there is no such loop."""
    code = [(int(addr, 16), op, rest) for addr, op, rest in _SASS_LINE.findall(sass)]
    index = {addr: i for i, (addr, _, _) in enumerate(code)}
    best = collections.Counter()
    for i, (addr, op, rest) in enumerate(code):
        target = re.search(r"0x([0-9a-f]+)", rest) if op == "BRA" else None
        if target is None or int(target.group(1), 16) >= addr or int(target.group(1), 16) not in index:
            continue
        body = collections.Counter(o for _, o, _ in code[index[int(target.group(1), 16)]:i + 1])
        if (body["HGMMA"] or body["HMMA"]) and body["MUFU"] and (not best or sum(body.values()) < sum(best.values())):
            best = body
    return best


def _cuobjdump(compiled, flag: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        cubin = Path(tmp) / "k.cubin"
        cubin.write_bytes(compiled.asm["cubin"])
        return subprocess.run([_tool("cuobjdump"), flag, str(cubin)], capture_output=True, text=True,
                              check=True).stdout


def sass(compiled) -> str:
    """The SASS listing of a compiled kernel (cuobjdump -sass)."""
    return _cuobjdump(compiled, "-sass")


def resources(compiled, scores_per_thread: float | None = None) -> dict:
    """Registers, spill stack and SASS op counts of a compiled kernel (via cuobjdump); with
    scores_per_thread (BLOCK_M·BLOCK_N / threads: the scores one thread owns in one pass of the
    main loop) also the main loop's instructions and MUFU ops per score (`main_loop`)."""
    usage, listing = _cuobjdump(compiled, "-res-usage"), sass(compiled)
    ops = collections.Counter(op for _, op, _ in _SASS_LINE.findall(listing))
    loop = main_loop(listing)
    per_score = (lambda n: round(n / scores_per_thread, 3)) if scores_per_thread and loop else (lambda n: "")
    return {"registers": int(re.search(r"REG:(\d+)", usage).group(1)),
            "spill_stack_bytes": int(re.search(r"STACK:(\d+)", usage).group(1)),
            "shared_bytes": int(compiled.metadata.shared),
            **{f"sass_{op.lower()}": ops[op] for op in _SASS_OPS}, "sass_total": sum(ops.values()),
            "loop_instr": sum(loop.values()) or "", "loop_instr_per_score": per_score(sum(loop.values())),
            "loop_mufu_per_score": per_score(loop["MUFU"])}


def table(head_dims=(64, 128, 256), kernels=tuple(KERNELS), *, arch: int = 90, dtype: str = "bf16",
          sigmoids=("fast",), limit: int | None = None) -> list[dict]:
    """One row per sigmoid mode x kernel x head dim x config of TUNE_TABLE (``limit``: first N
    configs each)."""
    rows = []
    for sigmoid in sigmoids:
        for kernel in kernels:
            for hd in head_dims:
                if kernel in GLUON_KERNELS and hd not in tk.TUNE_TABLE[kernel]:
                    continue
                for block in tk.TUNE_TABLE[kernel][tk.head_dim_class(hd)][:limit]:
                    t0 = time.perf_counter()
                    m, n, warps, stages = block
                    if kernel in GLUON_KERNELS:
                        # Gluon, bf16 only. No main-loop columns: its mbarrier waits retry from blocks
                        # placed after the loop, so `main_loop` can take a spin loop's span for it
                        # (kernels/PERF.md "Session 21" counts its loop by hand)
                        res = resources(compile_ws_config(hd, block, arch=arch, sigmoid=sigmoid, kernel=kernel))
                        res.update(loop_instr="", loop_instr_per_score="", loop_mufu_per_score="")
                    else:
                        res = resources(compile_config(kernel, hd, block, arch=arch, dtype=dtype, sigmoid=sigmoid),
                                        m * n / (32 * warps))
                    rows.append({"kernel": kernel, "head_dim": hd, "dtype": dtype, "sigmoid": sigmoid,
                                 "block_m": m, "block_n": n, "num_warps": warps, "num_stages": stages, **res,
                                 "compile_s": round(time.perf_counter() - t0, 2), "arch": f"sm_{arch}",
                                 "triton": triton.__version__})
    return rows


def write_csv(rows: list[dict], out: Path, columns=COLUMNS) -> None:
    """Write rows atomically (the kernel library does not depend on pandas)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as fh:
        fh.write(",".join(columns) + "\n")
        for r in rows:
            fh.write(",".join(str(r[c]) for c in columns) + "\n")
    os.replace(tmp, out)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m sigattn.resources", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="CSV file to write")
    p.add_argument("--arch", type=int, default=90, help="SM architecture (90 = Hopper)")
    p.add_argument("--head-dims", type=int, nargs="+", default=[64, 128, 256])
    p.add_argument("--kernels", nargs="+", choices=[*KERNELS, *GLUON_KERNELS], default=list(KERNELS),
                   help="kernels to compile; fwd_ws: the Gluon forward (bf16; sigmoid bf16x2 or fast), fwd_wsp: its "
                   "persistent form, bwd_wsb: the Gluon backward (its sigmoid fixed), bwd_wsbt: the same, dQ by TMA reductions, "
                   "bwd_wsbp: its persistent form")
    p.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], default="bf16")
    p.add_argument("--sigmoid", nargs="+", choices=list(tk.SIGMOID_MODES), default=["fast"],
                   help="sigmoid modes, each compiled for every config")
    p.add_argument("--limit", type=int, default=None, help="only the first N configs of each list")
    args = p.parse_args(argv)
    rows = table(args.head_dims, args.kernels, arch=args.arch, dtype=args.dtype, sigmoids=args.sigmoid,
                 limit=args.limit)
    write_csv(rows, Path(args.out))
    spilling = [r for r in rows if r["spill_stack_bytes"]]
    print(f"wrote {args.out}: {len(rows)} configs, {len(spilling)} with register spills")


if __name__ == "__main__":
    main()
