"""Triton kernels for sigmoid attention: one forward kernel, a dK/dV kernel and a dQ kernel (or,
fused, the dK/dV kernel adding dQ by atomics).

O = sigmoid(Q·Kᵀ·scale + b + score_mod)·V. No running max, no row sum, no rescaling: every score
turns into a probability on its own, so each tile of keys adds P·V straight into the accumulator.

Both layouts share the same kernels. A sequence is described by a row of ``seq_table`` (int32
[4, N]: query start, query length, key start, key length) and a tensor by four strides
(batch, token, head, dim):

- padded [B, L, H, D]: batch stride = stride(0), starts = 0, lengths = seq_lens;
- packed [T, H, D]:   batch stride = 0, starts = cu_seqlens[:-1], lengths = diff(cu_seqlens).

Rows up to ``rows_*`` are written: in the padded layout that is the whole padded length (padded
rows get exact zeros); in the packed layout it is the sequence length (so sequences never overlap).
Key tiles past a sequence's length are skipped, and so are tiles above the diagonal when causal
(top-left aligned: query i sees keys j <= i).
"""

from __future__ import annotations

import contextlib
import functools
import os

import torch
import triton
import triton.language as tl

from . import tuned
from .backend import INTERPRETER

# ----------------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------------


#: sigmoid(x) is evaluated from y = factor·x, the factor a constant of the mode (`_arg_factor`).
#: The kernels fold it into the score's scale and bias once per program (`_sigmoid_args`), so the
#: score's one FFMA (s·scale + bias) already yields y: one FMUL a score fewer than scaling inside
#: the sigmoid (kernels/PERF.md "Session 13").
_NEG_LOG2E = tl.constexpr(-1.4426950408889634)
#: ex2's argument bound in the FMA-pipe modes: y <= 115.4 (x >= -80), so 1 + 2^y stays finite and
#: the bit-trick seed of its reciprocal stays a positive float; sigmoid(-80) ~ 1.8e-35 stands in for
#: the smaller values.
_Y_MAX = tl.constexpr(115.41560327111707)
#: Inline PTX is for the GPU only (Triton's interpreter cannot run it).
_ASM = tl.constexpr(not INTERPRETER)


@triton.jit
def _arg_factor(SIGMOID: tl.constexpr):
    """The factor y = factor·x of a sigmoid mode: 1/2 for tanh (of x/2), 1 for exact, -log2(e)
    for the ex2 modes."""
    if SIGMOID == "tanh":
        return 0.5
    elif SIGMOID == "exact":
        return 1.0
    else:
        return _NEG_LOG2E


@triton.jit
def _sigmoid_args(scale, bias, SIGMOID: tl.constexpr):
    """(scale, bias) of the score with the sigmoid's argument factor folded in: y = s·scale' + bias'."""
    factor = _arg_factor(SIGMOID)
    return scale * factor, bias * factor


@triton.jit
def _rcp(d):
    """1/d for d >= 1: rcp.approx.ftz on the special-function unit (at most 1 ulp; 0 for d > 2^126,
    where 1/d is below float32's normal range). tl.fdiv(1, d, ieee_rounding=False) lowers to
    div.full, which wraps the same MUFU.RCP in a range check (FSETP, FSEL, a predicated FMUL) and
    a multiply: four instructions a score more (kernels/PERF.md "Session 14"). The interpreter
    runs no inline assembly: there, the division."""
    if _ASM:
        return tl.inline_asm_elementwise("rcp.approx.ftz.f32 $0, $1;", "=f,f", [d], dtype=tl.float32,
                                         is_pure=True, pack=1)
    else:
        return tl.fdiv(1.0, d, ieee_rounding=False)


@triton.jit
def _round_bf16(x):
    """x (fp32) rounded to the nearest bfloat16 (ties to even), held in fp32: the rounding of one
    bf16x2 instruction, for the interpreter's emulation of the "bf16x2" sigmoid."""
    b = x.to(tl.int32, bitcast=True)
    b = (b + 0x7FFF + ((b >> 16) & 1)) & -65536
    return b.to(tl.float32, bitcast=True)


#: The "bf16x2" sigmoid's PTX over a pair of scores (see _sigmoid_bf16x2); also the Gluon forward's
#: (gluon_kernels).
BF16X2_SIGMOID_PTX = tl.constexpr("""{
    .reg .f32 e0, e1;
    .reg .b32 nd, r, t, w, cmin, one;
    mov.b32 cmin, 0xFB00FB00;
    mov.b32 one, 0x3F803F80;
    ex2.approx.ftz.f32 e0, $1;
    ex2.approx.ftz.f32 e1, $2;
    sub.f32 e0, 0fBF800000, e0;
    sub.f32 e1, 0fBF800000, e1;
    cvt.rn.bf16x2.f32 nd, e1, e0;
    max.bf16x2 nd, nd, cmin;
    sub.s32 r, 0xFEF3FEF3, nd;
    fma.rn.bf16x2 t, nd, r, one;
    fma.rn.bf16x2 w, t, t, t;
    fma.rn.bf16x2 $0, r, w, r;
}""")


@triton.jit
def _sigmoid_bf16x2(y):
    """The "bf16x2" sigmoid (see _sigmoid): d = 1 + 2^y in fp32, rounded to bf16 and clamped at
    2^119; the bit-trick seed of 1/d for both halves of a bf16 pair in one integer op; one Halley
    step in bf16x2 FMAs: t = 1 - d·r, r·(1 + t + t²). On the GPU as PTX over pairs of scores (two
    ex2, two adds, one cvt, one min, one sub, three fma.bf16x2: 6 instructions a score with the
    score's FFMA); in the interpreter the same steps with each bf16x2 rounding emulated (the
    products of bf16 values are exact in fp32, so each step rounds once, as the hardware does)."""
    if _ASM:
        p = tl.inline_asm_elementwise(BF16X2_SIGMOID_PTX, "=r,r,r", [y], dtype=tl.bfloat16, is_pure=True, pack=2)
        return p.to(tl.float32)
    else:
        d = tl.minimum(_round_bf16(1.0 + tl.exp2(y)), 6.646139978924579e35)  # 2^119
        r = (0x7EF30000 - d.to(tl.int32, bitcast=True)).to(tl.float32, bitcast=True)
        t = _round_bf16(1.0 - d * r)
        w = _round_bf16(t * t + t)
        return _round_bf16(r * w + r)


