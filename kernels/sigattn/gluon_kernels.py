"""The forward kernel again, warp-specialised for Hopper (sm_90) in Gluon, Triton's lower-level
language: the FlashAttention-3 layout that Triton's own compiler cannot produce on sm_90 (kernels/PERF.md
"Session 20": the forward's limit there is the issue rate of one program of identical warps).

One program a (query row block, sequence, head), as the Triton forward; inside it two partitions:
- the loader, one warp with 24 registers: TMA copies of the Q block, then of each K and V tile
  into a ring of STAGES shared-memory slots, each slot guarded by a "ready" and an "empty"
  mbarrier (K and V apart, so Q·Kᵀ can start before V lands and K's slot is free again as soon
  as its Q·Kᵀ is done: the loader's lead; kernels/PERF.md "Session 25" measured sharing them);
- the compute partition (num_warps warps, the registers the loader leaves): per key tile, the
  next tile's S = Q·Kᵀ is issued on the tensor cores (wgmma, asynchronous) before this tile's
  sigmoid runs, and P·V after it, so the sigmoid's instructions overlap a matmul in flight.
Sigmoid attention needs no running max or rescale, so nothing else sits between the matmuls.

The K/V descriptors cover exactly the sequence's keys: rows past k_len load as zeros, so the last
(partial) tile's P·V adds nothing for them and no tile needs a mask. Query rows past q_len are
zeroed before the store (the bias alone makes their P non-zero).

The persistent form ("fwd_wsp", SIGATTN_WS=persistent): one program an SM looping over the
(row block, sequence, head) items, handed out by a counter all programs share (v1.16; v1.6 by
stride, which balances ragged lengths worse: kernels/PERF.md "Session 36"), over host-made
descriptors; its scheduling helpers (_mailbox, _post_item, _claim_item, _take_item) serve the
backward's persistent form too.

Scope: bf16/fp16, the padded and packed layouts, GQA, a default or given bias; not causal, no
score_mod (`blocker` names what sends a launch back to the Triton kernel). The forward only (the
backward in Gluon: gluon_backward). Gluon has no CPU interpreter: the CPU tests compile it for
sm_90 (`sigattn.resources`), the GPU tests run it against the reference.
"""

from __future__ import annotations

import torch
import triton
from triton.experimental import gluon
from triton.experimental.gluon import language as gl
from triton.experimental.gluon.language.nvidia.hopper import (
    fence_async_shared,
    mbarrier,
    tma,
    warpgroup_mma,
    warpgroup_mma_init,
    warpgroup_mma_wait,
)

from . import triton_kernels as tk
from . import tuned

#: y = -log2(e)·x: the ex2 sigmoids' argument (as the Triton kernel's _sigmoid_args).
_NEG_LOG2E = gl.constexpr(-1.4426950408889634)

#: The loader's warps and registers; the compute partition gets what the CTA-wide budget leaves
#: (the loader's warp is rounded to a warpgroup): MAX_REGISTERS by compute warps, so that 8 compute
#: warps fill an SM's register file alone (one CTA an SM of 12 warps: 168 a thread over the CTA is
#: 240 for the compute warps and 24 for the loader) and 4 leave room for two CTAs an SM (8 warps
#: each: 128 over the CTA, 232 for the compute warps; session 22).
LOADER_WARPS, LOADER_REGISTERS = gl.constexpr(1), gl.constexpr(24)
#: The shared-memory layout of every tile (Q, K, V: 16-bit rows, 128-byte swizzle), in the kernels
#: and in the persistent form's host-made descriptors.
SMEM_LAYOUT = gl.constexpr(gl.NVMMASharedLayout(swizzle_byte_width=128, element_bitwidth=16, rank=2))
MAX_REGISTERS = {8: 168, 4: 128}


@gluon.jit
def _sigmoid_ex2(y, SIGMOID: gl.constexpr):
    """sigmoid from y = -log2(e)·x: "bf16x2" (two scores an instruction at bf16 precision, the
    Triton forward's default; its PTX is triton_kernels.BF16X2_SIGMOID_PTX) or "fast" (ex2 and
    rcp on the special-function unit)."""
    if SIGMOID == "bf16x2":
        p = gl.inline_asm_elementwise(tk.BF16X2_SIGMOID_PTX, "=r,r,r", [y], dtype=gl.bfloat16, is_pure=True, pack=2)
        return p.to(gl.float32)
    else:
        d = 1.0 + gl.exp2(y)
        return gl.inline_asm_elementwise("rcp.approx.ftz.f32 $0, $1;", "=f,f", [d], dtype=gl.float32,
                                         is_pure=True, pack=1)


@gluon.jit
def _loader(q_desc, k_desc, v_desc, q_smem, k_bufs, v_bufs, bars, m0, n_tiles, BLOCK_N: gl.constexpr):
    """The TMA partition: the Q block once, then K and V tile j into slot j % STAGES once the
    compute partition has released the slot's previous tile (_load_kv)."""
    q_bar = bars[0]
    if n_tiles > 0:
        mbarrier.expect(q_bar, q_desc.block_type.nbytes)
        tma.async_copy_global_to_shared(q_desc, [m0, 0], q_bar, q_smem)
    for j in range(n_tiles):
        _load_kv(k_desc, v_desc, k_bufs, v_bufs, bars, j, j * BLOCK_N, 0)


