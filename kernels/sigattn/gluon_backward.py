"""The backward in one warp-specialised Gluon kernel for Hopper (sm_90): five matmuls a tile pair.
Two forms of the same kernel, by how each tile's dQ is added into the fp32 accumulator, and a
persistent form of the second:
- "bwd_wsb" (SIGATTN_WSB=1, variant word "wsb"): ``red`` reductions from every compute thread
  (v1.12; v1.11's returning atomics were 0.55-0.78x the default backward on an H100, session 33;
  v1.12 0.87-0.99x, session 34): opt-in;
- "bwd_wsbt" (SIGATTN_WSB=tma, variant word "wsbt", v1.13): the tile stored to shared memory and
  added by one TMA reduction (FlashAttention-3's way), issued a tile later: 1.14-1.29x the default
  at hd128 from 2K on an H100, at the power cap (kernels/PERF.md "Sessions 34, 35"), so the default
  takes it from 4K (triton_kernels.TUNED_WSB);
- "bwd_wsbp" (SIGATTN_WSB=persistent, variant word "wsbp", v1.14-v1.15): "bwd_wsbt"'s loop in one
  program an SM over (key block, sequence, head) items handed out by a counter, with host-made
  descriptors (the persistent form's section below): v1.15 1.14x the default dense, 1.09x padded
  at hd128 1K, 1.02-1.04x bwd_wsbt at 2K on an H100 (PERF.md "Session 36"; v1.14, its items by
  stride, 0.95-0.98x bwd_wsbt padded), so the default takes it at hd128 from 1K to 4K.

Why: at head dim 128 the backward runs at the board's power cap, where a call's time is its
energy, and a matmul is most of that energy (kernels/PERF.md "Session 32": 1.07 J a matmul of
1.1 TFLOP against 0.59 J a 10⁹ instructions). The default backward runs seven matmuls a tile pair
(a dQ kernel recomputes S and dP); cuDNN runs five and uses 0.72x our energy a call. The Triton
fused kernel (v1.5, SIGATTN_FUSED) also runs five, but adds each tile's dQ in line with its
matmuls and was slower (PERF.md "Session 17").

One program a (key block of BLOCK_N keys, sequence, head), as the Triton dK/dV kernel; inside it
two partitions:
- the loader, one warp: TMA copies of the program's K and V block once, then of each query tile's
  Q and dO into a ring of STAGES slots ("ready" and "empty" mbarriers a slot);
- the compute partition (num_warps warps: two warpgroups at BLOCK_N = 128, each owning 64 keys'
  rows of Sᵀ, dK and dV), per query tile:
    Sᵀ = K·Qᵀ and dPᵀ = V·dOᵀ issued together (wgmma, asynchronous);
    Pᵀ = sigmoid(Sᵀ·scale + b) once Sᵀ is done; dV += Pᵀ·dO issued (Pᵀ from registers);
    dSᵀ = Pᵀ(1 - Pᵀ)·dPᵀ once dPᵀ is done; dK += dSᵀ·Q issued (dSᵀ from registers);
    dSᵀ stored to shared memory (both warpgroups' halves, then a barrier of the partition), and
    dQ_tile = dS·K issued, the two warpgroups splitting dQ's columns (each reads all BLOCK_N keys);
    once dQ_tile is done, the slot is released and dQ_tile added into dQ's fp32 rows (other key
    blocks' programs add into the same rows): by ``red`` reductions (_add_dq), or (DQ_TMA) stored
    to one of two fp32 staging tiles and added by a TMA reduction issued after the next tile's
    barrier (_compute's docstring).
  dS lives in two shared buffers (tile parity): one barrier a tile then orders a warpgroup's store
  of tile t + 1 after the other's dQ matmul of tile t - 1 read the same buffer.
Each program starts at a different query tile (rotated by its key block), so the programs of a head
that run side by side add into different dQ rows (as the Triton fused kernel).

Descriptors cover exactly the sequence's rows: keys past k_len load as zeros (dPᵀ = 0 there, so
dSᵀ = 0 and they add nothing to dK or dQ; their dV rows are zeroed before the store), query rows
past q_len too (dO = 0: they add nothing anywhere; their dQ rows are masked out of the ``red``
reductions, or dropped by the TMA reduction's bounds).

Scope: bf16/fp16 inputs, padded and packed layouts, one query head a key/value head, a default or
given bias; not causal, no score_mod (``blocker`` names what sends a launch to the Triton kernels).
dQ's reductions add in whatever order programs reach them (not bitwise reproducible; never taken under
torch.use_deterministic_algorithms). Gluon has no CPU interpreter: the CPU tests compile it for sm_90
(``sigattn.resources``), the GPU tests run it against the reference.
"""

from __future__ import annotations

import torch
import triton
from triton._C.libtriton import ir
from triton.experimental import gluon
from triton.experimental.gluon import language as gl
from triton.experimental.gluon.language._core import builtin
from triton.experimental.gluon.language.nvidia.hopper import (
    fence_async_shared,
    mbarrier,
    tma,
    warpgroup_mma,
    warpgroup_mma_wait,
)

from . import gluon_kernels as gk
from . import triton_kernels as tk
from . import tuned

KERNEL = "bwd_wsb"  # its name in TUNE_TABLE, sigattn.tuned and LAST_CONFIG
KERNEL_TMA = "bwd_wsbt"  # the same with dQ added by TMA reductions (SIGATTN_WSB=tma, v1.13)
KERNEL_PERSISTENT = "bwd_wsbp"  # KERNEL_TMA's persistent form (SIGATTN_WSB=persistent, v1.14)