@triton.jit
def _sigmoid(y, SIGMOID: tl.constexpr):
    """sigmoid(x) in fp32 from y = _arg_factor(SIGMOID)·x, seven ways (see SIGMOID_MODES):
    "exact":  1 / (1 + exp(-x)) with IEEE division (tl.sigmoid), y = x;
    "fast":   ex2.approx and rcp.approx, both on the special-function unit (a few ulp, accurate at
              every magnitude, so also for the small probabilities sigmoid(-log n) ~ 1/n of long
              rows; 0 below sigmoid(-87) ~ 1.6e-38);
    "fma":    ex2.approx on the special-function unit, the reciprocal on the FMA pipe (bit-trick
              seed + two Newton steps, relative error < 1e-5 for every x): one special-function op
              per score instead of two, for 16-bit inputs (fp32 inputs use "fast");
    "halley": as "fma" with one Halley step (e = 1 - d·r0, r = r0 + r0·(e + e²)): three FMA-pipe ops
              for the reciprocal instead of four, relative error < 1.3e-4 for every x (mean +1.7e-5;
              bf16 rounds P by up to 2e-3, fp16 by 4.9e-4); 16-bit inputs only;
    "mixed":  half of a tile's scores as "fast", half as "halley" (1.5 special-function ops a score:
              the two pipes balanced where a score's other work is small, as in the backward;
              errors those of "halley"); 16-bit inputs only. The split pairs the two columns each
              thread holds side by side in the matmul's accumulator layout, so it moves no data;
    "bf16x2": P at bfloat16 precision, two scores an instruction (`_sigmoid_bf16x2`): relative
              error <= 6e-3 (1.5x a correctly rounded bf16 P's 3.9e-3; mean 1.4x), at every
              magnitude like "fast". Forward of bf16 inputs only (P meets the PV matmul as bf16
              anyway; fp16 inputs run "halley"); the backward, which needs 1 - p, runs "mixed"
              (sigmoid_mode);
    "tanh":   0.5 + 0.5·tanh.approx(x/2), one special-function op (GPU only): absolute error about
              2^-12, so a large *relative* error where p is small. Opt-in, for measurement.
    For 1/d with d = 1 + 2^y in [1, 2^115.4], 0x7EF311C3 - bits(d) is within 5.1 % of 1/d."""
    if SIGMOID == "tanh":
        t = tl.inline_asm_elementwise("tanh.approx.f32 $0, $1;", "=f,f", [y],
                                      dtype=tl.float32, is_pure=True, pack=1)
        return 0.5 + 0.5 * t
    elif SIGMOID == "fma" or SIGMOID == "halley":
        d = 1.0 + tl.exp2(tl.minimum(y, _Y_MAX))
        r = (0x7EF311C3 - d.to(tl.int32, bitcast=True)).to(tl.float32, bitcast=True)  # 1/d to 5.1 %
        if SIGMOID == "fma":
            r = r * (2.0 - d * r)
            return r * (2.0 - d * r)
        else:
            e = 1.0 - d * r  # one FFMA (tl.fma(-d, ...) would negate d in an FADD of its own)
            return tl.fma(r, tl.fma(e, e, e), r)
    elif SIGMOID == "bf16x2":
        return _sigmoid_bf16x2(y)
    elif SIGMOID == "mixed":
        y_mufu, y_fma = tl.split(tl.reshape(y, [y.shape[0], y.shape[1] // 2, 2]))
        p = tl.join(_sigmoid(y_mufu, "fast"), _sigmoid(y_fma, "halley"))
        return tl.reshape(p, [y.shape[0], y.shape[1]])
    elif SIGMOID == "fast":
        return _rcp(1.0 + tl.exp2(y))
    else:
        return tl.sigmoid(y)


@triton.jit
def _dot(a, b, acc, UPCAST_DOT: tl.constexpr, DOT_PRECISION: tl.constexpr):
    """acc + a @ b with fp32 accumulation. UPCAST_DOT: compute in fp32 (the interpreter's
    fp16/bf16 dot is wrong); DOT_PRECISION: "ieee" for fp32 inputs (no TF32 rounding)."""
    if UPCAST_DOT:
        return tl.dot(a.to(tl.float32), b.to(tl.float32), acc, input_precision=DOT_PRECISION)
    else:
        return tl.dot(a, b, acc, input_precision=DOT_PRECISION)


@triton.jit
def _in_registers(x, A_REGS: tl.constexpr):
    """x unchanged; with A_REGS (the "qreg" and "kvreg" variants) through an opaque register move,
    so that the wgmma whose A operand x is (Q in S = Q·Kᵀ, dO in dP = dO·Vᵀ; K in Sᵀ = K·Qᵀ, V in
    dPᵀ = V·dOᵀ) reads it from registers: Triton's MMAv3 lowering puts an A operand that comes
    straight from a load in shared memory, read again by every tile's wgmma (kernels/PERF.md
    "Session 29"). The interpreter: x itself."""
    if A_REGS and _ASM:
        return tl.inline_asm_elementwise("mov.b32 $0, $1;", "=r,r", [x], dtype=x.dtype, is_pure=True, pack=2)
    else:
        return x


@triton.jit
def _tile_of_program(rows, heads, BLOCK: tl.constexpr):
    """Program id -> (row block, sequence, head). The only place that fixes the tile order:
    row blocks of one (sequence, head) are neighbours, so they share K/V in L2."""
    pid = tl.program_id(0)
    row_blocks = tl.cdiv(rows, BLOCK)
    row_block = pid % row_blocks
    seq_head = pid // row_blocks
    return row_block, seq_head // heads, seq_head % heads


@triton.jit
def _sequence(SEQ, n_seqs, seq):
    """Query start, query length, key start, key length of one sequence (starts as int64); the
    Gluon kernels call it too (its scalar loads compile the same under Gluon)."""
    q_start = tl.load(SEQ + seq).to(tl.int64)
    q_len = tl.load(SEQ + n_seqs + seq)
    k_start = tl.load(SEQ + 2 * n_seqs + seq).to(tl.int64)
    k_len = tl.load(SEQ + 3 * n_seqs + seq)
    return q_start, q_len, k_start, k_len


@triton.jit
def _rows_source(ptr, n_rows, stride_t, BLOCK: tl.constexpr, HEAD_DIM: tl.constexpr, TMA: tl.constexpr):
    """Where the tiles of a streamed [n_rows, HEAD_DIM] operand of one (sequence, head) come from:
    with TMA a tensor descriptor over exactly its rows (a tile load reads rows >= n_rows as zeros:
    sequence ends and padding need no load masks; on Hopper the loads are TMA copies the
    pipeliner runs ahead of the matmuls), else the base pointer itself. n_rows = 0 gives a
    one-row descriptor that no loop reads (every loop over these rows is empty then)."""
    if TMA:
        return tl.make_tensor_descriptor(ptr, shape=[tl.maximum(n_rows, 1), HEAD_DIM], strides=[stride_t, 1],
                                         block_shape=[BLOCK, HEAD_DIM])
    else:
        return ptr


@triton.jit
def _bias(k_len, bias_value, DEFAULT_BIAS: tl.constexpr):
    """b = -log(valid keys of the sequence) by default, else the given float."""
    if DEFAULT_BIAS:
        return -tl.log(tl.maximum(k_len, 1).to(tl.float32))
    else:
        return bias_value


# ----------------------------------------------------------------------------------------------
# Autotuning: per head-dim lists on GPU, a single small config under the interpreter
# ----------------------------------------------------------------------------------------------

#: Triton adds the tensors' dtypes itself (UPCAST_DOT and DOT_PRECISION follow the dtype); every
#: other constexpr flag of `_flags` is in the key, since each compiles its own kernel and one
#: kernel's autotuned choice can be wrong for another. SIGMOID and TMA: a process switching variants
#: (select_variant / using_variant: the throughput protocol's variant arms). STORE_PADDED (the
#: layout): session 12's H200 diag (kernels/PERF.md "Session 12") timed the packed hd128 forward
#: 1.22x slower than the padded one under the 64x32 config the padded launch had chosen, and equal
#: under 64x64; with the layout out of the key a packed launch reused the padded one's choice.
TUNE_KEY = ["HEAD_DIM", "CAUSAL", "TMA", "SIGMOID", "STORE_PADDED", "DEFAULT_BIAS", "HAS_SCORE_MOD",
            "seqlen_bucket"]
#: The forward's and the dQ kernel's key also hold A_REGS (the "qreg" variant: Q / dO in registers).
A_REGS_TUNE_KEY = [*TUNE_KEY, "A_REGS"]
#: The dK/dV kernel's key also holds FUSE_DQ (the fused backward: its own lists, below) and A_REGS
#: (the "kvreg" variant: K / V in registers).
DKDV_TUNE_KEY = [*TUNE_KEY, "FUSE_DQ", "A_REGS"]

#: (BLOCK_M, BLOCK_N, num_warps, num_stages) per kernel and head-dim class. In the dK/dV kernel
#: BLOCK_N is the key tile a program owns and BLOCK_M the query tile it loops over. Registers,
#: spills and shared memory of every entry, compiled for sm_90 on a CPU: `python -m
#: sigattn.resources` (results/kernels/resources_sm90.csv). v1 (6bedcdcd485a) kept only spill-free
#: entries and its hd128 backward measured 6-18% slower than v0's spilling lists, so the v0
#: backward entries are back beside them (marked v0) and the autotuner chooses (not yet measured).
#: Tried and dropped (session 20): 16-warp 256-row tiles (fwd hd64/hd128, dQ hd128, dQ-TMA hd64), 128
#: registers and spill-free on sm_90 and correct on an H100, but never the autotuner's choice there
#: at hd128 (fwd, dQ; L = 1K/4K/16K); kernels/PERF.md "Session 20".
TUNE_TABLE = {
    "fwd": {64: [(128, 64, 8, 3), (128, 128, 8, 3), (128, 64, 4, 3), (64, 64, 4, 3), (64, 32, 4, 2),
                 (64, 128, 4, 3), (128, 128, 4, 2)],  # the last two: TritonSigmoid's shapes (PERF.md "Session 13")
            128: [(128, 64, 8, 3), (128, 64, 8, 2), (128, 128, 8, 2), (64, 64, 4, 3), (64, 32, 4, 2)],
            256: [(64, 64, 8, 2), (64, 32, 4, 2)]},
    "dq": {64: [(64, 64, 8, 2), (128, 64, 8, 3), (64, 64, 4, 2), (128, 32, 8, 2), (64, 32, 4, 2)],
           128: [(64, 64, 8, 2), (128, 64, 8, 2), (64, 64, 4, 2), (128, 32, 8, 2), (64, 32, 4, 3),
                 (64, 32, 4, 2), (32, 64, 4, 2)],  # v0
           256: [(64, 32, 8, 2), (32, 32, 4, 2)]},
    "dkdv": {64: [(64, 64, 8, 2), (32, 128, 8, 2), (64, 128, 8, 2), (32, 64, 4, 2), (64, 64, 4, 2)],
             128: [(32, 64, 8, 2), (32, 128, 8, 2), (64, 32, 8, 2), (32, 32, 4, 2), (16, 64, 4, 2),
                   (64, 64, 4, 2), (64, 128, 8, 2), (32, 64, 4, 2), (32, 128, 4, 2)],  # v0: spills, was faster
             256: [(32, 32, 4, 2), (16, 64, 4, 2)]},
    # The TMA variant (SIGATTN_TMA=1; measured since session 11, PERF.md): the streamed operand's tiles arrive by
    # tensor descriptor (no address registers, the pipeliner runs the copies ahead), so larger
    # tiles and deeper pipelines, and the 64-row 4-warp tiles of which two or three CTAs share an
    # SM (the default's measured choice; one CTA's sigmoid then overlaps another's matmuls).
    # Spill-free on sm_90 except the dkdv 64x128 entry (24 bytes, as v0's spilling entries were
    # the fastest). The last hd128 entry of each list is the one whose shared memory fits fp32
    # inputs. Registers/shared memory: PERF.md "v2 candidates".
    "fwd_tma": {64: [(128, 128, 8, 3), (128, 64, 8, 4), (128, 64, 8, 3), (64, 64, 4, 3), (128, 64, 4, 3),
                     (64, 128, 4, 3), (128, 128, 4, 2)],
                128: [(128, 128, 8, 3), (128, 64, 8, 3), (128, 64, 8, 4), (128, 128, 8, 2), (64, 64, 4, 3),
                      (64, 32, 4, 2)],
                256: [(64, 64, 8, 2), (64, 32, 4, 2)]},
    # Session 31: hd128 also takes the pointer kernels' measured tiles (dQ 64x64/4/2 and 128x32/8/2,
    # dK/dV 64x64/4/2), which its lists lacked when session 15 timed `tma` at hd128 (356 against
    # 381 TFLOPS with other tiles). Compiled for sm_90: dK/dV 64x64/4/2 spills 24 bytes with
    # descriptors against the pointer kernel's 504, 11.7 instructions a score against 13.2; dQ
    # 64x64/4/2 10.5 against 11.9 (PERF.md "Session 31"). Each row's last entry stays the fp32 one.
    "dq_tma": {64: [(128, 64, 8, 3), (64, 64, 4, 3), (128, 128, 8, 2)],
               128: [(128, 64, 8, 2), (64, 64, 4, 3), (128, 32, 8, 3), (64, 64, 4, 2), (128, 32, 8, 2),
                     (64, 32, 4, 2)],
               256: [(64, 32, 8, 2), (32, 32, 4, 2)]},
    "dkdv_tma": {64: [(64, 128, 8, 3), (64, 64, 4, 3), (32, 128, 8, 3), (32, 64, 4, 3)],
                 128: [(64, 128, 8, 2), (32, 128, 8, 3), (64, 64, 8, 3), (64, 64, 4, 2), (32, 64, 4, 2)],
                 256: [(32, 32, 4, 2), (16, 64, 4, 2)]},
    # The fused backward (SIGATTN_FUSED=1; measured in session 17, slower): the dK/dV kernel also computes dS·K
    # and adds it into an fp32 dQ (vector atomics; the TMA variant: a TMA reduction a tile), a
    # [BLOCK_M, HEAD_DIM] fp32 tile more a step. The pointer kernel's 64-row tiles spill at hd128
    # (24-648 bytes) except 32x128/8/2 (252 registers); one stage (no prefetch of Q/dO) spills
    # least there, 64x128/8/1 (24 bytes). 128-key tiles halve the atomic traffic a score
    # (4·HEAD_DIM / BLOCK_N bytes). PERF.md "Session 16".
    "dkdv_fused": {64: [(64, 64, 4, 2), (64, 64, 4, 1), (32, 64, 4, 2), (64, 128, 8, 2), (32, 128, 8, 2)],
                   128: [(64, 128, 8, 1), (64, 128, 8, 2), (32, 128, 8, 2), (64, 64, 4, 2), (32, 64, 4, 2),
                         (32, 32, 4, 2)],
                   256: [(32, 32, 4, 2), (16, 64, 4, 2)]},
    "dkdv_fused_tma": {64: [(64, 64, 4, 3), (64, 64, 4, 2), (64, 128, 8, 3), (64, 128, 8, 2), (32, 128, 8, 3),
                            (32, 64, 4, 3)],
                       128: [(64, 128, 8, 2), (64, 128, 8, 1), (64, 64, 4, 2), (32, 128, 8, 3), (32, 64, 4, 2)],
                       256: [(32, 32, 4, 2), (16, 64, 4, 2)]},
    # The warp-specialised Gluon forward (SIGATTN_WS=1, sm_90, gluon_kernels; session 21): num_warps is
    # its compute partition's (a loader warp joins it), num_stages its K/V ring's slots. 128 x 128
    # tiles serialise the wgmmas at hd64 and hd128 (ptxas C7512: two S tiles in flight, P and O
    # do not fit the compute warps' 240 registers); tests/kernels/test_sigattn_ws.py.
    # Session 22: 64 x 64 tiles with 4 compute warps, two CTAs an SM (gluon_kernels.MAX_REGISTERS), so
    # that one CTA's start and end overlap the other's main loop; 128 x 64 with 4 compute warps and
    # 64 x 128 serialise (C7512), hd128 64 x 64 with 3 slots leaves room for one CTA only.
    # Session 24: hd64 64 x 64 with 3 slots dropped: it passed the truth test (112 programs, one an
    # SM) but never returned at the benchmark's grids (256-4096 programs: several an SM), where the
    # other entries ran (workflow/scripts/probe_configs.py; kernels/PERF.md "Session 24").
    # Session 25: 4 and 5 slots whose K and V shared a slot's barriers timed within 2 % of 3 slots
    # and were removed again (kernels/PERF.md "Session 25").
    "fwd_ws": {64: [(128, 64, 8, 3), (128, 64, 8, 2), (64, 64, 4, 2)],
               128: [(128, 64, 8, 3), (128, 64, 8, 2), (64, 64, 4, 2)]},
    # its persistent form (SIGATTN_WS=persistent, session 22): the same tiles (its host-made
    # descriptors' block shapes are the lists' one BLOCK_M x BLOCK_N)
    "fwd_wsp": {64: [(128, 64, 8, 3), (128, 64, 8, 2)],
                128: [(128, 64, 8, 3), (128, 64, 8, 2)]},
    # The warp-specialised Gluon backward (SIGATTN_WSB=1, sm_90, gluon_backward; session 33): five
    # matmuls a tile pair in one kernel, dQ added by fp32 reductions (`red`). BLOCK_N keys a program, a
    # warpgroup of compute warps a 64 of them (two: dQ's reductions 4·HEAD_DIM / BLOCK_N bytes a
    # score, half of 64-key blocks'), 64 query rows a tile (the wgmma's M of dQ), num_stages Q/dO slots.
    "bwd_wsb": {64: [(64, 128, 8, 2), (64, 128, 8, 3)],
                128: [(64, 128, 8, 2), (64, 128, 8, 3)]},
    # the same, dQ added by TMA reductions from two fp32 [64, HEAD_DIM] staging tiles (SIGATTN_WSB=tma,
    # session 34): 64 KB more shared memory, so three slots no longer fit at hd128
    "bwd_wsbt": {64: [(64, 128, 8, 2), (64, 128, 8, 3)],
                 128: [(64, 128, 8, 2)]},
    # its persistent form (SIGATTN_WSB=persistent, session 35): the same tiles (its host-made
    # descriptors' block shapes are the lists' one BLOCK_M x BLOCK_N)
    "bwd_wsbp": {64: [(64, 128, 8, 2), (64, 128, 8, 3)],
                 128: [(64, 128, 8, 2)]},
}


def kernel_name(kernel: str, tma: bool, fused: bool = False) -> str:
    """The name of a kernel variant (TUNE_TABLE, sigattn.tuned, LAST_CONFIG): "dkdv", "dkdv_tma",
    "dkdv_fused", "dkdv_fused_tma", ..."""
    return kernel + ("_fused" if fused else "") + ("_tma" if tma else "")


def head_dim_class(head_dim: int) -> int:
    """The TUNE_TABLE row for a head dim: 16-64 -> 64, 128 -> 128, 256 -> 256."""
    return 64 if head_dim <= 64 else head_dim


def _configs(entries):
    return [triton.Config({"BLOCK_M": m, "BLOCK_N": n}, num_warps=w, num_stages=s) for m, n, w, s in entries]


#: How a launch picks its config (SIGATTN_AUTOTUNE, read at import): "table" (default) the
#: measured config of sigattn.tuned for this GPU and key, autotuning only keys the table lacks;
#: "full" (or "1") always autotune over TUNE_TABLE; "0" one small config for every launch.
TUNING_MODES = {"table": "table", "full": "full", "1": "full", "0": "fixed", "off": "fixed"}
_MODE_ENV = os.environ.get("SIGATTN_AUTOTUNE", "table")
if _MODE_ENV not in TUNING_MODES:
    raise ValueError(f"SIGATTN_AUTOTUNE={_MODE_ENV!r}: expected one of {', '.join(TUNING_MODES)}.")
TUNING = TUNING_MODES[_MODE_ENV]
FIXED_CONFIGS = {"fwd": (64, 32, 4, 2), "dq": (32, 64, 4, 2), "dkdv": (32, 64, 4, 2), "dkdv_fused": (32, 64, 4, 2)}
FIXED_CONFIGS.update({f"{k}_tma": c for k, c in FIXED_CONFIGS.items()}, fwd_ws=(128, 64, 8, 2),
                     fwd_wsp=(128, 64, 8, 2), bwd_wsb=(64, 128, 8, 2),
                     bwd_wsbt=(64, 128, 8, 2), bwd_wsbp=(64, 128, 8, 2))  # the Gluon kernels' smallest

INTERPRETER_CONFIG = (32, 16, 1, 1)  # BLOCK_M != BLOCK_N on purpose: tests catch rows/columns mix-ups
#: kernel name ("fwd", "dq_tma", ...) -> config that overrides every other choice (source "forced"):
#: the GPU variant check (workflow/scripts/bench_variants.py) runs each autotune entry this way.
FORCED_CONFIGS: dict[str, tuple[int, int, int, int]] = {}


def fixed_config(kernel: str, head_dim: int) -> tuple[int, int, int, int]:
    """SIGATTN_AUTOTUNE=0's config: FIXED_CONFIGS up to head dim 128; at 256 the last entry of the
    kernel's TUNE_TABLE row, the smallest tiles, which fit sm_90's shared memory with fp32 inputs
    (the TMA kernels' 32x64 tiles of fp32 need 262-328 KB there: an H100 run of the kernel tests,
    session 18; tests/kernels/test_sigattn_resources.py checks)."""
    hd = head_dim_class(head_dim)
    return TUNE_TABLE[kernel][hd][-1] if hd == 256 else FIXED_CONFIGS[kernel]


def _tuning(kernel: str):
    """(configs, prune) of the kernel's autotuner: the union of its lists, its TMA variant's (and
    for the dK/dV kernel its fused variants'), pruned per launch to the head-dim row of the
    variant launched. Used for keys the tuned table lacks, and for every launch with
    SIGATTN_AUTOTUNE=full; the interpreter and SIGATTN_AUTOTUNE=0 launch one config directly."""
    if INTERPRETER:
        return _configs([INTERPRETER_CONFIG]), None
    variants = {(tma, fused): TUNE_TABLE[kernel_name(kernel, tma, fused)]
                for tma in (False, True) for fused in ((False, True) if kernel == "dkdv" else (False,))}
    union = list(dict.fromkeys(e for rows in variants.values() for row in rows.values() for e in row))

    def prune(configs, named_args, **kwargs):
        args = {**named_args, **kwargs}
        variant = (bool(args["TMA"]), bool(args.get("FUSE_DQ", False)))
        wanted = set(variants[variant][head_dim_class(args["HEAD_DIM"])])
        key = lambda c: (c.kwargs["BLOCK_M"], c.kwargs["BLOCK_N"], c.num_warps, c.num_stages)  # noqa: E731
        return [c for c in configs if key(c) in wanted]

    return _configs(union), {"early_config_prune": prune}


(FWD_CONFIGS, _FWD_PRUNE), (BWD_DQ_CONFIGS, _DQ_PRUNE), (BWD_DKDV_CONFIGS, _DKDV_PRUNE) = (
    _tuning("fwd"), _tuning("dq"), _tuning("dkdv"))


@functools.cache
def _device_name(index: int) -> str:
    return torch.cuda.get_device_name(index)


def launch_config(kernel: str, q: torch.Tensor, causal: bool, rows: int):
    """((BLOCK_M, BLOCK_N, num_warps, num_stages), source) for one launch, or None: autotune.
    source: "interpreter", "forced" (FORCED_CONFIGS), "fixed" (SIGATTN_AUTOTUNE=0), or
    sigattn.tuned's "table" / "table~<bucket>" (nearest measured bucket)."""
    if kernel in FORCED_CONFIGS:
        return FORCED_CONFIGS[kernel], "forced"
    if INTERPRETER:
        return INTERPRETER_CONFIG, "interpreter"
    if TUNING == "fixed":
        return fixed_config(kernel, q.shape[-1]), "fixed"
    if TUNING == "full" or not q.is_cuda:
        return None
    return tuned.lookup(_device_name(q.device.index if q.device.index is not None else torch.cuda.current_device()),
                        kernel, q.shape[-1], causal, str(q.dtype), rows)


# ----------------------------------------------------------------------------------------------
# Forward
# Key tiles split in two loops: full tiles (inside the sequence and, when causal, wholly below the
# diagonal) load without masks and skip the where(); the rest (last partial tile, diagonal tiles)
# take the masked path. Padding query rows are zeroed once at the end.
# ----------------------------------------------------------------------------------------------


@triton.jit
def _key_tiles(m0, q_len, k_len, CAUSAL: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """Key range of the query rows [m0, m0 + BLOCK_M): tiles [0, n_full) are full (inside the keys
    and, when causal, left of every row's diagonal: no masks); [n_full, hi) need masks. hi = 0 for
    an all-padding row block; when causal, no tile past the block's last row."""
    hi = k_len
    if CAUSAL:
        hi = tl.minimum(hi, m0 + BLOCK_M)
    hi = tl.where(m0 < q_len, hi, 0)
    n_full = (k_len // BLOCK_N) * BLOCK_N
    if CAUSAL:
        n_full = tl.minimum(n_full, (m0 // BLOCK_N) * BLOCK_N)
    return tl.minimum(n_full, hi), hi


@triton.jit
def _tile_probabilities(q, k_t, mod_ptr, cols, col_ok, offs_m, y_scale, y_bias, stride_mt,
                        MASKED: tl.constexpr, CAUSAL: tl.constexpr, HAS_SCORE_MOD: tl.constexpr,
                        UPCAST_DOT: tl.constexpr, SIGMOID: tl.constexpr, DOT_PRECISION: tl.constexpr):
    """P = sigmoid(q·k_t·scale + bias + mod) of one [rows, keys] tile, from the sigmoid's argument
    y = s·y_scale + y_bias + mod·factor (`_sigmoid_args`: one FFMA a score); a MASKED tile zeroes
    keys past the sequence and, when causal, above the diagonal."""
    s = _dot(q, k_t, tl.zeros([q.shape[0], k_t.shape[1]], dtype=tl.float32), UPCAST_DOT, DOT_PRECISION)
    if HAS_SCORE_MOD:
        if MASKED:
            mod = tl.load(mod_ptr + cols * stride_mt, mask=col_ok, other=0.0)
        else:
            mod = tl.load(mod_ptr + cols * stride_mt)
        y = s * y_scale + (y_bias + mod.to(tl.float32) * _arg_factor(SIGMOID))[None, :]
    else:
        y = s * y_scale + y_bias
    p = _sigmoid(y, SIGMOID)
    if MASKED:
        keep = col_ok[None, :]
        if CAUSAL:
            keep = keep & (cols[None, :] <= offs_m[:, None])
        p = tl.where(keep, p, 0.0)
    return p


@triton.jit
def _fwd_tile(acc, q, k_src, v_src, mod_ptr, n0, offs_m, offs_n, offs_d, k_len, y_scale, y_bias,
              stride_kt, stride_kd, stride_vt, stride_vd, stride_mt,
              MASKED: tl.constexpr, CAUSAL: tl.constexpr, HAS_SCORE_MOD: tl.constexpr,
              UPCAST_DOT: tl.constexpr, SIGMOID: tl.constexpr, DOT_PRECISION: tl.constexpr, TMA: tl.constexpr):
    """acc + sigmoid(q·kᵀ·scale + bias + mod)·v over the key tile starting at n0 (k_src, v_src:
    see _rows_source; y_scale, y_bias: see _tile_probabilities)."""
    cols = n0 + offs_n
    col_ok = cols < k_len
    if TMA:
        k_t = tl.trans(k_src.load([n0, 0]))  # [HEAD_DIM, BLOCK_N]; keys >= k_len are zeros
    else:
        k_ptrs = k_src + cols[None, :] * stride_kt + offs_d[:, None] * stride_kd  # [HEAD_DIM, BLOCK_N]
        v_ptrs = v_src + cols[:, None] * stride_vt + offs_d[None, :] * stride_vd  # [BLOCK_N, HEAD_DIM]
        if MASKED:
            k_t = tl.load(k_ptrs, mask=col_ok[None, :], other=0.0)
        else:
            k_t = tl.load(k_ptrs)
    p = _tile_probabilities(q, k_t, mod_ptr, cols, col_ok, offs_m, y_scale, y_bias, stride_mt, MASKED, CAUSAL,
                            HAS_SCORE_MOD, UPCAST_DOT, SIGMOID, DOT_PRECISION)
    if TMA:
        v = v_src.load([n0, 0])
    else:
        if MASKED:
            v = tl.load(v_ptrs, mask=col_ok[:, None], other=0.0)
        else:
            v = tl.load(v_ptrs)
    return _dot(p.to(v.dtype), v, acc, UPCAST_DOT, DOT_PRECISION)


@triton.autotune(configs=FWD_CONFIGS, key=A_REGS_TUNE_KEY, prune_configs_by=_FWD_PRUNE)
@triton.jit
def _fwd_kernel(Q, K, V, Out, MOD, SEQ, n_seqs, heads_q, group, rows_q, scale, bias_value, seqlen_bucket,
                stride_qb, stride_qt, stride_qh, stride_qd,
                stride_kb, stride_kt, stride_kh, stride_kd,
                stride_vb, stride_vt, stride_vh, stride_vd,
                stride_ob, stride_ot, stride_oh, stride_od,
                stride_mb, stride_mt,
                HEAD_DIM: tl.constexpr, CAUSAL: tl.constexpr, DEFAULT_BIAS: tl.constexpr,
                HAS_SCORE_MOD: tl.constexpr, STORE_PADDED: tl.constexpr, UPCAST_DOT: tl.constexpr,
                SIGMOID: tl.constexpr, DOT_PRECISION: tl.constexpr, TMA: tl.constexpr, A_REGS: tl.constexpr,
                BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    row_block, seq, head = _tile_of_program(rows_q, heads_q, BLOCK_M)
    q_start, q_len, k_start, k_len = _sequence(SEQ, n_seqs, seq)
    rows_limit = q_len
    if STORE_PADDED:
        rows_limit = rows_q
    seq64, head64, kv_head64 = seq.to(tl.int64), head.to(tl.int64), (head // group).to(tl.int64)

    m0 = row_block * BLOCK_M
    offs_m = m0 + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, HEAD_DIM)
    row_ok = offs_m < q_len

    q_ptr = Q + seq64 * stride_qb + q_start * stride_qt + head64 * stride_qh
    k_ptr = K + seq64 * stride_kb + k_start * stride_kt + kv_head64 * stride_kh
    v_ptr = V + seq64 * stride_vb + k_start * stride_vt + kv_head64 * stride_vh
    mod_ptr = MOD + seq64 * stride_mb + k_start * stride_mt
    q = _in_registers(tl.load(q_ptr + offs_m[:, None] * stride_qt + offs_d[None, :] * stride_qd,
                              mask=row_ok[:, None], other=0.0), A_REGS)
    y_scale, y_bias = _sigmoid_args(scale, _bias(k_len, bias_value, DEFAULT_BIAS), SIGMOID)
    k_src = _rows_source(k_ptr, k_len, stride_kt, BLOCK_N, HEAD_DIM, TMA)
    v_src = _rows_source(v_ptr, k_len, stride_vt, BLOCK_N, HEAD_DIM, TMA)

    n_full, hi = _key_tiles(m0, q_len, k_len, CAUSAL, BLOCK_M, BLOCK_N)

    acc = tl.zeros([BLOCK_M, HEAD_DIM], dtype=tl.float32)
    for n0 in range(0, n_full, BLOCK_N):
        acc = _fwd_tile(acc, q, k_src, v_src, mod_ptr, n0, offs_m, offs_n, offs_d, k_len, y_scale, y_bias,
                        stride_kt, stride_kd, stride_vt, stride_vd, stride_mt, False, CAUSAL,
                        HAS_SCORE_MOD, UPCAST_DOT, SIGMOID, DOT_PRECISION, TMA)
    for n0 in range(n_full, hi, BLOCK_N):
        acc = _fwd_tile(acc, q, k_src, v_src, mod_ptr, n0, offs_m, offs_n, offs_d, k_len, y_scale, y_bias,
                        stride_kt, stride_kd, stride_vt, stride_vd, stride_mt, True, CAUSAL,
                        HAS_SCORE_MOD, UPCAST_DOT, SIGMOID, DOT_PRECISION, TMA)
    acc = tl.where(row_ok[:, None], acc, 0.0)  # padding rows (q = 0 there, but bias ≠ 0)

    o_ptr = Out + seq64 * stride_ob + q_start * stride_ot + head64 * stride_oh
    tl.store(o_ptr + offs_m[:, None] * stride_ot + offs_d[None, :] * stride_od,
             acc.to(Out.dtype.element_ty), mask=(offs_m < rows_limit)[:, None])


# ----------------------------------------------------------------------------------------------
# Backward: dQ (loops over key tiles) and dK/dV (loops over query heads of its group, query tiles)
#   P = sigmoid(S) recomputed;  dP = dO·Vᵀ;  dS = P·(1-P)·dP;  dQ = dS·K·scale;  dK = dSᵀ·Q·scale;
#   dV = Pᵀ·dO. No atomics: every output tile is owned by one program. Same full/masked tile split
#   as the forward. Padding rows/keys load as zeros, so dP (and dS) vanish there; only dV of
#   padding keys needs an explicit zero at the end.
# ----------------------------------------------------------------------------------------------


@triton.jit
def _dq_tile(dq, q, do, k_src, v_src, mod_ptr, n0, offs_m, offs_n, offs_d, k_len, y_scale, y_bias,
             stride_kt, stride_kd, stride_vt, stride_vd, stride_mt,
             MASKED: tl.constexpr, CAUSAL: tl.constexpr, HAS_SCORE_MOD: tl.constexpr,
             UPCAST_DOT: tl.constexpr, SIGMOID: tl.constexpr, DOT_PRECISION: tl.constexpr, TMA: tl.constexpr):
    """dq + dS·k over the key tile starting at n0 (unscaled; k_src, v_src: see _rows_source;
    y_scale, y_bias: see _tile_probabilities)."""
    cols = n0 + offs_n
    col_ok = cols < k_len
    if TMA:
        k = k_src.load([n0, 0])  # keys >= k_len are zeros
        v_t = tl.trans(v_src.load([n0, 0]))
    else:
        k_ptrs = k_src + cols[:, None] * stride_kt + offs_d[None, :] * stride_kd  # [BLOCK_N, HEAD_DIM]
        v_ptrs = v_src + cols[None, :] * stride_vt + offs_d[:, None] * stride_vd  # [HEAD_DIM, BLOCK_N]
        if MASKED:
            k = tl.load(k_ptrs, mask=col_ok[:, None], other=0.0)
            v_t = tl.load(v_ptrs, mask=col_ok[None, :], other=0.0)
        else:
            k = tl.load(k_ptrs)
            v_t = tl.load(v_ptrs)
    p = _tile_probabilities(q, tl.trans(k), mod_ptr, cols, col_ok, offs_m, y_scale, y_bias, stride_mt, MASKED,
                            CAUSAL, HAS_SCORE_MOD, UPCAST_DOT, SIGMOID, DOT_PRECISION)
    dp = _dot(do, v_t, tl.zeros([q.shape[0], offs_n.shape[0]], dtype=tl.float32), UPCAST_DOT, DOT_PRECISION)
    ds = (p - p * p) * dp  # p - p·p: one FFMA, rounded once (p·(1 - p) takes an FADD and an FMUL)
    return _dot(ds.to(k.dtype), k, dq, UPCAST_DOT, DOT_PRECISION)


@triton.autotune(configs=BWD_DQ_CONFIGS, key=A_REGS_TUNE_KEY, prune_configs_by=_DQ_PRUNE)
@triton.jit
def _bwd_dq_kernel(Q, K, V, DO, DQ, MOD, SEQ, n_seqs, heads_q, group, rows_q, scale, bias_value,
                   seqlen_bucket,
                   stride_qb, stride_qt, stride_qh, stride_qd,
                   stride_kb, stride_kt, stride_kh, stride_kd,
                   stride_vb, stride_vt, stride_vh, stride_vd,
                   stride_dob, stride_dot, stride_doh, stride_dod,
                   stride_dqb, stride_dqt, stride_dqh, stride_dqd,
                   stride_mb, stride_mt,
                   HEAD_DIM: tl.constexpr, CAUSAL: tl.constexpr, DEFAULT_BIAS: tl.constexpr,
                   HAS_SCORE_MOD: tl.constexpr, STORE_PADDED: tl.constexpr, UPCAST_DOT: tl.constexpr,
                   SIGMOID: tl.constexpr, DOT_PRECISION: tl.constexpr, TMA: tl.constexpr, A_REGS: tl.constexpr,
                   BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    row_block, seq, head = _tile_of_program(rows_q, heads_q, BLOCK_M)
    q_start, q_len, k_start, k_len = _sequence(SEQ, n_seqs, seq)
    rows_limit = q_len
    if STORE_PADDED:
        rows_limit = rows_q
    seq64, head64, kv_head64 = seq.to(tl.int64), head.to(tl.int64), (head // group).to(tl.int64)

    m0 = row_block * BLOCK_M
    offs_m = m0 + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, HEAD_DIM)
    row_ok = offs_m < q_len

    q_ptr = Q + seq64 * stride_qb + q_start * stride_qt + head64 * stride_qh
    do_ptr = DO + seq64 * stride_dob + q_start * stride_dot + head64 * stride_doh
    k_ptr = K + seq64 * stride_kb + k_start * stride_kt + kv_head64 * stride_kh
    v_ptr = V + seq64 * stride_vb + k_start * stride_vt + kv_head64 * stride_vh
    mod_ptr = MOD + seq64 * stride_mb + k_start * stride_mt
    q = _in_registers(tl.load(q_ptr + offs_m[:, None] * stride_qt + offs_d[None, :] * stride_qd,
                              mask=row_ok[:, None], other=0.0), A_REGS)
    do = _in_registers(tl.load(do_ptr + offs_m[:, None] * stride_dot + offs_d[None, :] * stride_dod,
                               mask=row_ok[:, None], other=0.0), A_REGS)  # zero rows -> dP = dS = 0 on padding rows
    y_scale, y_bias = _sigmoid_args(scale, _bias(k_len, bias_value, DEFAULT_BIAS), SIGMOID)
    k_src = _rows_source(k_ptr, k_len, stride_kt, BLOCK_N, HEAD_DIM, TMA)
    v_src = _rows_source(v_ptr, k_len, stride_vt, BLOCK_N, HEAD_DIM, TMA)

    n_full, hi = _key_tiles(m0, q_len, k_len, CAUSAL, BLOCK_M, BLOCK_N)

    dq = tl.zeros([BLOCK_M, HEAD_DIM], dtype=tl.float32)
    for n0 in range(0, n_full, BLOCK_N):
        dq = _dq_tile(dq, q, do, k_src, v_src, mod_ptr, n0, offs_m, offs_n, offs_d, k_len, y_scale, y_bias,
                      stride_kt, stride_kd, stride_vt, stride_vd, stride_mt, False, CAUSAL,
                      HAS_SCORE_MOD, UPCAST_DOT, SIGMOID, DOT_PRECISION, TMA)
    for n0 in range(n_full, hi, BLOCK_N):
        dq = _dq_tile(dq, q, do, k_src, v_src, mod_ptr, n0, offs_m, offs_n, offs_d, k_len, y_scale, y_bias,
                      stride_kt, stride_kd, stride_vt, stride_vd, stride_mt, True, CAUSAL,
                      HAS_SCORE_MOD, UPCAST_DOT, SIGMOID, DOT_PRECISION, TMA)

    dq_ptr = DQ + seq64 * stride_dqb + q_start * stride_dqt + head64 * stride_dqh
    tl.store(dq_ptr + offs_m[:, None] * stride_dqt + offs_d[None, :] * stride_dqd,
             (dq * scale).to(DQ.dtype.element_ty), mask=(offs_m < rows_limit)[:, None])


@triton.jit
def _dkdv_tile(dk, dv, k, v, q_src, do_src, dqa_dst, m0, cols, offs_m, offs_d, q_len, y_scale, y_bias,
               stride_qt, stride_qd, stride_dot, stride_dod, stride_aqt, stride_aqd,
               MASKED: tl.constexpr, CAUSAL: tl.constexpr, UPCAST_DOT: tl.constexpr, SIGMOID: tl.constexpr,
               DOT_PRECISION: tl.constexpr, TMA: tl.constexpr, FUSE_DQ: tl.constexpr, DQ_TMA: tl.constexpr):
    """(dk + dSᵀ·q, dv + Pᵀ·do) over the query tile starting at m0 (dk unscaled; q_src, do_src: see
    _rows_source). The sigmoid's argument is y = Sᵀ·y_scale + y_bias, y_bias [BLOCK_N] the bias and
    score_mod of these keys with the argument factor folded in (`_sigmoid_args`). FUSE_DQ: also
    dS·k (unscaled) added into the fp32 dQ rows of dqa_dst, atomically (programs of other key
    tiles add into the same rows): with DQ_TMA one TMA reduction of the tile (dqa_dst a descriptor
    over the sequence's rows, which clips the rest), else vector atomics a thread (a pointer)."""
    rows = m0 + offs_m
    row_ok = rows < q_len
    if TMA:
        q = q_src.load([m0, 0])  # rows >= q_len are zeros
        do = do_src.load([m0, 0])
    else:
        q_ptrs = q_src + rows[:, None] * stride_qt + offs_d[None, :] * stride_qd
        do_ptrs = do_src + rows[:, None] * stride_dot + offs_d[None, :] * stride_dod
        if MASKED:
            q = tl.load(q_ptrs, mask=row_ok[:, None], other=0.0)  # [BLOCK_M, HEAD_DIM]
            do = tl.load(do_ptrs, mask=row_ok[:, None], other=0.0)
        else:
            q = tl.load(q_ptrs)
            do = tl.load(do_ptrs)
    s_t = _dot(k, tl.trans(q), tl.zeros([k.shape[0], offs_m.shape[0]], dtype=tl.float32), UPCAST_DOT,
               DOT_PRECISION)
    p_t = _sigmoid(s_t * y_scale + y_bias[:, None], SIGMOID)
    if MASKED:
        keep = row_ok[None, :]
        if CAUSAL:
            keep = keep & (cols[:, None] <= rows[None, :])
        p_t = tl.where(keep, p_t, 0.0)
    dv = _dot(p_t.to(do.dtype), do, dv, UPCAST_DOT, DOT_PRECISION)
    dp_t = _dot(v, tl.trans(do), tl.zeros([k.shape[0], offs_m.shape[0]], dtype=tl.float32), UPCAST_DOT,
                DOT_PRECISION)
    ds_t = ((p_t - p_t * p_t) * dp_t).to(q.dtype)
    dk = _dot(ds_t, q, dk, UPCAST_DOT, DOT_PRECISION)
    if FUSE_DQ:
        dq = _dot(tl.trans(ds_t), k, tl.zeros([offs_m.shape[0], offs_d.shape[0]], dtype=tl.float32), UPCAST_DOT,
                  DOT_PRECISION)
        if DQ_TMA:
            dqa_dst.atomic_add([m0, 0], dq)
        else:
            dq_ptrs = dqa_dst + rows[:, None] * stride_aqt + offs_d[None, :] * stride_aqd
            if MASKED:
                tl.atomic_add(dq_ptrs, dq, mask=row_ok[:, None], sem="relaxed")
            else:
                tl.atomic_add(dq_ptrs, dq, sem="relaxed")
    return dk, dv


def _zero_dq_accumulator(kwargs, reset_only=False):
    """The dK/dV autotuner's hook before each config it times and before the launch after: the
    fused kernel adds into DQA, so it starts from zeros each time (the split kernel's DQA is a
    stand-in it never touches)."""
    if kwargs.get("FUSE_DQ"):
        kwargs["DQA"].zero_()


@triton.autotune(configs=BWD_DKDV_CONFIGS, key=DKDV_TUNE_KEY, prune_configs_by=_DKDV_PRUNE,
                 pre_hook=_zero_dq_accumulator)
@triton.jit
def _bwd_dkdv_kernel(Q, K, V, DO, DK, DV, DQA, MOD, SEQ, n_seqs, heads_kv, group, rows_k, scale, bias_value,
                     seqlen_bucket,
                     stride_qb, stride_qt, stride_qh, stride_qd,
                     stride_kb, stride_kt, stride_kh, stride_kd,
                     stride_vb, stride_vt, stride_vh, stride_vd,
                     stride_dob, stride_dot, stride_doh, stride_dod,
                     stride_dkb, stride_dkt, stride_dkh, stride_dkd,
                     stride_dvb, stride_dvt, stride_dvh, stride_dvd,
                     stride_aqb, stride_aqt, stride_aqh, stride_aqd,
                     stride_mb, stride_mt,
                     HEAD_DIM: tl.constexpr, CAUSAL: tl.constexpr, DEFAULT_BIAS: tl.constexpr,
                     HAS_SCORE_MOD: tl.constexpr, STORE_PADDED: tl.constexpr, UPCAST_DOT: tl.constexpr,
                     SIGMOID: tl.constexpr, DOT_PRECISION: tl.constexpr, TMA: tl.constexpr,
                     FUSE_DQ: tl.constexpr, A_REGS: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    # This program owns BLOCK_N keys of one key/value head; the transposed scores Sᵀ = K·Qᵀ
    # [BLOCK_N, BLOCK_M] keep dK and dV in the natural orientation. FUSE_DQ (the "fused" backward):
    # dQ's share of these keys, dS·K, is added into DQA (fp32, q's layout) by atomics, and no dQ
    # kernel runs: five matmuls a tile pair instead of seven, one sigmoid instead of two. The TMA
    # variant adds each tile by a TMA reduction (the interpreter, which has none: vector atomics).
    DQ_TMA: tl.constexpr = FUSE_DQ and TMA and _ASM
    col_block, seq, kv_head = _tile_of_program(rows_k, heads_kv, BLOCK_N)
    q_start, q_len, k_start, k_len = _sequence(SEQ, n_seqs, seq)
    rows_limit = k_len
    if STORE_PADDED:
        rows_limit = rows_k
    seq64, kv_head64 = seq.to(tl.int64), kv_head.to(tl.int64)

    n0 = col_block * BLOCK_N
    cols = n0 + tl.arange(0, BLOCK_N)
    offs_m = tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, HEAD_DIM)
    col_ok = cols < k_len

    k_ptr = K + seq64 * stride_kb + k_start * stride_kt + kv_head64 * stride_kh
    v_ptr = V + seq64 * stride_vb + k_start * stride_vt + kv_head64 * stride_vh
    k = _in_registers(tl.load(k_ptr + cols[:, None] * stride_kt + offs_d[None, :] * stride_kd,
                              mask=col_ok[:, None], other=0.0), A_REGS)
    v = _in_registers(tl.load(v_ptr + cols[:, None] * stride_vt + offs_d[None, :] * stride_vd,
                              mask=col_ok[:, None], other=0.0), A_REGS)  # zero rows -> dP = dS = 0 on padding keys
    y_scale, y_bias = _sigmoid_args(scale, _bias(k_len, bias_value, DEFAULT_BIAS), SIGMOID)
    key_bias = tl.zeros([BLOCK_N], dtype=tl.float32) + y_bias  # per key: bias + score_mod, as y
    if HAS_SCORE_MOD:
        mod = tl.load(MOD + seq64 * stride_mb + (k_start + cols) * stride_mt, mask=col_ok, other=0.0)
        key_bias += mod.to(tl.float32) * _arg_factor(SIGMOID)

    # Query tiles that can see these keys: none if the tile is all padding; causal starts at the
    # query tile that holds row n0 (rows below it cannot see key n0 or later).
    lo = 0
    if CAUSAL:
        lo = (n0 // BLOCK_M) * BLOCK_M
    hi = tl.where(n0 < k_len, q_len, 0)
    # [lo, a): masked (diagonal tiles when causal); [a, b): full tiles (every row valid and, when
    # causal, at or below the last key of this block); [b, hi): masked tail (partial last tile).
    a = lo
    if CAUSAL:
        a = tl.cdiv(n0 + BLOCK_N - 1, BLOCK_M) * BLOCK_M
    a = tl.minimum(a, hi)
    b = tl.maximum(a, tl.minimum((q_len // BLOCK_M) * BLOCK_M, hi))

    dk = tl.zeros([BLOCK_N, HEAD_DIM], dtype=tl.float32)
    dv = tl.zeros([BLOCK_N, HEAD_DIM], dtype=tl.float32)
    for g in range(0, group):
        head64 = kv_head64 * group + g
        q_src = _rows_source(Q + seq64 * stride_qb + q_start * stride_qt + head64 * stride_qh, q_len, stride_qt,
                             BLOCK_M, HEAD_DIM, TMA)
        do_src = _rows_source(DO + seq64 * stride_dob + q_start * stride_dot + head64 * stride_doh, q_len,
                              stride_dot, BLOCK_M, HEAD_DIM, TMA)
        dqa_dst = _rows_source(DQA + seq64 * stride_aqb + q_start * stride_aqt + head64 * stride_aqh, q_len,
                               stride_aqt, BLOCK_M, HEAD_DIM, DQ_TMA)
        for m0 in range(lo, a, BLOCK_M):
            dk, dv = _dkdv_tile(dk, dv, k, v, q_src, do_src, dqa_dst, m0, cols, offs_m, offs_d, q_len,
                                y_scale, key_bias, stride_qt, stride_qd, stride_dot, stride_dod, stride_aqt,
                                stride_aqd, True, CAUSAL, UPCAST_DOT, SIGMOID, DOT_PRECISION, TMA, FUSE_DQ, DQ_TMA)
        if FUSE_DQ:
            # The full tiles from a different one in each program (rotated by the key tile), so
            # that the programs of one head, which run side by side, add into different dQ rows
            # rather than queueing on the same addresses.
            n_mid = (b - a) // BLOCK_M
            shift = col_block % tl.maximum(n_mid, 1)
            for i in range(0, n_mid):
                j = i + shift
                m0 = a + tl.where(j >= n_mid, j - n_mid, j) * BLOCK_M
                dk, dv = _dkdv_tile(dk, dv, k, v, q_src, do_src, dqa_dst, m0, cols, offs_m, offs_d, q_len,
                                    y_scale, key_bias, stride_qt, stride_qd, stride_dot, stride_dod, stride_aqt,
                                    stride_aqd, False, CAUSAL, UPCAST_DOT, SIGMOID, DOT_PRECISION, TMA, FUSE_DQ, DQ_TMA)
        else:
            for m0 in range(a, b, BLOCK_M):
                dk, dv = _dkdv_tile(dk, dv, k, v, q_src, do_src, dqa_dst, m0, cols, offs_m, offs_d, q_len,
                                    y_scale, key_bias, stride_qt, stride_qd, stride_dot, stride_dod, stride_aqt,
                                    stride_aqd, False, CAUSAL, UPCAST_DOT, SIGMOID, DOT_PRECISION, TMA, FUSE_DQ, DQ_TMA)
        for m0 in range(b, hi, BLOCK_M):
            dk, dv = _dkdv_tile(dk, dv, k, v, q_src, do_src, dqa_dst, m0, cols, offs_m, offs_d, q_len,
                                y_scale, key_bias, stride_qt, stride_qd, stride_dot, stride_dod, stride_aqt,
                                stride_aqd, True, CAUSAL, UPCAST_DOT, SIGMOID, DOT_PRECISION, TMA, FUSE_DQ, DQ_TMA)
    dv = tl.where(col_ok[:, None], dv, 0.0)  # padding keys (k = 0 there, but P = sigmoid(bias) ≠ 0)

    store_ok = (cols < rows_limit)[:, None]
    dk_ptr = DK + seq64 * stride_dkb + k_start * stride_dkt + kv_head64 * stride_dkh
    dv_ptr = DV + seq64 * stride_dvb + k_start * stride_dvt + kv_head64 * stride_dvh
    tl.store(dk_ptr + cols[:, None] * stride_dkt + offs_d[None, :] * stride_dkd,
             (dk * scale).to(DK.dtype.element_ty), mask=store_ok)
    tl.store(dv_ptr + cols[:, None] * stride_dvt + offs_d[None, :] * stride_dvd,
             dv.to(DV.dtype.element_ty), mask=store_ok)


# ----------------------------------------------------------------------------------------------
# Launchers (called by the custom ops in sigattn.ops)
# ----------------------------------------------------------------------------------------------

#: The kernel objects of the latest launches (registers/spills for the compile report).
LAST_LAUNCH: dict[str, object] = {}
#: The config of each kernel's latest launch: {"kernel": "fwd" | "fwd_tma" | ... (the variant that
#: ran), "bucket", "config": (BLOCK_M, BLOCK_N, num_warps, num_stages), "source": "autotune" |
#: "table" | "table~<bucket>" | "fixed" | "interpreter"}.
LAST_CONFIG: dict[str, dict] = {}


def _block_kwargs(config: tuple[int, int, int, int]) -> dict:
    """The launch keywords of a (BLOCK_M, BLOCK_N, num_warps, num_stages) config."""
    block_m, block_n, warps, stages = config
    return dict(BLOCK_M=block_m, BLOCK_N=block_n, num_warps=warps, num_stages=stages)


def _launch(name: str, kernel: str, autotuner, grid, args: tuple, flags: dict, q, causal: bool,
            rows: int, *, descriptors: bool | None = None, block_kwargs=_block_kwargs):
    """Launch one kernel with the config of :func:`launch_config`, through the autotuner when
    there is none; record the kernel object and its config. With flags["TMA"] the launch is the
    TMA variant, with flags["FUSE_DQ"] the fused dK/dV kernel (kernel_name: their own config
    lists and table entries). descriptors: whether the kernel makes tensor descriptors (default
    flags["TMA"]); block_kwargs: a config's launch keywords (the Gluon forward adds its own)."""
    tma = flags.get("TMA", False)
    kernel = kernel_name(kernel, tma, flags.get("FUSE_DQ", False))
    chosen = launch_config(kernel, q, causal, rows)
    with _descriptor_scratch(q.device, tma if descriptors is None else descriptors):
        if chosen is None:
            compiled = autotuner[grid](*args, **flags)
            best = autotuner.best_config
            config, source = (best.kwargs["BLOCK_M"], best.kwargs["BLOCK_N"], best.num_warps, best.num_stages), "autotune"
        else:
            config, source = tuple(chosen[0]), chosen[1]
            compiled = autotuner.fn[grid](*args, **flags, **block_kwargs(config))
    LAST_LAUNCH[name] = compiled
    LAST_CONFIG[name] = {"kernel": kernel, "bucket": tuned.bucket(rows), "config": config, "source": source}
    return compiled


@contextlib.contextmanager
def _descriptor_scratch(device: torch.device, tma: bool):
    """Tensor descriptors made inside a kernel live in a global-memory scratch that Triton asks the
    allocator of ``triton.set_allocator`` for at launch. Ours (torch's caching allocator) for the
    duration of our launch, unless the caller has set one (theirs is kept)."""
    from triton.runtime import _allocation

    if not tma or device.type != "cuda" or not isinstance(_allocation._allocator.get(), _allocation.NullAllocator):
        yield
        return
    token = _allocation._allocator.set(lambda size, alignment, stream: torch.empty(size, dtype=torch.int8, device=device))
    try:
        yield
    finally:
        _allocation._allocator.reset(token)


#: Whether launches take the TMA variant (SIGATTN_TMA=1, read at import; opt-in, not measured):
#: the streamed operand of each kernel (K/V in the forward and dQ kernels, Q/dO in dK/dV) is read
#: through per-(sequence, head) tensor descriptors. A launch whose tensors a descriptor cannot
#: address (see tma_blocker) takes the pointer kernel; LAST_CONFIG says which ran.
TMA_MODES = {"0": False, "1": True}


def _setting(name: str, meanings: dict[str, str]) -> str:
    """A setting read from the environment at import: one of ``meanings``' values ("0", the
    default, ...); anything else is refused with what each means."""
    value = os.environ.get(name, "0")
    if value not in meanings:
        *rest, last = (f"{v} ({m})" for v, m in meanings.items())
        raise ValueError(f"{name}={value!r}: expected {', '.join(rest)} or {last}.")
    return value


def _switch(name: str, off: str, on: str) -> bool:
    """An on/off setting read from the environment at import (0, the default, or 1)."""
    return TMA_MODES[_setting(name, {"0": off, "1": on})]


TMA = _switch("SIGATTN_TMA", "pointer loads, the default", "tensor descriptors")

#: Whether the backward takes the warp-specialised Gluon kernel (SIGATTN_WSB=1, read at import;
#: session 33, sigattn.gluon_backward, opt-in: five matmuls a tile pair, dQ by reductions), where it can
#: run (gluon_backward.blocker); else the Triton kernels. Variant word "wsb"; LAST_CONFIG
#: ["backward_dkdv"]["kernel"] says which ran ("bwd_wsb"). SIGATTN_WSB=tma: the same kernel adding
#: dQ by TMA reductions from shared memory instead of ``red`` instructions (session 34, v1.13),
#: variant word "wsbt", kernel "bwd_wsbt"; SIGATTN_WSB=persistent: its persistent form (session 35,
#: v1.14), variant word "wsbp", kernel "bwd_wsbp". WSB: the kernel the setting names, or None.
#: _WSB_WORDS: each form's variant word and SIGATTN_WSB value; its kernel is "bwd_" + the word.
_WSB_WORDS = {"wsb": "1", "wsbt": "tma", "wsbp": "persistent"}
WSB_KERNELS = {"0": None, **{value: f"bwd_{word}" for word, value in _WSB_WORDS.items()}}
WSB = WSB_KERNELS[_setting("SIGATTN_WSB", {"0": "the Triton backward kernels, the default",
                                           "1": "the warp-specialised Gluon backward on sm_90",
                                           "tma": "the same, dQ by TMA reductions",
                                           "persistent": "the same, one program an SM over work items"})]

#: Whether the backward is fused (SIGATTN_FUSED=1, read at import; opt-in: 0.84-1.07x the split
#: backward in session 17's H100 call, PERF.md "Session 17"): the
#: dK/dV kernel also adds each tile's dS·K into an fp32 dQ by atomics and no dQ kernel runs (five
#: matmuls and one sigmoid a tile pair instead of seven and two; dQ's summation order then varies
#: from run to run on a GPU). Else the dQ kernel and the dK/dV kernel, each owning its outputs.
FUSED = _switch("SIGATTN_FUSED", "a dQ kernel and a dK/dV kernel, the default",
                "one dK/dV kernel adding dQ by atomics")

#: Whether the Triton forward and dQ kernel keep the A operand of their per-tile matmuls that the
#: program loads once (Q in S = Q·Kᵀ; dO in dP = dO·Vᵀ) in registers (SIGATTN_QREG=1, read at import;
#: variant word "qreg"; 16-bit inputs only: a_regs) instead of shared memory, where Triton puts an
#: operand that comes straight from a load: every key tile's wgmma then reads only B from shared
#: memory (kernels/PERF.md "Session 29"). Opt-in until a rule is met; the Gluon forward is unchanged.
QREG = _switch("SIGATTN_QREG", "Q and dO in shared memory, the default", "in registers")
#: The same for the dK/dV kernel's K (in Sᵀ = K·Qᵀ) and V (in dPᵀ = V·dOᵀ): SIGATTN_KVREG=1, variant
#: word "kvreg" (session 29: its two fp32 accumulators leave fewer entries spill-free with it).
KVREG = _switch("SIGATTN_KVREG", "K and V in shared memory, the default", "in registers")

#: Whether the forward takes the warp-specialised Gluon kernel (SIGATTN_WS=1, read at import;
#: session 21: sigattn.gluon_kernels; the default takes it by TUNED_WS_FROM), where it can run (gluon_kernels.blocker: an sm_90
#: GPU, 16-bit inputs, not causal, no score_mod, descriptor-friendly tensors); else, and for the
#: backward, the Triton kernels. LAST_CONFIG["forward"]["kernel"] says which ran ("fwd_ws").
#: SIGATTN_WS=persistent: the Gluon forward's persistent form (gluon_kernels: one program an SM
#: looping over row blocks, host-made descriptors; session 22, opt-in; timed in session 24,
#: kernels/PERF.md), variant word "wsp".
WS_MODES = {"0": False, "1": True, "persistent": True}
_WS_ENV = _setting("SIGATTN_WS", {"0": "the Triton forward, the default",
                                  "1": "the warp-specialised Gluon forward on sm_90", "persistent": "its persistent form"})
WS = WS_MODES[_WS_ENV]
PERSISTENT = _WS_ENV == "persistent"


@functools.cache
def _has_tma(index: int) -> bool:
    return torch.cuda.get_device_capability(index)[0] >= 9


def tma_blocker(tensors, padded: bool) -> str:
    """Why the streamed tensors cannot be read by descriptor ("" if they can): TMA hardware
    (sm_90+; the interpreter emulates it), a contiguous head dim, a 16-byte aligned base and
    16-byte multiples for the batch/token/head strides (every per-(sequence, head) base and row
    then stays aligned), a positive token stride."""
    t0 = tensors[0]
    if t0.is_cuda and not _has_tma(t0.device.index if t0.device.index is not None else torch.cuda.current_device()):
        return "no TMA before sm_90"
    for t in tensors:
        b, tok, h, d = _strides(t, padded)
        size = t.element_size()
        if d != 1:
            return "head dim not contiguous"
        if t.data_ptr() % 16 or any(s * size % 16 for s in (b, tok, h)):
            return "base or strides not 16-byte aligned"
        if tok <= 0:
            return "token stride not positive"
    return ""


def _use_tma(tensors, padded: bool, pass_: str) -> bool:
    return pass_variant(pass_, tensors[0].shape[-1])[0] and not tma_blocker(tensors, padded)


def _strides(t: torch.Tensor, padded: bool) -> tuple[int, int, int, int]:
    """(batch, token, head, dim) strides; the packed layout has no batch stride."""
    return tuple(t.stride()) if padded else (0, *t.stride())


def _flags(q: torch.Tensor, *, causal: bool, bias, score_mod, padded: bool, pass_: str, tma: bool = False) -> dict:
    half = q.dtype in (torch.float16, torch.bfloat16)
    return dict(
        HEAD_DIM=q.shape[-1], CAUSAL=causal, DEFAULT_BIAS=bias is None,
        HAS_SCORE_MOD=score_mod is not None, STORE_PADDED=padded,
        UPCAST_DOT=INTERPRETER and half, SIGMOID=sigmoid_mode(q, pass_),
        DOT_PRECISION="ieee" if q.dtype == torch.float32 else "tf32", TMA=tma,
    )


#: How the kernels evaluate the sigmoid (see `_sigmoid`): "fast" by default; SIGATTN_SIGMOID=exact,
#: =fma, =halley or =mixed (16-bit inputs), =bf16x2 (the forward of bf16 inputs) or =tanh (GPU
#: only) to compare. Read once, at import; the
#: benchmark names our implementations after a non-default mode (ours_dense_fma, ...).
SIGMOID_MODES = ("exact", "fast", "fma", "halley", "mixed", "bf16x2", "tanh")
DEFAULT_SIGMOID = "fast"
SIGMOID = os.environ.get("SIGATTN_SIGMOID", DEFAULT_SIGMOID)
if SIGMOID not in SIGMOID_MODES:
    raise ValueError(f"SIGATTN_SIGMOID={SIGMOID!r}: expected one of {', '.join(SIGMOID_MODES)}.")

#: The default kernel, "tuned" (SIGATTN_VARIANT=tuned, or select_variant("default")): each pass
#: and head-dim class launches the variant the variant calls measured fastest (kernels/PERF.md
#: "Session 11", "Session 12" and after): the forward's P at bf16 precision ("bf16x2", bf16 inputs;
#: fp16 inputs take "halley": sigmoid_mode) at hd64 and hd128, by session 15's rule met in session
#: 17's call (H100: 1.11-1.23x the FMA-pipe sigmoid at hd64, 1.08-1.09x at hd128, L >= 4K), tensor
#: descriptors in the hd64 backward (1.09-1.12x in session 12; 1.01-1.07x at v1.4), pointer loads
#: in the hd128 backward (where descriptors lose). Changed only by a pre-registered rule met in a
#: variant call (workflow/scripts/bench_variants.py RULES).
TUNED_VARIANTS = {"fwd": {64: "bf16x2", 128: "bf16x2", 256: "fast"},
                  "bwd": {64: "tma", 128: "fast", 256: "fast"}}
#: Under "tuned", the forward of bf16 inputs takes the warp-specialised Gluon kernel (the "ws_bf16x2"
#: variant: the same bf16 P as the Triton forward's bf16x2) at these head-dim classes when the batch's
#: longest query sequence (rows_q) is at least this long, where it can run (gluon_kernels.blocker);
#: shorter batches keep the Triton forward. By session 22's rule met on an H100 (kernels/PERF.md
#: "Session 22": 1.08-1.16x the Triton forward at hd128, L = 8K and 16K, dense and padded; at 1K
#: 0.93-0.95x and at 4K 1.04-1.05x, so no switch there; at hd64 0.66-0.94x, so none at hd64).
TUNED_WS_FROM = {128: 8192}
#: Under "tuned", bf16 inputs at these head-dim classes would take the Gluon forward's persistent
#: form (gluon_kernels, SIGATTN_WS=persistent) when the batch's query rows (rows_q: the padded
#: length, or the longest packed sequence) lie in [from, until), where it can run
#: (gluon_kernels.blocker and persistent_blocker; elsewhere the Triton forward). Empty: no rule
#: for it met. Session 24 (an H100, kernels/PERF.md "Session 24"): its rule, written after a first
#: call (hd128 1.06-1.12x the Triton forward at L = 1K and 4K, 0.99x padded at 16K), was judged
#: on a second, {128: (1024, 8192)} with a bar of 1.05x: inconclusive (padded 2K 1.02x, a dense
#: 1K repeat 0.75x), so the default keeps the Triton forward there.
TUNED_WSP: dict[int, tuple[int, int]] = {}
#: Under "tuned", the backward at these head-dim classes takes a Gluon backward when the batch's
#: key rows (rows_k: the padded length, or the longest packed sequence) are at least an entry's
#: length and below the next entry's: (from, kernel) in increasing order, the kernels of
#: gluon_backward ("bwd_wsbp": the persistent form, "bwd_wsbt": dQ by TMA reductions), where they
#: can run (gluon_backward.blocker: sm_90, 16-bit inputs, not causal, no score_mod, no GQA;
#: "bwd_wsbp" falls back to "bwd_wsbt" where gluon_backward.launchable says) and not under
#: torch.use_deterministic_algorithms; shorter batches keep the Triton kernels. Each by a rule
#: written before its call, met on an H100 (kernels/PERF.md): "bwd_wsbt" from 4K (session 34:
#: 1.21 / 1.29x the default dense, 1.21 / 1.27x padded at 4K / 16K; at hd64 0.78-1.05x, none
#: there), from 2K (session 35: 1.17x dense, 1.14x padded); "bwd_wsbp" (v1.15) at 1K (session
#: 36: 1.14x the default dense, 1.09x padded) and in wsbt's place at 2K (1.02x dense, 1.04x
#: padded). From 4K on the persistent form is at wsbt's speed (1.00-1.02x, 0.98x padded at 16K:
#: that rule inconclusive there), so wsbt stays the default's from 4K.
TUNED_WSB: dict[int, tuple[tuple[int, str], ...]] = {128: ((1024, "bwd_wsbp"), (4096, "bwd_wsbt"))}
#: SIGATTN_VARIANT: "tuned" (the default) or "single" (every launch the variant SIGATTN_TMA,
#: SIGATTN_FUSED and SIGATTN_SIGMOID name: the comparisons of PERF.md). Setting one of them
#: without SIGATTN_VARIANT asks for that single variant.
VARIANT_MODES = {"tuned": True, "single": False}
_VARIANT_ENV = os.environ.get("SIGATTN_VARIANT") or (
    "single" if {"SIGATTN_TMA", "SIGATTN_FUSED", "SIGATTN_QREG", "SIGATTN_KVREG", "SIGATTN_WS", "SIGATTN_WSB",
       "SIGATTN_SIGMOID"}
    & set(os.environ)
    else "tuned")
if _VARIANT_ENV not in VARIANT_MODES:
    raise ValueError(f"SIGATTN_VARIANT={_VARIANT_ENV!r}: expected 'tuned' (the default: a variant per pass and "
                     "head dim, TUNED_VARIANTS) or 'single' (the variant of SIGATTN_TMA / SIGATTN_SIGMOID).")
TUNED = VARIANT_MODES[_VARIANT_ENV]


def pass_variant(pass_: str, head_dim: int) -> tuple[bool, str]:
    """(TMA, sigmoid) of a launch of this pass ("fwd" or "bwd": the dQ and dK/dV kernels) at this
    head dim: the process's variant, or under "tuned" the TUNED_VARIANTS entry."""
    if not TUNED:
        return TMA, SIGMOID
    env = variant_env(TUNED_VARIANTS[pass_][head_dim_class(head_dim)])
    return TMA_MODES[env["SIGATTN_TMA"]], env["SIGATTN_SIGMOID"]


def a_regs(q: torch.Tensor, pass_: str, kernel: str = "") -> bool:
    """Whether q's launch of this pass keeps its loaded A operand in registers: the forward's and
    the dQ kernel's by the "qreg" word, the dK/dV kernel's (kernel "dkdv") by "kvreg", of the
    process's variant or under "tuned" of the TUNED_VARIANTS entry; 16-bit inputs only (the
    register move works on pairs of 16-bit values)."""
    if q.dtype not in (torch.float16, torch.bfloat16):
        return False
    if not TUNED:
        return KVREG if kernel == "dkdv" else QREG
    env = variant_env(TUNED_VARIANTS[pass_][head_dim_class(q.shape[-1])])
    return TMA_MODES[env["SIGATTN_KVREG" if kernel == "dkdv" else "SIGATTN_QREG"]]


def fused_backward(head_dim: int) -> bool:
    """Whether the backward at this head dim is the fused one (SIGATTN_FUSED; under "tuned" the
    TUNED_VARIANTS backward entry's). Never while torch.use_deterministic_algorithms(True): the
    fused dQ's atomics add in whatever order the programs reach them."""
    if torch.are_deterministic_algorithms_enabled():
        return False
    if not TUNED:
        return FUSED
    return TMA_MODES[variant_env(TUNED_VARIANTS["bwd"][head_dim_class(head_dim)])["SIGATTN_FUSED"]]


def backward_spans(head_dim: int) -> dict[str, tuple[int, float]]:
    """The key-row spans [from, until) over which the default ("tuned") takes each Gluon backward
    kernel at this head dim (TUNED_WSB; empty where it takes none)."""
    entries = TUNED_WSB.get(head_dim_class(head_dim), ())
    ends = [start for start, _ in entries[1:]] + [float("inf")]  # one more than entries when there are none
    return {kernel: (start, end) for (start, kernel), end in zip(entries, ends, strict=False)}


def gluon_backward(head_dim: int, rows_k: int) -> str | None:
    """The warp-specialised Gluon backward kernel the backward at this head dim and key rows asks
    for ("bwd_wsb", "bwd_wsbt", "bwd_wsbp" or None: SIGATTN_WSB; under "tuned" the kernel of the
    TUNED_WSB span holding rows_k, else None), which runs where gluon_backward.blocker allows. Never
    while torch.use_deterministic_algorithms(True): its dQ reductions add in whatever order the
    programs reach them."""
    kernel = WSB
    if TUNED:
        kernel = next((k for k, (start, end) in backward_spans(head_dim).items() if start <= rows_k < end), None)
    if kernel is None or torch.are_deterministic_algorithms_enabled() or head_dim_class(head_dim) not in TUNE_TABLE[kernel]:
        return None
    return kernel


def forward_gluon(head_dim: int, rows_q: int, dtype: torch.dtype) -> str | None:
    """The Gluon forward a launch takes where it can run ("fwd_ws", its persistent form "fwd_wsp")
    or None (the Triton forward): SIGATTN_WS in a single variant; under "tuned", bf16 inputs at a
    head dim and length of TUNED_WSP or TUNED_WS_FROM."""
    if not TUNED:
        return ("fwd_wsp" if PERSISTENT else "fwd_ws") if WS else None
    if dtype != torch.bfloat16:
        return None
    cls = head_dim_class(head_dim)
    start, until = TUNED_WSP.get(cls, (0, 0))
    if start <= rows_q < until:
        return "fwd_wsp"
    return "fwd_ws" if cls in TUNED_WS_FROM and rows_q >= TUNED_WS_FROM[cls] else None


def pass_kernels(pass_: str, head_dim: int) -> tuple[str, ...]:
    """The kernels (kernel_name, each with its own autotune lists) launches of this pass take at
    this head dim under the selected variant, where the tensors allow descriptors: the forward
    ("fwd", "fwd_tma" or the Gluon "fwd_ws" / "fwd_wsp"; under "tuned" the Triton forward and, at
    a head dim of TUNED_WSP or TUNED_WS_FROM, the Gluon kernels its lengths take); the backward's dQ
    and dK/dV kernels (under "tuned", at a head dim of TUNED_WSB, with the Gluon backwards its
    lengths take), or the fused dK/dV kernel alone, or the Gluon backward alone."""
    tma = pass_variant(pass_, head_dim)[0]
    if pass_ == "fwd":
        gluon = head_dim in TUNE_TABLE["fwd_ws"]
        if not TUNED:
            return (("fwd_wsp" if PERSISTENT else "fwd_ws"),) if WS and gluon else (kernel_name("fwd", tma),)
        cls = head_dim_class(head_dim)
        return ((kernel_name("fwd", tma),) + (("fwd_wsp",) if gluon and cls in TUNED_WSP else ())
                + (("fwd_ws",) if gluon and cls in TUNED_WS_FROM else ()))
    if not TUNED and gluon_backward(head_dim, 0):  # a single variant's Gluon backward: every length
        return (WSB,)
    gluons = tuple(k for k, (start, _) in backward_spans(head_dim).items() if gluon_backward(head_dim, start)) \
        if TUNED else ()
    if fused_backward(head_dim):
        return (kernel_name("dkdv", tma, True),)
    return (kernel_name("dq", tma), kernel_name("dkdv", tma)) + gluons


#: The words of a single variant's name, in their order: tensor descriptors, the fused backward,
#: Q / dO in registers (forward, dQ kernel), K / V in registers (dK/dV kernel), the warp-specialised
#: Gluon forward, its persistent form (ws and wsp exclude each other), the warp-specialised Gluon backward.
_VARIANT_WORDS = ("tma", "fused", "qreg", "kvreg", "ws", "wsp", *_WSB_WORDS)  # one of _WSB_WORDS at most


def variant_suffix() -> str:
    """How benchmark rows name the kernel variant launched: "" for the default ("tuned"), else
    "_" and the single variant's name, its words in the order
    [tma][_fused][_qreg][_kvreg][_ws][_wsb|_wsbt|_wsbp][_<sigmoid>]: "_tma" (tensor descriptors, fast sigmoid),
    "_fused" (pointer loads, fused backward, fast sigmoid), "_qreg_bf16x2" (Q in registers, bf16
    P), "_ws_bf16x2" (the Gluon forward, bf16 P), "_wsp_bf16x2" (its persistent form), "_wsb" (the
    Gluon backward), "_wsbt" (the same, dQ by TMA reductions), "_wsbp" (its persistent form),
    "_<sigmoid>" (pointer loads), "_tma_fused_<sigmoid>", ...; "_fast" is the single pointer-load
    kernel with the fast sigmoid (the default before session 15). The sigmoid is named unless it
    is the fast one and another word is there."""
    if TUNED:
        return ""
    words = [w for w, on in zip(_VARIANT_WORDS, (TMA, FUSED, QREG, KVREG, WS and not PERSISTENT, PERSISTENT,
                                                 *(WSB == f"bwd_{w}" for w in _WSB_WORDS)), strict=True) if on]
    return "_" + "_".join(words + ([] if words and SIGMOID == DEFAULT_SIGMOID else [SIGMOID]))


def variant_env(variant: str) -> dict[str, str]:
    """The environment that selects a variant named like variant_suffix() without its "_"
    ("default" or "tuned", "fast", "tma", "fma", "tma_fma", "fused", "tma_fused_mixed", "qreg", "ws_bf16x2", ...),
    to set before sigattn is imported."""
    if variant in ("default", "tuned"):
        return {"SIGATTN_TMA": "0", "SIGATTN_FUSED": "0", "SIGATTN_QREG": "0", "SIGATTN_KVREG": "0", "SIGATTN_WS": "0",
                "SIGATTN_WSB": "0", "SIGATTN_SIGMOID": DEFAULT_SIGMOID, "SIGATTN_VARIANT": "tuned"}
    words = variant.split("_")
    flags = [w for w in words if w in _VARIANT_WORDS]
    sigmoids = words[len(flags):]
    if (flags != [w for w in _VARIANT_WORDS if w in flags] or words[:len(flags)] != flags or len(sigmoids) > 1
            or any(w not in SIGMOID_MODES for w in sigmoids) or {"ws", "wsp"} <= set(flags)
            or len(_WSB_WORDS.keys() & set(flags)) > 1):
        raise ValueError(f"kernel variant {variant!r}: expected 'default' (= 'tuned') or "
                         f"[tma][_fused][_qreg][_kvreg][_ws|_wsp][_wsb|_wsbt|_wsbp][_<sigmoid>] "
                         f"with a sigmoid of {SIGMOID_MODES}, e.g. 'fast', 'tma', 'fma', 'tma_fma', 'tma_fused'.")
    return {"SIGATTN_TMA": "1" if "tma" in flags else "0", "SIGATTN_FUSED": "1" if "fused" in flags else "0",
            "SIGATTN_QREG": "1" if "qreg" in flags else "0", "SIGATTN_KVREG": "1" if "kvreg" in flags else "0",
            "SIGATTN_WS": "persistent" if "wsp" in flags else "1" if "ws" in flags else "0",
            "SIGATTN_WSB": next((_WSB_WORDS[w] for w in flags if w in _WSB_WORDS), "0"),
            "SIGATTN_SIGMOID": sigmoids[0] if sigmoids else DEFAULT_SIGMOID, "SIGATTN_VARIANT": "single"}


def select_variant(variant: str) -> None:
    """Switch this process to a variant by name (what SIGATTN_VARIANT / SIGATTN_TMA /
    SIGATTN_FUSED / SIGATTN_SIGMOID select at import; the benchmark driver
    workflow/scripts/bench_variants.py runs one variant a process)."""
    global TMA, FUSED, QREG, KVREG, WS, PERSISTENT, WSB, SIGMOID, TUNED
    env = variant_env(variant)
    TMA, FUSED, QREG, KVREG, WS, SIGMOID, TUNED = (
        TMA_MODES[env["SIGATTN_TMA"]], TMA_MODES[env["SIGATTN_FUSED"]], TMA_MODES[env["SIGATTN_QREG"]],
        TMA_MODES[env["SIGATTN_KVREG"]], WS_MODES[env["SIGATTN_WS"]], env["SIGATTN_SIGMOID"],
        VARIANT_MODES[env["SIGATTN_VARIANT"]])
    PERSISTENT = env["SIGATTN_WS"] == "persistent"
    WSB = WSB_KERNELS[env["SIGATTN_WSB"]]


def current_variant() -> str:
    """The variant this process launches now, by name ("default", "fast", "tma", "fma", ...)."""
    return variant_suffix().lstrip("_") or "default"


#: The variant SIGATTN_VARIANT / SIGATTN_TMA / SIGATTN_SIGMOID selected at import.
IMPORTED_VARIANT = current_variant()


@contextlib.contextmanager
def using_variant(variant: str):
    """select_variant for the launches inside the block (on this host thread: a launch reads the
    variant when it is issued), then back to the variant before it. The throughput protocol
    runs each step of a variant arm inside one (scsigmoid.train.throughput.ARM_VARIANTS)."""
    before = current_variant()
    select_variant(variant)
    try:
        yield
    finally:
        select_variant(before)


def sigmoid_mode(q: torch.Tensor, pass_: str) -> str:
    """The sigmoid used for q's launch of this pass (pass_variant): tanh.approx exists only on the
    GPU (not the interpreter); the FMA-pipe reciprocals (errors ~1e-5 and ~1e-4, also in half of
    "mixed") are meant for 16-bit inputs only; "bf16x2" (bf16 P) for the forward of bf16 inputs,
    "halley" in its place for fp16 inputs, "mixed" in the backward."""
    sigmoid = pass_variant(pass_, q.shape[-1])[1]
    if sigmoid == "tanh" and (INTERPRETER or not q.is_cuda):
        return "fast"
    if sigmoid == "bf16x2" and (pass_ != "fwd" or q.dtype != torch.bfloat16):
        sigmoid = "halley" if pass_ == "fwd" else "mixed"  # bf16 P: the forward of bf16 inputs only
    if sigmoid in ("fma", "halley", "mixed") and q.dtype == torch.float32:
        return "fast"
    return sigmoid


def _mod_args(score_mod, q, padded):
    if score_mod is None:
        return q, 0, 0  # never read
    return (score_mod, *(score_mod.stride() if padded else (0, score_mod.stride(0))))


def forward(q, k, v, seq_table, score_mod, *, causal, scale, bias, padded, rows_q, o):
    """Fill ``o`` (q's shape) with sigmoid attention. rows_q: padded length or max query length."""
    n_seqs, heads_q, heads_kv = seq_table.shape[1], q.shape[-2], k.shape[-2]
    if n_seqs == 0 or rows_q == 0 or heads_q == 0:
        return o
    mod, stride_mb, stride_mt = _mod_args(score_mod, q, padded)
    grid = lambda meta: (triton.cdiv(rows_q, meta["BLOCK_M"]) * n_seqs * heads_q,)  # noqa: E731
    args = (q, k, v, o, mod, seq_table, n_seqs, heads_q, heads_q // heads_kv, rows_q, scale,
            0.0 if bias is None else float(bias), tuned.bucket(rows_q),
            *_strides(q, padded), *_strides(k, padded), *_strides(v, padded), *_strides(o, padded),
            stride_mb, stride_mt)
    _launch("forward", "fwd", _fwd_kernel, grid, args,
            {**_flags(q, causal=causal, bias=bias, score_mod=score_mod, padded=padded, pass_="fwd",
                      tma=_use_tma((k, v), padded, "fwd")), "A_REGS": a_regs(q, "fwd")}, q, causal, rows_q)
    return o


def backward(do, q, k, v, seq_table, score_mod, *, causal, scale, bias, padded, rows_q, rows_k,
             dq, dk, dv):
    """Fill dq, dk, dv (shapes of q, k, v). The fused backward (fused_backward) launches the dK/dV
    kernel alone, which adds dQ into an fp32 buffer of q's shape (zeros, so rows no key reaches
    stay 0), scaled and cast into dq after it."""
    n_seqs, heads_q, heads_kv = seq_table.shape[1], q.shape[-2], k.shape[-2]
    if n_seqs == 0 or heads_q == 0:
        return dq, dk, dv
    mod, stride_mb, stride_mt = _mod_args(score_mod, q, padded)
    flags = _flags(q, causal=causal, bias=bias, score_mod=score_mod, padded=padded, pass_="bwd")
    bias_value = 0.0 if bias is None else float(bias)
    group = heads_q // heads_kv
    fused = fused_backward(q.shape[-1])
    if rows_q > 0 and not fused:
        grid_q = lambda meta: (triton.cdiv(rows_q, meta["BLOCK_M"]) * n_seqs * heads_q,)  # noqa: E731
        args = (q, k, v, do, dq, mod, seq_table, n_seqs, heads_q, group, rows_q, scale, bias_value,
                tuned.bucket(rows_q),
                *_strides(q, padded), *_strides(k, padded), *_strides(v, padded), *_strides(do, padded),
                *_strides(dq, padded), stride_mb, stride_mt)
        _launch("backward_dq", "dq", _bwd_dq_kernel, grid_q, args,
                {**flags, "TMA": _use_tma((k, v), padded, "bwd"), "A_REGS": a_regs(q, "bwd")}, q, causal, rows_q)
    # fused: dQ's fp32 accumulator; else dk stands in (the split kernel never touches DQA)
    dq_acc = torch.zeros(q.shape, dtype=torch.float32, device=q.device) if fused else dk
    if rows_k > 0:
        grid_k = lambda meta: (triton.cdiv(rows_k, meta["BLOCK_N"]) * n_seqs * heads_kv,)  # noqa: E731
        args = (q, k, v, do, dk, dv, dq_acc, mod, seq_table, n_seqs, heads_kv, group, rows_k, scale, bias_value,
                tuned.bucket(rows_k),
                *_strides(q, padded), *_strides(k, padded), *_strides(v, padded), *_strides(do, padded),
                *_strides(dk, padded), *_strides(dv, padded), *_strides(dq_acc, padded), stride_mb, stride_mt)
        _launch("backward_dkdv", "dkdv", _bwd_dkdv_kernel, grid_k, args,
                {**flags, "TMA": _use_tma((q, do), padded, "bwd"), "FUSE_DQ": fused, "A_REGS": a_regs(q, "bwd", "dkdv")},
                q, causal, rows_k)
    if fused:
        LAST_LAUNCH.pop("backward_dq", None)
        LAST_CONFIG.pop("backward_dq", None)
        dq_from_accumulator(dq, dq_acc, scale)
    return dq, dk, dv


def dq_from_accumulator(dq: torch.Tensor, dq_acc: torch.Tensor, scale: float) -> torch.Tensor:
    """dq = dq_acc · scale, cast to dq's dtype, in one pass (read fp32, write dq): the kernels that add
    dQ into an fp32 accumulator (the fused Triton backward, the Gluon backward) end here. Until
    session 35 this was ``dq.copy_(dq_acc.mul_(scale))``, two passes (fp32 read + write, then read +
    cast write): at hd128, L = 1K, 16,384 tokens a batch, 268 MB more traffic a call, ~8 % of the
    Gluon backward's time there (kernels/PERF.md "Session 35")."""
    return torch.mul(dq_acc, scale, out=dq)


def autotuned_configs() -> dict[str, str | None]:
    """The config each kernel's autotuner picked for its latest launch (as LAST_CONFIG records it,
    in the form of a Triton config's text), for whichever kernel ran: the Triton ones or a Gluon
    one; None where that launch did not autotune (tuned table, fixed config, interpreter) or
    before any launch."""
    out = {}
    for name in ("forward", "backward_dq", "backward_dkdv"):
        launch = LAST_CONFIG.get(name, {})
        if launch.get("source") == "autotune":
            m, n, warps, stages = launch["config"]
            out[name] = f"BLOCK_M: {m}, BLOCK_N: {n}, num_warps: {warps}, num_stages: {stages}"
        else:
            out[name] = None
    return out