@gluon.jit
def _load_kv(k_desc, v_desc, k_bufs, v_bufs, bars, g, row, col):
    """K and V tile number g of the ring (rows from ``row``, columns from ``col`` of the
    descriptors) into slot g % STAGES, each once the compute partition has released the slot's
    previous one (a fresh barrier's "previous phase" counts as complete)."""
    k_ready, k_empty, v_ready, v_empty = bars[1], bars[2], bars[3], bars[4]
    STAGES: gl.constexpr = k_bufs.type.shape[0]
    slot = g % STAGES
    phase = (g // STAGES) & 1
    mbarrier.wait(k_empty.index(slot), phase ^ 1)
    mbarrier.expect(k_ready.index(slot), k_desc.block_type.nbytes)
    tma.async_copy_global_to_shared(k_desc, [row, col], k_ready.index(slot), k_bufs.index(slot))
    mbarrier.wait(v_empty.index(slot), phase ^ 1)
    mbarrier.expect(v_ready.index(slot), v_desc.block_type.nbytes)
    tma.async_copy_global_to_shared(v_desc, [row, col], v_ready.index(slot), v_bufs.index(slot))


@gluon.jit
def _issue_scores(q_smem, k_bufs, k_ready, j, s_regs):
    """S_j = Q·K_jᵀ issued on the tensor cores once K_j has landed (not waited for), into the
    registers of s_regs (their values unused)."""
    STAGES: gl.constexpr = k_bufs.type.shape[0]
    slot = j % STAGES
    mbarrier.wait(k_ready.index(slot), (j // STAGES) & 1)
    return warpgroup_mma(q_smem, k_bufs.index(slot).permute((1, 0)), s_regs, use_acc=False, is_async=True)


@gluon.jit
def _zero_rows_from(tile, first, num_warps: gl.constexpr):
    """Rows ``first`` ... of a [rows, HEAD_DIM] shared-memory tile set to zero by the calling
    partition's warps (rows a descriptor over a whole tensor read past a sequence: padding, NaN,
    the next sequence); the caller fences and synchronises before a matmul reads the tile."""
    HEAD_DIM: gl.constexpr = tile.type.shape[1]
    layout: gl.constexpr = gl.BlockedLayout(size_per_thread=[1, 8], threads_per_warp=[256 // HEAD_DIM, HEAD_DIM // 8],
                                            warps_per_cta=[num_warps, 1], order=[1, 0])
    rows = gl.arange(0, tile.type.shape[0], layout=gl.SliceLayout(1, layout))
    tile.store(gl.where((rows < first)[:, None], tile.load(layout), 0.0).to(tile.dtype))


@gluon.jit
def _issue_pv(s, acc, v_bufs, bars, g, y_scale, y_bias, rem, p_layout: gl.constexpr, SIGMOID: gl.constexpr,
              MASK: gl.constexpr, num_warps: gl.constexpr):
    """S of tile g is done: release K's slot, P = sigmoid(S), and issue O += P·V once V has landed
    (chained on the accumulator's matmul in flight). MASK (the last tile of a descriptor that
    does not end at the sequence's last key): the keys from ``rem`` on are not the sequence's,
    so their P is 0 and their V rows, which may hold anything (padding, NaN, the next
    sequence), are zeroed in shared memory first (0 · NaN is NaN)."""
    k_empty, v_ready = bars[2], bars[3]
    STAGES: gl.constexpr = v_bufs.type.shape[0]
    BLOCK_N: gl.constexpr = v_bufs.type.shape[1]
    slot = g % STAGES
    mbarrier.arrive(k_empty.index(slot), count=1)
    p = _sigmoid_ex2(s * y_scale + y_bias, SIGMOID)
    if MASK:
        cols = gl.arange(0, BLOCK_N, layout=gl.SliceLayout(0, s.type.layout))
        p = gl.where((cols < rem)[None, :], p, 0.0)
    p = gl.convert_layout(p.to(v_bufs.dtype), p_layout)
    mbarrier.wait(v_ready.index(slot), (g // STAGES) & 1)
    if MASK:
        if rem < BLOCK_N:
            _zero_rows_from(v_bufs.index(slot), rem, num_warps)
            fence_async_shared()
            gl.thread_barrier()
    return warpgroup_mma(p, v_bufs.index(slot), acc, is_async=True)


@gluon.jit
def _wait_scores(s, v_empty, g, release):
    """Wait for the S issued after P·V of tile g - 1 and before P·V of tile g (left in flight):
    V's slot of tile g - 1 is free then (``release``: tile g - 1 is this row block's)."""
    STAGES: gl.constexpr = v_empty.type.shape[0]
    s = warpgroup_mma_wait(num_outstanding=1, deps=(s,))
    mbarrier.arrive(v_empty.index((g + STAGES - 1) % STAGES), count=1, pred=release)
    return s


@gluon.jit
def _attend(q_smem, k_bufs, v_bufs, bars, t, n_tiles, y_scale, y_bias, k_len, BLOCK_M: gl.constexpr,
            BLOCK_N: gl.constexpr, HEAD_DIM: gl.constexpr, SIGMOID: gl.constexpr, MASK_LAST: gl.constexpr,
            num_warps: gl.constexpr):
    """O of one row block over its n_tiles >= 1 key tiles (the ring's tiles t ... t + n_tiles - 1; Q
    landed), its last P·V left in flight: S_{j+1} = Q·K_{j+1}ᵀ issued before P_j = sigmoid(S_j),
    then O += P_j·V_j; each K slot released once the matmul reading it is done, each V slot but
    the last two tiles'. MASK_LAST: the last tile's keys from k_len on are masked (_issue_pv)."""
    k_ready, v_empty = bars[1], bars[4]
    s_layout: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[num_warps, 1],
                                                       instr_shape=[16, BLOCK_N, 16])
    o_layout: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[num_warps, 1],
                                                       instr_shape=[16, HEAD_DIM, 16])
    p_layout: gl.constexpr = gl.DotOperandLayout(operand_index=0, parent=o_layout, k_width=2)
    # At the top of each step S_j is done and P_{j-1}·V_{j-1} in flight; S_{j+1} is issued, then
    # P_j·V_j, then S_{j+1} waited for (P_j·V_j left running). Two tiles a loop iteration, their
    # scores in s_a and s_b, each new S written over its own consumed predecessor: ptxas
    # serialises every wgmma of the kernel (C7514 / C7515) when other instructions copy or
    # define an accumulator's registers while a wgmma is in flight, which a loop-carried S (a
    # copy) or a fresh zero accumulator a tile would do. S_0 is waited for before the loop
    # for the same reason (the loop's initial values are set after it). The last tile is always
    # in the tail after the loop (the only one MASK_LAST masks).
    s_a = _issue_scores(q_smem, k_bufs, k_ready, t, gl.zeros([BLOCK_M, BLOCK_N], gl.float32, s_layout))
    s_a = warpgroup_mma_wait(num_outstanding=0, deps=(s_a,))
    s_b = gl.full([BLOCK_M, BLOCK_N], 1.0, gl.float32, s_layout)  # not zeros: a register set of its own
    acc = warpgroup_mma_init(gl.zeros([BLOCK_M, HEAD_DIM], gl.float32, o_layout))
    pairs = (n_tiles - 1) // 2
    for i in range(pairs):
        j = 2 * i
        g = t + j
        s_b = _issue_scores(q_smem, k_bufs, k_ready, g + 1, s_b)
        acc = _issue_pv(s_a, acc, v_bufs, bars, g, y_scale, y_bias, 0, p_layout, SIGMOID, False, num_warps)
        s_b = _wait_scores(s_b, v_empty, g, j > 0)
        s_a = _issue_scores(q_smem, k_bufs, k_ready, g + 2, s_a)
        acc = _issue_pv(s_b, acc, v_bufs, bars, g + 1, y_scale, y_bias, 0, p_layout, SIGMOID, False, num_warps)
        s_a = _wait_scores(s_a, v_empty, g + 1, True)
    j = 2 * pairs
    g = t + j
    if j + 1 < n_tiles:
        s_next = _issue_scores(q_smem, k_bufs, k_ready, g + 1, s_b)
        acc = _issue_pv(s_a, acc, v_bufs, bars, g, y_scale, y_bias, 0, p_layout, SIGMOID, False, num_warps)
        s_next = _wait_scores(s_next, v_empty, g, j > 0)
        acc = _issue_pv(s_next, acc, v_bufs, bars, g + 1, y_scale, y_bias, k_len - (j + 1) * BLOCK_N, p_layout,
                        SIGMOID, MASK_LAST, num_warps)
    else:
        acc = _issue_pv(s_a, acc, v_bufs, bars, g, y_scale, y_bias, k_len - j * BLOCK_N, p_layout, SIGMOID,
                        MASK_LAST, num_warps)
    return acc


@gluon.jit
def _store_rows(acc, o_ptr, stride_ot, m0, q_len, rows_limit, HEAD_DIM: gl.constexpr):
    """O's rows m0 ... of one row block: those past q_len as zeros (q = 0 there, but bias ≠ 0),
    none past rows_limit (the Gluon backward stores its dK and dV blocks so, keys for rows)."""
    o_layout: gl.constexpr = acc.type.layout
    offs_m = m0 + gl.arange(0, acc.type.shape[0], layout=gl.SliceLayout(1, o_layout))
    offs_d = gl.arange(0, HEAD_DIM, layout=gl.SliceLayout(0, o_layout))
    acc = gl.where((offs_m < q_len)[:, None], acc, 0.0)
    gl.store(o_ptr + offs_m[:, None] * stride_ot + offs_d[None, :], acc.to(o_ptr.dtype.element_ty),
             mask=(offs_m < rows_limit)[:, None])


@gluon.jit
def _compute(q_smem, k_bufs, v_bufs, bars, n_tiles, y_scale, y_bias, o_ptr, stride_ot, m0, q_len, rows_limit,
             BLOCK_M: gl.constexpr, BLOCK_N: gl.constexpr, HEAD_DIM: gl.constexpr, SIGMOID: gl.constexpr,
             num_warps: gl.constexpr):
    """The default partition: O of the program's row block (_attend), stored."""
    o_layout: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[num_warps, 1],
                                                       instr_shape=[16, HEAD_DIM, 16])
    acc = gl.zeros([BLOCK_M, HEAD_DIM], gl.float32, o_layout)
    if n_tiles > 0:
        mbarrier.wait(bars[0], 0)
        acc = _attend(q_smem, k_bufs, v_bufs, bars, 0, n_tiles, y_scale, y_bias, 0, BLOCK_M, BLOCK_N, HEAD_DIM,
                      SIGMOID, False, num_warps)
        acc = warpgroup_mma_wait(num_outstanding=0, deps=(acc,))
    _store_rows(acc, o_ptr, stride_ot, m0, q_len, rows_limit, HEAD_DIM)


@gluon.jit
def _allocate(dtype: gl.constexpr, layout: gl.constexpr, BLOCK_M: gl.constexpr, BLOCK_N: gl.constexpr,
              HEAD_DIM: gl.constexpr, STAGES: gl.constexpr):
    """Shared memory of a program: the Q block, the K and V rings, and the barriers (q_bar, k_ready,
    k_empty, v_ready, v_empty, q_empty: each slot's ready and empty, Q's landed and, for the
    persistent form, free again), initialised."""
    q_smem = gl.allocate_shared_memory(dtype, [BLOCK_M, HEAD_DIM], layout)
    k_bufs = gl.allocate_shared_memory(dtype, [STAGES, BLOCK_N, HEAD_DIM], layout)
    v_bufs = gl.allocate_shared_memory(dtype, [STAGES, BLOCK_N, HEAD_DIM], layout)
    q_bar = gl.allocate_shared_memory(gl.int64, [1], mbarrier.MBarrierLayout())
    q_empty = gl.allocate_shared_memory(gl.int64, [1], mbarrier.MBarrierLayout())
    k_ready = gl.allocate_shared_memory(gl.int64, [STAGES, 1], mbarrier.MBarrierLayout())
    k_empty = gl.allocate_shared_memory(gl.int64, [STAGES, 1], mbarrier.MBarrierLayout())
    v_ready = gl.allocate_shared_memory(gl.int64, [STAGES, 1], mbarrier.MBarrierLayout())
    v_empty = gl.allocate_shared_memory(gl.int64, [STAGES, 1], mbarrier.MBarrierLayout())
    mbarrier.init(q_bar, count=1)
    mbarrier.init(q_empty, count=1)
    for i in gl.static_range(STAGES):
        mbarrier.init(k_ready.index(i), count=1)
        mbarrier.init(k_empty.index(i), count=1)
        mbarrier.init(v_ready.index(i), count=1)
        mbarrier.init(v_empty.index(i), count=1)
    return q_smem, k_bufs, v_bufs, (q_bar, k_ready, k_empty, v_ready, v_empty, q_empty)


@gluon.jit
def _sigmoid_args(k_len, scale, bias_value, DEFAULT_BIAS: gl.constexpr):
    """(y_scale, y_bias): the ex2 sigmoids' argument y = S·y_scale + y_bias (_sigmoid_ex2), the bias
    -log(k_len) by default."""
    if DEFAULT_BIAS:
        bias = -gl.log(gl.maximum(k_len, 1).to(gl.float32))
    else:
        bias = bias_value
    return scale * _NEG_LOG2E, bias * _NEG_LOG2E


@gluon.jit
def _rows_descriptor(base, n_rows, stride_t, BLOCK: gl.constexpr, HEAD_DIM: gl.constexpr):
    """A TMA descriptor over the n_rows rows of one (sequence, head) from ``base`` (rows past them
    load as zeros), BLOCK rows a copy."""
    return tma.make_tensor_descriptor(base, shape=[gl.maximum(n_rows, 1), HEAD_DIM], strides=[stride_t, 1],
                                      block_shape=[BLOCK, HEAD_DIM], layout=SMEM_LAYOUT)


@gluon.jit
def _ws_fwd_kernel(Q, K, V, Out, SEQ, n_seqs, heads_q, group, rows_q, scale, bias_value, seqlen_bucket,
                   stride_qb, stride_qt, stride_qh, stride_kb, stride_kt, stride_kh,
                   stride_vb, stride_vt, stride_vh, stride_ob, stride_ot, stride_oh,
                   HEAD_DIM: gl.constexpr, DEFAULT_BIAS: gl.constexpr, STORE_PADDED: gl.constexpr,
                   SIGMOID: gl.constexpr, BLOCK_M: gl.constexpr, BLOCK_N: gl.constexpr, STAGES: gl.constexpr,
                   num_warps: gl.constexpr):
    pid = gl.program_id(0)
    row_blocks = gl.cdiv(rows_q, BLOCK_M)
    row_block = pid % row_blocks
    seq_head = pid // row_blocks
    seq = seq_head // heads_q
    head = seq_head % heads_q
    q_start, q_len, k_start, k_len = tk._sequence(SEQ, n_seqs, seq)
    rows_limit = q_len
    if STORE_PADDED:
        rows_limit = rows_q
    seq64, head64, kv_head64 = seq.to(gl.int64), head.to(gl.int64), (head // group).to(gl.int64)
    m0 = row_block * BLOCK_M
    n_tiles = gl.where(m0 < q_len, gl.cdiv(k_len, BLOCK_N), 0)
    y_scale, y_bias = _sigmoid_args(k_len, scale, bias_value, DEFAULT_BIAS)

    dtype: gl.constexpr = Q.dtype.element_ty
    q_desc = _rows_descriptor(Q + seq64 * stride_qb + q_start * stride_qt + head64 * stride_qh, q_len, stride_qt,
                              BLOCK_M, HEAD_DIM)
    k_desc = _rows_descriptor(K + seq64 * stride_kb + k_start * stride_kt + kv_head64 * stride_kh, k_len, stride_kt,
                              BLOCK_N, HEAD_DIM)
    v_desc = _rows_descriptor(V + seq64 * stride_vb + k_start * stride_vt + kv_head64 * stride_vh, k_len, stride_vt,
                              BLOCK_N, HEAD_DIM)
    o_ptr = Out + seq64 * stride_ob + q_start * stride_ot + head64 * stride_oh

    q_smem, k_bufs, v_bufs, bars = _allocate(dtype, SMEM_LAYOUT, BLOCK_M, BLOCK_N, HEAD_DIM, STAGES)

    gl.warp_specialize([
        (_compute, (q_smem, k_bufs, v_bufs, bars, n_tiles, y_scale, y_bias, o_ptr, stride_ot, m0, q_len, rows_limit,
                    BLOCK_M, BLOCK_N, HEAD_DIM, SIGMOID, num_warps)),
        (_loader, (q_desc, k_desc, v_desc, q_smem, k_bufs, v_bufs, bars, m0, n_tiles, BLOCK_N)),
    ], [LOADER_WARPS], [LOADER_REGISTERS])


# ----------------------------------------------------------------------------------------------
# The persistent form: one program an SM, looping over the (row block, sequence, head) items
# ----------------------------------------------------------------------------------------------


@gluon.jit
def _mailbox():
    """The barriers of a program's two-slot item mailbox (item_ready, item_empty), initialised: the
    persistent kernels' loader picks the items and posts them to the compute partition (_post_item,
    _take_item)."""
    item_ready = gl.allocate_shared_memory(gl.int64, [2, 1], mbarrier.MBarrierLayout())
    item_empty = gl.allocate_shared_memory(gl.int64, [2, 1], mbarrier.MBarrierLayout())
    for i in gl.static_range(2):
        mbarrier.init(item_ready.index(i), count=1)
        mbarrier.init(item_empty.index(i), count=1)
    return item_ready, item_empty


@gluon.jit
def _post_item(box, item_ready, item_empty, i, item):
    """The loader's i-th item (or the item count: the end) into slot i % 2 of the program's mailbox
    (box: SCHED + 1 + 2·pid), once the compute partition has taken what the slot held before."""
    mbarrier.wait(item_empty.index(i % 2), ((i // 2) & 1) ^ 1)  # a fresh barrier's "previous phase" is complete
    gl.store(box + i % 2, item)
    mbarrier.arrive(item_ready.index(i % 2), count=1)


@gluon.jit
def _claim_item(SCHED):
    """The next item of the counter all programs share (SCHED[0]; the first grid-size items are the
    programs' own numbers): whichever program is free takes the next item, as the hardware hands
    out a grid's programs."""
    return gl.num_programs(0) + gl.atomic_add(SCHED, 1, sem="relaxed")  # a count, ordering nothing


@gluon.jit
def _take_item(SCHED, item_ready, item_empty, i):
    """The compute partition's i-th item, as the loader posted it (its store ordered before the wait
    by the barrier's release / acquire); the slot released at once."""
    mbarrier.wait(item_ready.index(i % 2), (i // 2) & 1)
    item = gl.load(SCHED + 1 + 2 * gl.program_id(0) + i % 2, volatile=True)
    mbarrier.arrive(item_empty.index(i % 2), count=1)
    return item


@gluon.jit
def _item(item, SEQ, n_seqs, heads_q, group, rows_q, q_seq_rows, k_seq_rows, BLOCK_M: gl.constexpr,
          BLOCK_N: gl.constexpr):
    """Where item number ``item`` (row block fastest, then head, then sequence: the programs
    running side by side share a head's K/V in L2) reads and writes: (sequence, head, K/V head,
    first query row m0, the sequence's first row of Q and of K/V in the descriptors' 2-D views,
    its q start, q length, k length, key tiles)."""
    row_blocks = gl.cdiv(rows_q, BLOCK_M)
    seq_head = item // row_blocks
    seq = seq_head // heads_q
    head = seq_head % heads_q
    q_start = gl.load(SEQ + seq)
    q_len = gl.load(SEQ + n_seqs + seq)
    k_len = gl.load(SEQ + 3 * n_seqs + seq)
    m0 = (item % row_blocks) * BLOCK_M
    q_row0 = seq * q_seq_rows + q_start
    k_row0 = seq * k_seq_rows + gl.load(SEQ + 2 * n_seqs + seq)
    n_tiles = gl.where(m0 < q_len, gl.cdiv(k_len, BLOCK_N), 0)
    return seq, head, head // group, m0, q_row0, k_row0, q_start, q_len, k_len, n_tiles


@gluon.jit
def _loader_persistent(q_desc, k_desc, v_desc, q_smem, k_bufs, v_bufs, bars, SEQ, SCHED, n_seqs, heads_q, group,
                       rows_q, q_seq_rows, k_seq_rows, n_items, BLOCK_M: gl.constexpr, BLOCK_N: gl.constexpr,
                       HEAD_DIM: gl.constexpr):
    """The TMA partition over the program's items, which it also picks (v1.16): the program's number
    first, then the next of the counter all programs share (_claim_item, after the item's loads are
    issued), each posted to the compute partition (_post_item), n_items at the end. For each: its Q
    block once its predecessor's last Q·Kᵀ is done (q_empty), then its K and V tiles through the
    ring, numbered on from the previous item's (t: the ring's slot and phase)."""
    q_bar, q_empty, item_ready, item_empty = bars[0], bars[5], bars[6], bars[7]
    box = SCHED + 1 + 2 * gl.program_id(0)
    t = 0
    n_q = 0
    i = 0
    item = gl.program_id(0)
    while item < n_items:
        _post_item(box, item_ready, item_empty, i, item)
        _, head, kv_head, m0, q_row0, k_row0, _, _, _, n_tiles = _item(
            item, SEQ, n_seqs, heads_q, group, rows_q, q_seq_rows, k_seq_rows, BLOCK_M, BLOCK_N)
        if n_tiles > 0:
            mbarrier.wait(q_empty, (n_q & 1) ^ 1)  # a fresh barrier's "previous phase" is complete
            mbarrier.expect(q_bar, q_desc.block_type.nbytes)
            tma.async_copy_global_to_shared(q_desc, [q_row0 + m0, head * HEAD_DIM], q_bar, q_smem)
            for j in range(n_tiles):
                _load_kv(k_desc, v_desc, k_bufs, v_bufs, bars, t + j, k_row0 + j * BLOCK_N, kv_head * HEAD_DIM)
            t += n_tiles
            n_q += 1
        item = _claim_item(SCHED)
        i += 1
    _post_item(box, item_ready, item_empty, i, n_items)  # the end


@gluon.jit
def _compute_persistent(q_smem, k_bufs, v_bufs, bars, SEQ, SCHED, n_seqs, heads_q, group, rows_q, q_seq_rows,
                        k_seq_rows, n_items, scale, bias_value, Out, stride_ob, stride_ot, stride_oh,
                        BLOCK_M: gl.constexpr, BLOCK_N: gl.constexpr, HEAD_DIM: gl.constexpr,
                        DEFAULT_BIAS: gl.constexpr, STORE_PADDED: gl.constexpr, SIGMOID: gl.constexpr,
                        num_warps: gl.constexpr):
    """The compute partition over the items the loader posts (_take_item): _attend with the last
    tile masked (the descriptors span the whole tensor), Q's buffer released to the loader as soon
    as the item's last Q·Kᵀ is done (it loads the next item's Q while this one's last P·V runs and
    O is stored), the last two V slots once the last P·V is done; O stored."""
    q_bar, v_empty, q_empty, item_ready, item_empty = bars[0], bars[4], bars[5], bars[6], bars[7]
    STAGES: gl.constexpr = v_bufs.type.shape[0]
    o_layout: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[num_warps, 1],
                                                       instr_shape=[16, HEAD_DIM, 16])
    y_scale = scale * _NEG_LOG2E
    t = 0
    n_q = 0
    i = 0
    item = _take_item(SCHED, item_ready, item_empty, i)
    while item < n_items:
        seq, head, _, m0, _, _, q_start, q_len, k_len, n_tiles = _item(
            item, SEQ, n_seqs, heads_q, group, rows_q, q_seq_rows, k_seq_rows, BLOCK_M, BLOCK_N)
        if DEFAULT_BIAS:
            bias = -gl.log(gl.maximum(k_len, 1).to(gl.float32))
        else:
            bias = bias_value
        acc = gl.zeros([BLOCK_M, HEAD_DIM], gl.float32, o_layout)
        if n_tiles > 0:
            mbarrier.wait(q_bar, n_q & 1)
            acc = _attend(q_smem, k_bufs, v_bufs, bars, t, n_tiles, y_scale, bias * _NEG_LOG2E, k_len, BLOCK_M,
                          BLOCK_N, HEAD_DIM, SIGMOID, True, num_warps)
            mbarrier.arrive(q_empty, count=1)  # every Q·Kᵀ of the item is done: only P·V is in flight
            acc = warpgroup_mma_wait(num_outstanding=0, deps=(acc,))
            last = t + n_tiles - 1
            mbarrier.arrive(v_empty.index(last % STAGES), count=1)
            mbarrier.arrive(v_empty.index((last + STAGES - 1) % STAGES), count=1, pred=n_tiles > 1)
            t += n_tiles
            n_q += 1
        rows_limit = q_len
        if STORE_PADDED:
            rows_limit = rows_q
        o_ptr = Out + seq.to(gl.int64) * stride_ob + q_start.to(gl.int64) * stride_ot + head.to(gl.int64) * stride_oh
        _store_rows(acc, o_ptr, stride_ot, m0, q_len, rows_limit, HEAD_DIM)
        i += 1
        item = _take_item(SCHED, item_ready, item_empty, i)


@gluon.jit
def _ws_fwd_persistent_kernel(q_desc, k_desc, v_desc, Out, SEQ, SCHED, n_seqs, heads_q, group, rows_q, q_seq_rows,
                              k_seq_rows, n_items, scale, bias_value, seqlen_bucket, stride_ob, stride_ot, stride_oh,
                              HEAD_DIM: gl.constexpr, DEFAULT_BIAS: gl.constexpr, STORE_PADDED: gl.constexpr,
                              SIGMOID: gl.constexpr, BLOCK_M: gl.constexpr, BLOCK_N: gl.constexpr,
                              STAGES: gl.constexpr, num_warps: gl.constexpr):
    """_ws_fwd_kernel's partitions looping over items (one program an SM; the launcher's grid),
    handed out by a counter (SCHED[0]; SCHED[1 + 2·pid ...]: the program's mailbox): the loader
    fetches the next item's Q and first K/V tiles while the compute warps finish and store this
    one's O, so a program's start (Q, the first tiles) and end (the O store) no longer wait alone.
    Descriptors made on the host over the tensors' 2-D views [rows, heads·head dim]: a last tile
    reaches past the sequence's keys (into padding, the next sequence or zeros past the tensor),
    which _issue_pv masks."""
    dtype: gl.constexpr = q_desc.dtype
    layout: gl.constexpr = q_desc.layout
    q_smem, k_bufs, v_bufs, ring = _allocate(dtype, layout, BLOCK_M, BLOCK_N, HEAD_DIM, STAGES)
    item_ready, item_empty = _mailbox()
    bars = (ring[0], ring[1], ring[2], ring[3], ring[4], ring[5], item_ready, item_empty)

    gl.warp_specialize([
        (_compute_persistent, (q_smem, k_bufs, v_bufs, bars, SEQ, SCHED, n_seqs, heads_q, group, rows_q, q_seq_rows,
                               k_seq_rows, n_items, scale, bias_value, Out, stride_ob, stride_ot, stride_oh, BLOCK_M,
                               BLOCK_N, HEAD_DIM, DEFAULT_BIAS, STORE_PADDED, SIGMOID, num_warps)),
        (_loader_persistent, (q_desc, k_desc, v_desc, q_smem, k_bufs, v_bufs, bars, SEQ, SCHED, n_seqs, heads_q,
                              group, rows_q, q_seq_rows, k_seq_rows, n_items, BLOCK_M, BLOCK_N, HEAD_DIM)),
    ], [LOADER_WARPS], [LOADER_REGISTERS])


# ----------------------------------------------------------------------------------------------
# Launcher
# ----------------------------------------------------------------------------------------------

#: The autotuner's key: as the Triton forward's (TUNE_KEY) for the flags this kernel has.
TUNE_KEY = ["HEAD_DIM", "SIGMOID", "STORE_PADDED", "DEFAULT_BIAS", "seqlen_bucket"]
KERNEL = "fwd_ws"  # its name in TUNE_TABLE, sigattn.tuned and LAST_CONFIG


def _block_kwargs(entry) -> dict:
    """A (BLOCK_M, BLOCK_N, compute warps, K/V slots) entry's launch keywords: the slots are STAGES
    (and num_stages, which Gluon does not read but the autotuner's config reports)."""
    m, n, warps, stages = entry
    return dict(BLOCK_M=m, BLOCK_N=n, STAGES=stages, num_warps=warps, num_stages=stages, maxnreg=MAX_REGISTERS[warps])


def _config(entry) -> triton.Config:
    kw = _block_kwargs(entry)
    return triton.Config({k: kw.pop(k) for k in ("BLOCK_M", "BLOCK_N", "STAGES")}, **kw)


def _autotuner(kernel: str, fn, *, key=TUNE_KEY, pre_hook=None):
    """``fn`` autotuned over TUNE_TABLE[kernel], each head dim over its own list (``key``: the
    autotuner's key; ``pre_hook``: run before each config it times and the launch after)."""
    def prune(configs, named_args, **kwargs):
        wanted = set(tk.TUNE_TABLE[kernel][tk.head_dim_class({**named_args, **kwargs}["HEAD_DIM"])])
        return [c for c in configs if (c.kwargs["BLOCK_M"], c.kwargs["BLOCK_N"], c.num_warps, c.num_stages) in wanted]

    return triton.autotune(
        configs=[_config(e) for e in dict.fromkeys(e for row in tk.TUNE_TABLE[kernel].values() for e in row)],
        key=key, prune_configs_by={"early_config_prune": prune}, pre_hook=pre_hook)(fn)


_autotuned = _autotuner(KERNEL, _ws_fwd_kernel)
KERNEL_PERSISTENT = "fwd_wsp"  # the persistent form's name (SIGATTN_WS=persistent)


def zero_schedule(kwargs):
    """The autotuner's hook before each config it times and before the launch after: a persistent
    kernel's item counter (SCHED[0]) counts from 0 each time."""
    kwargs["SCHED"].zero_()


def schedule(programs: int, device) -> torch.Tensor:
    """A persistent launch's item counter and its programs' two-slot mailboxes, zeroed."""
    return torch.zeros(1 + 2 * programs, dtype=torch.int32, device=device)


_autotuned_persistent = _autotuner(KERNEL_PERSISTENT, _ws_fwd_persistent_kernel, pre_hook=zero_schedule)


def blocker(q, k, v, score_mod, causal: bool, padded: bool, kernel: str = KERNEL) -> str:
    """Why a forward launch cannot take this kernel ("" if it can); ``kernel``: whose TUNE_TABLE
    lists the head dims (the Gluon backward's conditions start with these)."""
    if not q.is_cuda:
        return "not a CUDA tensor"
    if torch.cuda.get_device_capability(q.device)[0] != 9:
        return "not an sm_90 GPU"
    if q.dtype not in (torch.bfloat16, torch.float16):
        return "not 16-bit inputs"
    if q.shape[-1] not in tk.TUNE_TABLE[kernel]:
        return f"head dim {q.shape[-1]} (has {sorted(tk.TUNE_TABLE[kernel])})"
    if causal:
        return "causal"
    if score_mod is not None:
        return "score_mod"
    return tk.tma_blocker((q, k, v), padded)


def view_blocker(tensors: dict, padded: bool) -> str:
    """Why one of ``tensors`` (name: tensor) cannot be read by a host-made descriptor over its 2-D
    [rows, heads · head dim] view (_view_2d; "" if all can): the heads of a token side by side and
    (padded) a batch stride that is a whole number of token strides."""
    for name, t in tensors.items():
        batch, token, head, _ = tk._strides(t, padded)
        if t.numel() == 0:
            return f"{name} is empty"
        if head != t.shape[-1]:
            return f"{name}'s heads are not side by side in a token (head stride {head}, head dim {t.shape[-1]})"
        if padded and batch % token:
            return f"{name}'s batch stride {batch} is not a multiple of its token stride {token}"
    return ""


def persistent_blocker(q, k, v, padded: bool, kernel: str = KERNEL_PERSISTENT) -> str:
    """Why a launch the persistent form would take cannot ("" if it can): its host-made
    descriptors read each tensor as a 2-D [rows, heads · head dim] view (view_blocker), K and V
    alike, and one block shape serves every entry of ``kernel``'s list (the persistent backward,
    gluon_backward, asks the same of its own)."""
    why = view_blocker({"q": q, "k": k, "v": v}, padded)
    if why:
        return why
    if _view_2d(k, padded)[2] != _view_2d(v, padded)[2]:
        return "k and v start their sequences every different number of rows"
    if len({e[:2] for e in tk.TUNE_TABLE[kernel].get(q.shape[-1], [])}) != 1:
        return "its list's entries differ in BLOCK_M x BLOCK_N (one descriptor block shape a launch)"
    return ""


def launchable(kernel: str, q, k, v, score_mod, causal: bool, padded: bool) -> str | None:
    """The Gluon kernel a launch asking for ``kernel`` (KERNEL or KERNEL_PERSISTENT) takes, or None
    (the Triton forward): None where blocker() says the Gluon forward cannot run; the persistent
    form where persistent_blocker() allows, else the per-sequence kernel in a single variant
    (SIGATTN_WS=persistent) and the Triton forward under "tuned" (its rule timed the persistent
    form against the Triton one)."""
    if blocker(q, k, v, score_mod, causal, padded):
        return None
    if kernel == KERNEL_PERSISTENT and persistent_blocker(q, k, v, padded):
        return None if tk.TUNED else KERNEL
    return kernel


def _sm_count(device: torch.device) -> int:
    return torch.cuda.get_device_properties(device).multi_processor_count


def _view_2d(t: torch.Tensor, padded: bool) -> tuple[list[int], list[int], int]:
    """(shape, strides, rows a sequence) of t as [rows, heads · head dim] (persistent_blocker's
    conditions): padded [B, L, H, D] with batch stride b·token stride is B - 1 times b rows and L
    more, a sequence starting every b rows; packed [T, H, D] is T rows (sequences by their start)."""
    batch, token, _, _ = tk._strides(t, padded)
    if padded:
        seq_rows = batch // token
        rows = (t.shape[0] - 1) * seq_rows + t.shape[1]
    else:
        seq_rows, rows = 0, t.shape[0]
    return [rows, t.shape[-2] * t.shape[-1]], [token, 1], seq_rows


def forward(q, k, v, seq_table, *, scale, bias, padded, rows_q, o, kernel=KERNEL):
    """triton_kernels.forward's contract (not causal, no score_mod): fill ``o`` with ``kernel``
    (KERNEL, or KERNEL_PERSISTENT where persistent_blocker allows: launchable)."""
    n_seqs, heads_q, heads_kv = seq_table.shape[1], q.shape[-2], k.shape[-2]
    if n_seqs == 0 or rows_q == 0 or heads_q == 0:
        return o
    # the arguments both kernels share after their tensors: the table, the shapes, scale and bias
    shared = (seq_table, n_seqs, heads_q, heads_q // heads_kv, rows_q)
    scalars = (scale, 0.0 if bias is None else float(bias), tuned.bucket(rows_q))
    flags = dict(HEAD_DIM=q.shape[-1], DEFAULT_BIAS=bias is None, STORE_PADDED=padded,
                 SIGMOID="bf16x2" if tk.sigmoid_mode(q, "fwd") == "bf16x2" else "fast")
    if kernel == KERNEL_PERSISTENT:
        descs, seq_rows = _descriptors(q, k, v, padded)
        n_items = triton.cdiv(rows_q, descs[0].block_shape[0]) * n_seqs * heads_q
        programs = min(n_items, _sm_count(q.device))
        args = (*descs, o, seq_table, schedule(programs, q.device), *shared[1:], *seq_rows, n_items, *scalars,
                *tk._strides(o, padded)[:3])
        tk._launch("forward", KERNEL_PERSISTENT, _autotuned_persistent, (programs,), args, flags, q, False, rows_q,
                   descriptors=False, block_kwargs=_block_kwargs)
        return o
    strides = [st for t in (q, k, v, o) for st in tk._strides(t, padded)[:3]]
    grid = lambda meta: (triton.cdiv(rows_q, meta["BLOCK_M"]) * n_seqs * heads_q,)  # noqa: E731
    tk._launch("forward", KERNEL, _autotuned, grid, (q, k, v, o, *shared, *scalars, *strides), flags, q, False,
               rows_q, descriptors=True, block_kwargs=_block_kwargs)
    return o


def view_descriptor(t: torch.Tensor, padded: bool, block_rows: int, layout=SMEM_LAYOUT):
    """(a host-made descriptor of ``t`` over its 2-D view, blocks of ``block_rows`` rows of one head,
    the rows a sequence of that view): what the persistent kernels (this forward's, the backward's
    in gluon_backward) read their tensors through."""
    from triton.experimental.gluon.nvidia.hopper import TensorDescriptor

    shape, strides, rows = _view_2d(t, padded)
    return TensorDescriptor(t, shape, strides, [block_rows, t.shape[-1]], layout.value), rows


def _descriptors(q, k, v, padded: bool):
    """The persistent form's host-made descriptors of q, k and v over their 2-D views (block
    shapes: its list's BLOCK_M x BLOCK_N, one for every entry: persistent_blocker), and the rows a
    sequence of q and of k / v."""
    block_m, block_n = tk.TUNE_TABLE[KERNEL_PERSISTENT][q.shape[-1]][0][:2]
    (dq, rq), (dk, rk), (dv, _) = (view_descriptor(t, padded, b) for t, b in ((q, block_m), (k, block_n), (v, block_n)))
    return [dq, dk, dv], [rq, rk]