@gluon.jit
def _tile_row(t, shift, n_tiles, BLOCK_M: gl.constexpr):
    """The first query row of the program's t-th tile: tiles from number ``shift`` on, wrapping."""
    j = t + shift
    return gl.where(j >= n_tiles, j - n_tiles, j) * BLOCK_M


@gluon.jit
def _loader(k_desc, v_desc, q_desc, do_desc, k_smem, v_smem, q_bufs, do_bufs, bars, n0, n_tiles, shift,
            BLOCK_M: gl.constexpr):
    """The TMA partition: the key block's K and V once, then each query tile's Q and dO into slot
    t % STAGES once the compute partition has released the slot's previous tile."""
    kv_bar, ready, empty = bars[0], bars[1], bars[2]
    STAGES: gl.constexpr = q_bufs.type.shape[0]
    if n_tiles > 0:
        mbarrier.expect(kv_bar, k_desc.block_type.nbytes + v_desc.block_type.nbytes)
        tma.async_copy_global_to_shared(k_desc, [n0, 0], kv_bar, k_smem)
        tma.async_copy_global_to_shared(v_desc, [n0, 0], kv_bar, v_smem)
    for t in range(n_tiles):
        slot = t % STAGES
        mbarrier.wait(empty.index(slot), ((t // STAGES) & 1) ^ 1)
        mbarrier.expect(ready.index(slot), q_desc.block_type.nbytes + do_desc.block_type.nbytes)
        m0 = _tile_row(t, shift, n_tiles, BLOCK_M)
        tma.async_copy_global_to_shared(q_desc, [m0, 0], ready.index(slot), q_bufs.index(slot))
        tma.async_copy_global_to_shared(do_desc, [m0, 0], ready.index(slot), do_bufs.index(slot))


#: dQ's reduction, two fp32 values an instance: ``red.v2`` (no value returned), not the ``atom.v2``
#: that gl.atomic_add emits (ATOMG: each returns the old values, and the next tile's reuse of those
#: registers waits for them: session 33's ncu, 7.4 of 24.6 cycles an instruction on L1TEX
#: scoreboards). An instance takes two consecutive registers of a thread, which in the wgmma
#: accumulator's layout are columns 2c and 2c + 1 of one row (the pairs gl.atomic_add vectorises
#: too): adjacent, 8-byte aligned. A pairing that were not so would put dQ's values in the wrong
#: columns, which the GPU tests (dQ against fp64, every layout) catch. $0, $1 dummy results (inline
#: assembly must return one), $2, $3 the addresses ($3 unused), $4, $5 the values, $6 non-zero where
#: the row is the sequence's ($7, the same row's, unused).
RED_ADD_PTX = gl.constexpr("{ .reg .pred p; setp.ne.b32 p, $6, 0; "
                           "@p red.global.gpu.relaxed.add.v2.f32 [$2], {$4, $5}; mov.b32 $0, 0; mov.b32 $1, 0; }")


@builtin
def _tma_reduce_add(tensor_desc, coord, src, _semantic=None):
    """A TMA reduction: the fp32 tile in shared memory ``src`` added into the descriptor's block at
    ``coord`` (``cp.reduce.async.bulk.tensor...add``; rows past the descriptor's shape are dropped),
    asynchronous as a TMA store (tma.store_wait waits for it to have read ``src``). Gluon 3.6's builder
    has the operation (its Hopper ``tma`` module does not name it); on sm_90 the lowering issues one
    message a 128-byte column chunk, from the first warps of the partition."""
    coord = _semantic._convert_to_ir_values(coord, require_i64=False)
    _semantic.builder.create_async_tma_reduce(ir.DESCRIPTOR_REDUCE_KIND.ADD, tensor_desc.handle, coord, src.handle)


#: dQ's fp32 staging tile for the TMA reductions: 128-byte swizzle (the accumulator's stores, two
#: values a thread over eight rows a warp, land in distinct banks), 32 columns a message.
DQ_SMEM_LAYOUT = gl.constexpr(gl.NVMMASharedLayout(swizzle_byte_width=128, element_bitwidth=32, rank=2))


@gluon.jit
def _add_dq(dq, dqa_ptr, stride_aqt, m0, q_len, HEAD_DIM: gl.constexpr):
    """dQ rows m0 ... of one tile (unscaled) added into the fp32 accumulator, rows past q_len not."""
    layout: gl.constexpr = dq.type.layout
    rows = m0 + gl.arange(0, dq.type.shape[0], layout=gl.SliceLayout(1, layout))
    cols = gl.arange(0, HEAD_DIM, layout=gl.SliceLayout(0, layout))
    ptrs = dqa_ptr + rows[:, None] * stride_aqt + cols[None, :]
    keep = (rows[:, None] + 0 * cols[None, :] < q_len).to(gl.int32)
    gl.inline_asm_elementwise(RED_ADD_PTX, "=r,=r,l,l,f,f,r,r", [ptrs.to(gl.int64), dq, keep], dtype=gl.int32,
                              is_pure=False, pack=2)


@gluon.jit
def _tile_scores(k_smem, v_smem, q_tile, do_tile, ds_bufs, parity, dk, dv, y_scale, y_bias, DQ_TMA: gl.constexpr,
                 num_warps: gl.constexpr):
    """A tile pair's first four matmuls (the module's docstring): Sᵀ and dPᵀ issued, Pᵀ, dV += Pᵀ·dO
    and dK += dSᵀ·Q issued (left in flight), dSᵀ stored to ds_bufs[parity]; then (DQ_TMA) the wait
    for the reduction that last read the staging tile this tile's dQ fills, and the compute warps'
    barrier (every thread's dS, and its earlier staging stores, before what follows): (dk, dv, dS's
    buffer)."""
    BLOCK_N: gl.constexpr = k_smem.type.shape[0]
    HEAD_DIM: gl.constexpr = k_smem.type.shape[1]
    BLOCK_M: gl.constexpr = q_tile.type.shape[0]
    st_layout: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[num_warps, 1],
                                                        instr_shape=[16, BLOCK_M, 16])
    acc_layout: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[num_warps, 1],
                                                         instr_shape=[16, HEAD_DIM, 16])
    a_layout: gl.constexpr = gl.DotOperandLayout(operand_index=0, parent=acc_layout, k_width=2)
    dtype: gl.constexpr = q_tile.dtype
    s_t = warpgroup_mma(k_smem, q_tile.permute((1, 0)), gl.zeros([BLOCK_N, BLOCK_M], gl.float32, st_layout),
                        use_acc=False, is_async=True)
    dp_t = warpgroup_mma(v_smem, do_tile.permute((1, 0)), gl.zeros([BLOCK_N, BLOCK_M], gl.float32, st_layout),
                         use_acc=False, is_async=True)
    s_t = warpgroup_mma_wait(num_outstanding=1, deps=(s_t,))
    p_t = gk._sigmoid_ex2(s_t * y_scale + y_bias, "fast")
    dv = warpgroup_mma(gl.convert_layout(p_t.to(dtype), a_layout), do_tile, dv, is_async=True)
    dp_t = warpgroup_mma_wait(num_outstanding=1, deps=(dp_t,))
    ds_t = ((p_t - p_t * p_t) * dp_t).to(dtype)
    dk = warpgroup_mma(gl.convert_layout(ds_t, a_layout), q_tile, dk, is_async=True)
    ds_smem = ds_bufs.index(parity)
    ds_smem.store(ds_t)
    if DQ_TMA:  # the reduction issued a tile ago has read the staging tile this tile's dQ fills
        tma.store_wait(0)
    fence_async_shared()
    gl.thread_barrier()
    return dk, dv, ds_smem


@gluon.jit
def _tile_dq(ds_smem, k_smem, dk, dv, num_warps: gl.constexpr):
    """The fifth matmul, dQ_tile = dS·K (the two warpgroups splitting dQ's columns), and the wait for
    it and the tile's dK and dV: (dq, dk, dv)."""
    BLOCK_M: gl.constexpr = ds_smem.type.shape[1]
    HEAD_DIM: gl.constexpr = k_smem.type.shape[1]
    WARPGROUPS: gl.constexpr = num_warps // 4
    # dQ_tile [BLOCK_M, HEAD_DIM]: 64 query rows a warpgroup's M, so its warpgroups split the columns
    dq_layout: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[4, WARPGROUPS],
                                                        instr_shape=[16, HEAD_DIM // WARPGROUPS, 16])
    dq = warpgroup_mma(ds_smem.permute((1, 0)), k_smem, gl.zeros([BLOCK_M, HEAD_DIM], gl.float32, dq_layout),
                       use_acc=False, is_async=True)
    return warpgroup_mma_wait(num_outstanding=0, deps=(dq, dk, dv))


@gluon.jit
def _compute(k_smem, v_smem, q_bufs, do_bufs, ds_bufs, dq_bufs, dqa_desc, bars, n_tiles, shift, y_scale, y_bias,
             scale, dqa_ptr, stride_aqt, q_len, dk_ptr, dv_ptr, stride_dkt, stride_dvt, n0, k_len, rows_limit,
             BLOCK_M: gl.constexpr, BLOCK_N: gl.constexpr, HEAD_DIM: gl.constexpr, DQ_TMA: gl.constexpr,
             num_warps: gl.constexpr):
    """The default partition: dK and dV of the key block over its query tiles, stored; each tile's
    dQ added into DQA (the module's docstring: the order of the five matmuls). DQ_TMA: tile t's dQ
    is stored to dq_bufs[t % 2] and added by one TMA reduction issued after tile t + 1's barrier
    (which orders every thread's stores before it), so the tile needs no barrier of its own; the
    reduction has a tile's time to read the buffer before tile t + 2 waits for it (store_wait)."""
    kv_bar, ready, empty = bars[0], bars[1], bars[2]
    STAGES: gl.constexpr = q_bufs.type.shape[0]
    acc_layout: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[num_warps, 1],
                                                         instr_shape=[16, HEAD_DIM, 16])
    dk = gl.zeros([BLOCK_N, HEAD_DIM], gl.float32, acc_layout)
    dv = gl.zeros([BLOCK_N, HEAD_DIM], gl.float32, acc_layout)
    if n_tiles > 0:
        mbarrier.wait(kv_bar, 0)
    for t in range(n_tiles):
        slot = t % STAGES
        mbarrier.wait(ready.index(slot), (t // STAGES) & 1)
        dk, dv, ds_smem = _tile_scores(k_smem, v_smem, q_bufs.index(slot), do_bufs.index(slot), ds_bufs, t % 2, dk,
                                       dv, y_scale, y_bias, DQ_TMA, num_warps)
        if DQ_TMA:
            if t > 0:  # tile t - 1's dQ, which every compute thread stored before the barrier
                _tma_reduce_add(dqa_desc, [_tile_row(t - 1, shift, n_tiles, BLOCK_M), 0], dq_bufs.index((t - 1) % 2))
        dq, dk, dv = _tile_dq(ds_smem, k_smem, dk, dv, num_warps)
        if DQ_TMA:  # (before the slot's release, whose barrier then orders these stores too)
            dq_bufs.index(t % 2).store(dq)
            fence_async_shared()
        mbarrier.arrive(empty.index(slot), count=1)
        if not DQ_TMA:
            _add_dq(dq, dqa_ptr, stride_aqt, _tile_row(t, shift, n_tiles, BLOCK_M), q_len, HEAD_DIM)
    if DQ_TMA:  # the last tile's dQ; then every reduction has read its buffer before the program ends
        if n_tiles > 0:
            gl.thread_barrier()
            _tma_reduce_add(dqa_desc, [_tile_row(n_tiles - 1, shift, n_tiles, BLOCK_M), 0],
                            dq_bufs.index((n_tiles - 1) % 2))
        tma.store_wait(0)
    # rows past the sequence's keys as zeros (their dV is not: P = sigmoid(bias) there), none past rows_limit
    gk._store_rows(dk * scale, dk_ptr, stride_dkt, n0, k_len, rows_limit, HEAD_DIM)
    gk._store_rows(dv, dv_ptr, stride_dvt, n0, k_len, rows_limit, HEAD_DIM)


@gluon.jit
def _ws_bwd_kernel(Q, K, V, DO, DK, DV, DQA, SEQ, n_seqs, heads_kv, rows_k, scale, bias_value, seqlen_bucket,
                   stride_qb, stride_qt, stride_qh, stride_kb, stride_kt, stride_kh,
                   stride_vb, stride_vt, stride_vh, stride_dob, stride_dot, stride_doh,
                   stride_dkb, stride_dkt, stride_dkh, stride_dvb, stride_dvt, stride_dvh,
                   stride_aqb, stride_aqt, stride_aqh,
                   HEAD_DIM: gl.constexpr, DEFAULT_BIAS: gl.constexpr, STORE_PADDED: gl.constexpr,
                   BLOCK_M: gl.constexpr, BLOCK_N: gl.constexpr, STAGES: gl.constexpr, DQ_TMA: gl.constexpr,
                   num_warps: gl.constexpr):
    gl.static_assert(num_warps == 4 * (BLOCK_N // 64), "a warpgroup a 64 keys of the block")
    pid = gl.program_id(0)
    key_blocks = gl.cdiv(rows_k, BLOCK_N)
    key_block = pid % key_blocks
    seq_head = pid // key_blocks
    seq = seq_head // heads_kv
    head = seq_head % heads_kv
    q_start, q_len, k_start, k_len = tk._sequence(SEQ, n_seqs, seq)
    rows_limit = k_len
    if STORE_PADDED:
        rows_limit = rows_k
    seq64, head64 = seq.to(gl.int64), head.to(gl.int64)
    n0 = key_block * BLOCK_N
    n_tiles = gl.where(n0 < k_len, gl.cdiv(q_len, BLOCK_M), 0)
    shift = key_block % gl.maximum(n_tiles, 1)
    y_scale, y_bias = gk._sigmoid_args(k_len, scale, bias_value, DEFAULT_BIAS)

    dtype: gl.constexpr = Q.dtype.element_ty
    layout: gl.constexpr = gk.SMEM_LAYOUT
    q_desc = gk._rows_descriptor(Q + seq64 * stride_qb + q_start * stride_qt + head64 * stride_qh, q_len,
                                 stride_qt, BLOCK_M, HEAD_DIM)
    do_desc = gk._rows_descriptor(DO + seq64 * stride_dob + q_start * stride_dot + head64 * stride_doh, q_len,
                                  stride_dot, BLOCK_M, HEAD_DIM)
    k_desc = gk._rows_descriptor(K + seq64 * stride_kb + k_start * stride_kt + head64 * stride_kh, k_len,
                                 stride_kt, BLOCK_N, HEAD_DIM)
    v_desc = gk._rows_descriptor(V + seq64 * stride_vb + k_start * stride_vt + head64 * stride_vh, k_len,
                                 stride_vt, BLOCK_N, HEAD_DIM)
    dqa_ptr = DQA + seq64 * stride_aqb + q_start * stride_aqt + head64 * stride_aqh
    dk_ptr = DK + seq64 * stride_dkb + k_start * stride_dkt + head64 * stride_dkh
    dv_ptr = DV + seq64 * stride_dvb + k_start * stride_dvt + head64 * stride_dvh

    k_smem = gl.allocate_shared_memory(dtype, [BLOCK_N, HEAD_DIM], layout)
    v_smem = gl.allocate_shared_memory(dtype, [BLOCK_N, HEAD_DIM], layout)
    q_bufs = gl.allocate_shared_memory(dtype, [STAGES, BLOCK_M, HEAD_DIM], layout)
    do_bufs = gl.allocate_shared_memory(dtype, [STAGES, BLOCK_M, HEAD_DIM], layout)
    ds_bufs = gl.allocate_shared_memory(dtype, [2, BLOCK_N, BLOCK_M], layout)
    if DQ_TMA:  # dQ's rows of the sequence (rows past q_len dropped by the reductions)
        dq_bufs = gl.allocate_shared_memory(gl.float32, [2, BLOCK_M, HEAD_DIM], DQ_SMEM_LAYOUT)
        dqa_desc = tma.make_tensor_descriptor(dqa_ptr, shape=[gl.maximum(q_len, 1), HEAD_DIM], strides=[stride_aqt, 1],
                                              block_shape=[BLOCK_M, HEAD_DIM], layout=DQ_SMEM_LAYOUT)
    else:  # unused without DQ_TMA (warp_specialize takes values, not None)
        dq_bufs = ds_bufs
        dqa_desc = q_desc
    kv_bar = gl.allocate_shared_memory(gl.int64, [1], mbarrier.MBarrierLayout())
    ready = gl.allocate_shared_memory(gl.int64, [STAGES, 1], mbarrier.MBarrierLayout())
    empty = gl.allocate_shared_memory(gl.int64, [STAGES, 1], mbarrier.MBarrierLayout())
    mbarrier.init(kv_bar, count=1)
    for i in gl.static_range(STAGES):
        mbarrier.init(ready.index(i), count=1)
        mbarrier.init(empty.index(i), count=1)
    bars = (kv_bar, ready, empty)

    gl.warp_specialize([
        (_compute, (k_smem, v_smem, q_bufs, do_bufs, ds_bufs, dq_bufs, dqa_desc, bars, n_tiles, shift, y_scale,
                    y_bias, scale, dqa_ptr, stride_aqt, q_len, dk_ptr, dv_ptr, stride_dkt, stride_dvt, n0, k_len,
                    rows_limit, BLOCK_M, BLOCK_N, HEAD_DIM, DQ_TMA, num_warps)),
        (_loader, (k_desc, v_desc, q_desc, do_desc, k_smem, v_smem, q_bufs, do_bufs, bars, n0, n_tiles, shift,
                   BLOCK_M)),
    ], [gk.LOADER_WARPS], [gk.LOADER_REGISTERS])


# ----------------------------------------------------------------------------------------------
# The persistent form (v1.14-v1.15, "bwd_wsbp"): one program an SM, looping over the (key block,
# sequence, head) items a counter hands out, dQ by TMA reductions
# ----------------------------------------------------------------------------------------------


@gluon.jit
def _item(item, SEQ, n_seqs, heads, rows_k, q_seq_rows, k_seq_rows, dq_seq_rows, BLOCK_M: gl.constexpr,
          BLOCK_N: gl.constexpr):
    """Where item number ``item`` (key block fastest, then head, then sequence: the programs running
    side by side read one head's Q and dO from L2) reads and writes: (sequence, head, first key row
    n0, the sequence's first row of Q / dO, of K / V and of dQ's accumulator in the descriptors'
    2-D views, its key start, q length, k length, query tiles, first tile)."""
    key_blocks = gl.cdiv(rows_k, BLOCK_N)
    key_block = item % key_blocks
    seq_head = item // key_blocks
    seq = seq_head // heads
    head = seq_head % heads
    q_start, q_len, k_start, k_len = tk._sequence(SEQ, n_seqs, seq)
    n0 = key_block * BLOCK_N
    n_tiles = gl.where(n0 < k_len, gl.cdiv(q_len, BLOCK_M), 0)
    shift = key_block % gl.maximum(n_tiles, 1)
    q_row0 = (seq * q_seq_rows + q_start).to(gl.int32)
    k_row0 = (seq * k_seq_rows + k_start).to(gl.int32)
    dq_row0 = (seq * dq_seq_rows + q_start).to(gl.int32)
    return seq, head, n0, q_row0, k_row0, dq_row0, k_start, q_len, k_len, n_tiles, shift


@gluon.jit
def _loader_persistent(q_desc, k_desc, v_desc, do_desc, k_smem, v_smem, q_bufs, do_bufs, bars, SEQ, SCHED, n_seqs,
                       heads, rows_k, q_seq_rows, k_seq_rows, n_items, BLOCK_M: gl.constexpr, BLOCK_N: gl.constexpr,
                       HEAD_DIM: gl.constexpr):
    """The TMA partition over the program's items, which it also picks: the program's number first,
    then the next of a counter all programs share (SCHED[0], one atomic add an item: whichever
    program is free takes the next item, as the hardware hands out a grid's programs), each
    posted to the compute partition through the program's two-slot mailbox (SCHED[1 + 2·pid + i %
    2], item_ready / item_empty), n_items at the end. For each: its K and V block once the compute
    partition is done reading its predecessor's (kv_empty: it loads them while the compute warps
    store the previous dK and dV), then its query tiles' Q and dO through the ring, numbered on
    from the previous item's (g: the ring's slot and phase)."""
    kv_bar, ready, empty, kv_empty, item_ready, item_empty = bars[0], bars[1], bars[2], bars[3], bars[4], bars[5]
    STAGES: gl.constexpr = q_bufs.type.shape[0]
    box = SCHED + 1 + 2 * gl.program_id(0)
    g = 0
    n_kv = 0
    i = 0
    item = gl.program_id(0)
    while item < n_items:
        gk._post_item(box, item_ready, item_empty, i, item)
        _, head, n0, q_row0, k_row0, _, _, _, _, n_tiles, shift = _item(
            item, SEQ, n_seqs, heads, rows_k, q_seq_rows, k_seq_rows, 0, BLOCK_M, BLOCK_N)
        if n_tiles > 0:
            mbarrier.wait(kv_empty, (n_kv & 1) ^ 1)  # a fresh barrier's "previous phase" is complete
            mbarrier.expect(kv_bar, k_desc.block_type.nbytes + v_desc.block_type.nbytes)
            tma.async_copy_global_to_shared(k_desc, [k_row0 + n0, head * HEAD_DIM], kv_bar, k_smem)
            tma.async_copy_global_to_shared(v_desc, [k_row0 + n0, head * HEAD_DIM], kv_bar, v_smem)
            for t in range(n_tiles):
                slot = (g + t) % STAGES
                mbarrier.wait(empty.index(slot), (((g + t) // STAGES) & 1) ^ 1)
                mbarrier.expect(ready.index(slot), q_desc.block_type.nbytes + do_desc.block_type.nbytes)
                m0 = q_row0 + _tile_row(t, shift, n_tiles, BLOCK_M)
                tma.async_copy_global_to_shared(q_desc, [m0, head * HEAD_DIM], ready.index(slot), q_bufs.index(slot))
                tma.async_copy_global_to_shared(do_desc, [m0, head * HEAD_DIM], ready.index(slot),
                                                do_bufs.index(slot))
            g += n_tiles
            n_kv += 1
        item = gk._claim_item(SCHED)
        i += 1
    gk._post_item(box, item_ready, item_empty, i, n_items)  # the end


@gluon.jit
def _compute_persistent(k_smem, v_smem, q_bufs, do_bufs, ds_bufs, dq_bufs, dqa_desc, bars, SEQ, SCHED, n_seqs, heads,
                        rows_k, q_seq_rows, k_seq_rows, dq_seq_rows, n_items, scale, bias_value, DK, DV,
                        stride_dkb, stride_dkt, stride_dkh, stride_dvb, stride_dvt, stride_dvh,
                        BLOCK_M: gl.constexpr, BLOCK_N: gl.constexpr, HEAD_DIM: gl.constexpr,
                        DEFAULT_BIAS: gl.constexpr, STORE_PADDED: gl.constexpr, num_warps: gl.constexpr):
    """_compute (DQ_TMA) looping over items. The descriptors span whole tensors, so a key block or a
    query tile that reaches past its sequence holds other rows there (the next sequence, padding,
    NaN): those rows are zeroed in shared memory before the tile's matmuls (gk._zero_rows_from),
    which makes every product the per-sequence kernel's (its descriptors read them as zeros). A
    tile's dQ reduction is issued after the next tile's barrier, across items too (its coordinates
    carried); kv_empty is arrived once the item's last matmuls are done, so the loader fetches the
    next K and V while dK and dV are stored."""
    kv_bar, ready, empty, kv_empty = bars[0], bars[1], bars[2], bars[3]
    STAGES: gl.constexpr = q_bufs.type.shape[0]
    acc_layout: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[num_warps, 1],
                                                         instr_shape=[16, HEAD_DIM, 16])
    g = 0
    n_kv = 0
    dq_row = 0  # tile g - 1's dQ rows and columns, whose reduction tile g issues
    dq_col = 0
    i = 0
    item = gk._take_item(SCHED, bars[4], bars[5], i)
    while item < n_items:
        seq, head, n0, _, _, dq_row0, k_start, q_len, k_len, n_tiles, shift = _item(
            item, SEQ, n_seqs, heads, rows_k, q_seq_rows, k_seq_rows, dq_seq_rows, BLOCK_M, BLOCK_N)
        y_scale, y_bias = gk._sigmoid_args(k_len, scale, bias_value, DEFAULT_BIAS)
        dk = gl.zeros([BLOCK_N, HEAD_DIM], gl.float32, acc_layout)
        dv = gl.zeros([BLOCK_N, HEAD_DIM], gl.float32, acc_layout)
        if n_tiles > 0:
            mbarrier.wait(kv_bar, n_kv & 1)
            if n0 + BLOCK_N > k_len:  # the sequence's last key block: its rows past k_len are not its keys
                gk._zero_rows_from(k_smem, k_len - n0, num_warps)
                gk._zero_rows_from(v_smem, k_len - n0, num_warps)
                fence_async_shared()
                gl.thread_barrier()
            for t in range(n_tiles):
                gt = g + t
                slot = gt % STAGES
                mbarrier.wait(ready.index(slot), (gt // STAGES) & 1)
                q_tile = q_bufs.index(slot)
                do_tile = do_bufs.index(slot)
                m0 = _tile_row(t, shift, n_tiles, BLOCK_M)
                if m0 + BLOCK_M > q_len:  # the sequence's last query tile
                    gk._zero_rows_from(q_tile, q_len - m0, num_warps)
                    gk._zero_rows_from(do_tile, q_len - m0, num_warps)
                    fence_async_shared()
                    gl.thread_barrier()
                dk, dv, ds_smem = _tile_scores(k_smem, v_smem, q_tile, do_tile, ds_bufs, gt % 2, dk, dv, y_scale,
                                               y_bias, True, num_warps)
                if gt > 0:  # tile gt - 1's dQ (this item's or the previous one's)
                    _tma_reduce_add(dqa_desc, [dq_row, dq_col], dq_bufs.index((gt - 1) % 2))
                dq, dk, dv = _tile_dq(ds_smem, k_smem, dk, dv, num_warps)
                dq_bufs.index(gt % 2).store(dq)
                fence_async_shared()
                mbarrier.arrive(empty.index(slot), count=1)
                mbarrier.arrive(kv_empty, count=1, pred=t == n_tiles - 1)  # K and V read for the last time
                dq_row = dq_row0 + m0
                dq_col = head * HEAD_DIM
            g += n_tiles
            n_kv += 1
        rows_limit = k_len
        if STORE_PADDED:
            rows_limit = rows_k
        seq64, head64 = seq.to(gl.int64), head.to(gl.int64)
        dk_ptr = DK + seq64 * stride_dkb + k_start * stride_dkt + head64 * stride_dkh
        dv_ptr = DV + seq64 * stride_dvb + k_start * stride_dvt + head64 * stride_dvh
        gk._store_rows(dk * scale, dk_ptr, stride_dkt, n0, k_len, rows_limit, HEAD_DIM)
        gk._store_rows(dv, dv_ptr, stride_dvt, n0, k_len, rows_limit, HEAD_DIM)
        i += 1
        item = gk._take_item(SCHED, bars[4], bars[5], i)
    if g > 0:  # the program's last tile's dQ; then every reduction has read its buffer before the end
        gl.thread_barrier()
        _tma_reduce_add(dqa_desc, [dq_row, dq_col], dq_bufs.index((g - 1) % 2))
    tma.store_wait(0)


@gluon.jit
def _ws_bwd_persistent_kernel(q_desc, k_desc, v_desc, do_desc, dqa_desc, DK, DV, SEQ, SCHED, n_seqs, heads, rows_k,
                              q_seq_rows, k_seq_rows, dq_seq_rows, n_items, scale, bias_value, seqlen_bucket,
                              stride_dkb, stride_dkt, stride_dkh, stride_dvb, stride_dvt, stride_dvh,
                              HEAD_DIM: gl.constexpr, DEFAULT_BIAS: gl.constexpr, STORE_PADDED: gl.constexpr,
                              BLOCK_M: gl.constexpr, BLOCK_N: gl.constexpr, STAGES: gl.constexpr,
                              num_warps: gl.constexpr):
    """_ws_bwd_kernel (DQ_TMA) over items, one program an SM (the launcher's grid): the loader fetches
    the next item's K, V and first tiles while the compute warps store this one's dK and dV, and
    no program ends between items (its set-up, its last reduction's wait). Descriptors made on the
    host over the tensors' 2-D views [rows, heads·head dim] (gk._view_2d)."""
    gl.static_assert(num_warps == 4 * (BLOCK_N // 64), "a warpgroup a 64 keys of the block")
    dtype: gl.constexpr = q_desc.dtype
    layout: gl.constexpr = q_desc.layout
    k_smem = gl.allocate_shared_memory(dtype, [BLOCK_N, HEAD_DIM], layout)
    v_smem = gl.allocate_shared_memory(dtype, [BLOCK_N, HEAD_DIM], layout)
    q_bufs = gl.allocate_shared_memory(dtype, [STAGES, BLOCK_M, HEAD_DIM], layout)
    do_bufs = gl.allocate_shared_memory(dtype, [STAGES, BLOCK_M, HEAD_DIM], layout)
    ds_bufs = gl.allocate_shared_memory(dtype, [2, BLOCK_N, BLOCK_M], layout)
    dq_bufs = gl.allocate_shared_memory(gl.float32, [2, BLOCK_M, HEAD_DIM], DQ_SMEM_LAYOUT)
    kv_bar = gl.allocate_shared_memory(gl.int64, [1], mbarrier.MBarrierLayout())
    kv_empty = gl.allocate_shared_memory(gl.int64, [1], mbarrier.MBarrierLayout())
    ready = gl.allocate_shared_memory(gl.int64, [STAGES, 1], mbarrier.MBarrierLayout())
    empty = gl.allocate_shared_memory(gl.int64, [STAGES, 1], mbarrier.MBarrierLayout())
    mbarrier.init(kv_bar, count=1)
    mbarrier.init(kv_empty, count=1)
    for i in gl.static_range(STAGES):
        mbarrier.init(ready.index(i), count=1)
        mbarrier.init(empty.index(i), count=1)
    item_ready, item_empty = gk._mailbox()
    bars = (kv_bar, ready, empty, kv_empty, item_ready, item_empty)

    gl.warp_specialize([
        (_compute_persistent, (k_smem, v_smem, q_bufs, do_bufs, ds_bufs, dq_bufs, dqa_desc, bars, SEQ, SCHED, n_seqs,
                               heads, rows_k, q_seq_rows, k_seq_rows, dq_seq_rows, n_items, scale, bias_value, DK, DV,
                               stride_dkb, stride_dkt, stride_dkh, stride_dvb, stride_dvt, stride_dvh, BLOCK_M,
                               BLOCK_N, HEAD_DIM, DEFAULT_BIAS, STORE_PADDED, num_warps)),
        (_loader_persistent, (q_desc, k_desc, v_desc, do_desc, k_smem, v_smem, q_bufs, do_bufs, bars, SEQ, SCHED,
                              n_seqs, heads, rows_k, q_seq_rows, k_seq_rows, n_items, BLOCK_M, BLOCK_N, HEAD_DIM)),
    ], [gk.LOADER_WARPS], [gk.LOADER_REGISTERS])


# ----------------------------------------------------------------------------------------------
# Launcher (called by sigattn.ops where triton_kernels.gluon_backward asks for it and blocker allows)
# ----------------------------------------------------------------------------------------------


def _zero_dq_accumulator(kwargs, reset_only=False):
    """The autotuner's hook before each config it times and before the launch after: the kernel adds
    into DQA (the persistent form: into its descriptor's tensor, and its item counter counts from 0),
    so it starts from zeros each time."""
    (kwargs["DQA"] if "DQA" in kwargs else kwargs["dqa_desc"].base).zero_()
    if "SCHED" in kwargs:
        gk.zero_schedule(kwargs)


_AUTOTUNED = {name: gk._autotuner(name, fn, key=["HEAD_DIM", "STORE_PADDED", "DEFAULT_BIAS", "seqlen_bucket"],
                                   pre_hook=_zero_dq_accumulator)
              for name, fn in ((KERNEL, _ws_bwd_kernel), (KERNEL_TMA, _ws_bwd_kernel),
                               (KERNEL_PERSISTENT, _ws_bwd_persistent_kernel))}


def blocker(q, k, v, do, score_mod, causal: bool, padded: bool, kernel: str = KERNEL) -> str:
    """Why a backward launch cannot take ``kernel`` (KERNEL, KERNEL_TMA or KERNEL_PERSISTENT; "" if it
    can): the Gluon forward's conditions (gluon_kernels.blocker), one query head a key/value head,
    and dO readable by descriptor (the persistent form asks more: persistent_blocker, launchable)."""
    why = gk.blocker(q, k, v, score_mod, causal, padded, kernel=kernel)
    if why:
        return why
    if q.shape[-2] != k.shape[-2]:
        return f"grouped-query attention ({q.shape[-2]} query heads, {k.shape[-2]} key/value heads)"
    return tk.tma_blocker((do,), padded)


def persistent_blocker(q, k, v, do, padded: bool) -> str:
    """Why the persistent form cannot read these tensors ("" if it can): the persistent forward's
    conditions (gluon_kernels.persistent_blocker, over this kernel's list), dO viewable as q is,
    starting its sequences every as many rows as q (one row origin for both)."""
    why = gk.persistent_blocker(q, k, v, padded, kernel=KERNEL_PERSISTENT) or gk.view_blocker({"do": do}, padded)
    if why:
        return why
    if gk._view_2d(q, padded)[2] != gk._view_2d(do, padded)[2]:
        return "q and do start their sequences every different number of rows"
    return ""


def launchable(kernel: str, q, k, v, do, score_mod, causal: bool, padded: bool) -> str | None:
    """The Gluon backward a launch asking for ``kernel`` takes, or None (the Triton kernels): None
    where blocker() says it cannot run; for KERNEL_PERSISTENT, KERNEL_TMA where only its
    descriptors' views are refused (persistent_blocker), as the forward's persistent form does."""
    if blocker(q, k, v, do, score_mod, causal, padded, kernel=kernel):
        return None
    if kernel == KERNEL_PERSISTENT and persistent_blocker(q, k, v, do, padded):
        return KERNEL_TMA
    return kernel


def backward(do, q, k, v, seq_table, *, scale, bias, padded, rows_k, dq, dk, dv, kernel: str = KERNEL):
    """triton_kernels.backward's contract (not causal, no score_mod, no GQA): fill dq, dk, dv. dQ
    is added into an fp32 buffer of q's shape (zeros, so rows no key reaches stay 0), scaled and
    cast into dq after the kernel; ``kernel``: KERNEL (dQ by ``red``), KERNEL_TMA (by TMA reductions)
    or KERNEL_PERSISTENT (its persistent form, where persistent_blocker allows)."""
    n_seqs, heads = seq_table.shape[1], k.shape[-2]
    if n_seqs == 0 or heads == 0:
        return dq, dk, dv
    dq_acc = torch.zeros(q.shape, dtype=torch.float32, device=q.device)
    if rows_k > 0 and kernel == KERNEL_PERSISTENT:
        descs, seq_rows = _descriptors(q, k, v, do, dq_acc, padded)
        n_items = triton.cdiv(rows_k, descs[1].block_shape[0]) * n_seqs * heads
        programs = min(n_items, gk._sm_count(q.device))
        args = (*descs, dk, dv, seq_table, gk.schedule(programs, q.device), n_seqs, heads, rows_k, *seq_rows, n_items, scale,
                0.0 if bias is None else float(bias), tuned.bucket(rows_k),
                *tk._strides(dk, padded)[:3], *tk._strides(dv, padded)[:3])
        flags = dict(HEAD_DIM=q.shape[-1], DEFAULT_BIAS=bias is None, STORE_PADDED=padded)
        tk._launch("backward_dkdv", kernel, _AUTOTUNED[kernel], (programs,), args, flags, q, False, rows_k,
                   descriptors=False, block_kwargs=gk._block_kwargs)
    elif rows_k > 0:
        strides = [st for t in (q, k, v, do, dk, dv, dq_acc) for st in tk._strides(t, padded)[:3]]
        args = (q, k, v, do, dk, dv, dq_acc, seq_table, n_seqs, heads, rows_k, scale,
                0.0 if bias is None else float(bias), tuned.bucket(rows_k), *strides)
        flags = dict(HEAD_DIM=q.shape[-1], DEFAULT_BIAS=bias is None, STORE_PADDED=padded, DQ_TMA=kernel == KERNEL_TMA)
        grid = lambda meta: (triton.cdiv(rows_k, meta["BLOCK_N"]) * n_seqs * heads,)  # noqa: E731
        tk._launch("backward_dkdv", kernel, _AUTOTUNED[kernel], grid, args, flags, q, False, rows_k, descriptors=True,
                   block_kwargs=gk._block_kwargs)
    tk.LAST_LAUNCH.pop("backward_dq", None)
    tk.LAST_CONFIG.pop("backward_dq", None)
    tk.dq_from_accumulator(dq, dq_acc, scale)
    return dq, dk, dv


def _descriptors(q, k, v, do, dq_acc, padded: bool):
    """The persistent form's host-made descriptors of q, k, v, dO (16-bit, gk.SMEM_LAYOUT) and dQ's
    fp32 accumulator (DQ_SMEM_LAYOUT) over their 2-D views (gk._view_2d; block shapes: its list's
    BLOCK_M for q, dO and dQ, BLOCK_N for k and v, one for every entry: persistent_blocker), and the
    rows a sequence of q (and dO), of k / v and of the accumulator."""
    block_m, block_n = tk.TUNE_TABLE[KERNEL_PERSISTENT][q.shape[-1]][0][:2]
    made = [gk.view_descriptor(t, padded, block) for t, block in ((q, block_m), (k, block_n), (v, block_n), (do, block_m))]
    made.append(gk.view_descriptor(dq_acc, padded, block_m, DQ_SMEM_LAYOUT))
    return [d for d, _ in made], (made[0][1], made[1][1], made[4][1])
