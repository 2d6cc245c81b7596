"""Public entry points and the ``torch.library`` custom ops (namespace ``sigattn``) behind them.

``sigmoid_attention`` (padded) and ``sigmoid_attention_varlen`` (packed) check their arguments,
describe the sequences as one int32 table, and call ``sigattn::forward``; its autograd formula calls
``sigattn::backward``. Both ops have fake (meta) implementations, so ``torch.compile(fullgraph=True)``
traces through them without a graph break. Value checks that read tensor contents (sequence
lengths) run inside the ops, where the values are concrete.

Eager calls (not under ``torch.compile``) take :class:`_EagerAttention`, an autograd.Function
around the same two implementations: the custom-op dispatch costs tens of microseconds of host
time per call (about 60 us forward on a CPU core, measured), which at short sequences is more
than the kernel. ``SIGATTN_EAGER_OP=custom`` sends eager calls through the custom ops too.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import os
import weakref

import torch

from . import checks, debug, reference, triton_kernels
from .backend import backend_for

# ----------------------------------------------------------------------------------------------
# Custom ops
# ----------------------------------------------------------------------------------------------

#: Check sequence lengths / cu_seqlens values on every call (one host sync per call). Benchmarks
#: set SIGATTN_CHECK_VALUES=0 (padded: no sync at all; packed: trusts max_seqlen_* when given).
CHECK_VALUES = os.environ.get("SIGATTN_CHECK_VALUES", "1") != "0"
#: Eager calls through the custom ops (as under torch.compile) instead of _EagerAttention.
EAGER_CUSTOM_OP = os.environ.get("SIGATTN_EAGER_OP", "function") == "custom"
#: Keep the sequence tables: the dense layout's per shape, the padded and packed layouts' per length /
#: offset tensors
#: (off: a new table each call, as before v1.2; for measuring the difference).
CACHE_SHAPE_TABLES = True


@contextlib.contextmanager
def trusted_lengths():
    """Calls inside do not read sequence lengths / offsets on the host to check their values (the
    check is one host sync per call; a packed call then trusts max_seqlen_* when given): for
    callers that built those tensors themselves, a model's own batches or a benchmark's. The same
    as ``SIGATTN_CHECK_VALUES=0``, for the block only."""
    global CHECK_VALUES
    saved, CHECK_VALUES = CHECK_VALUES, False
    try:
        yield
    finally:
        CHECK_VALUES = saved


def _rows(q, k, seq_table, padded: bool, max_seqlen_q: int, max_seqlen_k: int,
          check: bool = True) -> tuple[int, int]:
    """Rows each kernel covers, after checking the sequence table's values (one host sync).
    ``check=False`` (the backward: its forward checked the same saved table) reads no values
    unless a packed call left max_seqlen_* to be computed."""
    trusted = not (CHECK_VALUES and check) or (padded and _SHAPE_TABLES.get(id(seq_table)) is seq_table)
    if trusted:  # nothing to check
        if padded:
            return q.shape[1], k.shape[1]
        if max_seqlen_q >= 0 and max_seqlen_k >= 0:
            return max_seqlen_q, max_seqlen_k
    if padded:
        lens_q, lens_k = seq_table[1], seq_table[3]
        checks.check_lengths("seq_lens_q", lens_q, q.shape[1])
        checks.check_lengths("seq_lens_k", lens_k, k.shape[1])
        return q.shape[1], k.shape[1]
    table = seq_table.to("cpu", torch.int64)
    rows = []
    for side, row, tokens, given in (("q", 0, q.shape[0], max_seqlen_q), ("k", 2, k.shape[0], max_seqlen_k)):
        name = f"cu_seqlens_{side}"
        starts, lens = table[row], table[row + 1]
        if lens.numel() == 0:
            if tokens != 0:
                raise ValueError(f"{name}[-1] must equal the number of packed tokens ({tokens}), got 0")
            rows.append(0)
            continue
        if int(starts[0]) != 0:
            raise ValueError(f"{name} must start at 0, got {int(starts[0])}")
        if bool((lens < 0).any()):
            raise ValueError(f"{name} must be non-decreasing (a sequence length is negative)")
        if int(starts[-1] + lens[-1]) != tokens:
            raise ValueError(f"{name}[-1] must equal the number of packed tokens ({tokens}), "
                             f"got {int(starts[-1] + lens[-1])}")
        longest = int(lens.max())
        checks.check_max_seqlen(side, given, longest)
        rows.append(longest)
    return rows[0], rows[1]


@torch.library.custom_op("sigattn::forward", mutates_args=())
def forward_op(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, seq_table: torch.Tensor,
               score_mod: torch.Tensor | None, causal: bool, scale: float, bias: float | None,
               padded: bool, max_seqlen_q: int, max_seqlen_k: int) -> torch.Tensor:
    """O = sigmoid(Q·Kᵀ·scale + b + score_mod)·V for the sequences of ``seq_table``
    (int32 [4, N]: q start, q length, k start, k length)."""
    return _forward(q, k, v, seq_table, score_mod, causal, scale, bias, padded, max_seqlen_q, max_seqlen_k)


def _forward(q, k, v, seq_table, score_mod, causal, scale, bias, padded, max_seqlen_q, max_seqlen_k):
    rows_q, _ = _rows(q, k, seq_table, padded, max_seqlen_q, max_seqlen_k)
    o = debug.new_output(q.shape, q)
    kernel = triton_kernels.forward_gluon(q.shape[-1], rows_q, q.dtype)
    if kernel:  # a Gluon forward where it can run
        from . import gluon_kernels

        kernel = gluon_kernels.launchable(kernel, q, k, v, score_mod, causal, padded)
        if kernel:
            return gluon_kernels.forward(q, k, v, seq_table, scale=scale, bias=bias, padded=padded, rows_q=rows_q,
                                         o=o, kernel=kernel)
    return triton_kernels.forward(q, k, v, seq_table, score_mod, causal=causal, scale=scale,
                                  bias=bias, padded=padded, rows_q=rows_q, o=o)


@forward_op.register_fake
def _(q, k, v, seq_table, score_mod, causal, scale, bias, padded, max_seqlen_q, max_seqlen_k):
    return q.new_empty(q.shape)


@torch.library.custom_op("sigattn::backward", mutates_args=())
def backward_op(do: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                seq_table: torch.Tensor, score_mod: torch.Tensor | None, causal: bool, scale: float,
                bias: float | None, padded: bool, max_seqlen_q: int,
                max_seqlen_k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """dQ, dK, dV of :func:`forward_op` (score_mod is a constant: it gets no gradient)."""
    return _backward_impl(do, q, k, v, seq_table, score_mod, causal, scale, bias, padded, max_seqlen_q,
                          max_seqlen_k)


def _backward_impl(do, q, k, v, seq_table, score_mod, causal, scale, bias, padded, max_seqlen_q,
                   max_seqlen_k):
    # no second check of the table: the forward checked it (a re-check cost one host sync per
    # layer in training, measured with CUDA's sync debug mode on the H200)
    rows_q, rows_k = _rows(q, k, seq_table, padded, max_seqlen_q, max_seqlen_k, check=False)
    dq, dk, dv = debug.new_output(q.shape, q), debug.new_output(k.shape, k), debug.new_output(v.shape, v)
    gluon = triton_kernels.gluon_backward(q.shape[-1], rows_k)
    if gluon:  # the Gluon backward where it can run
        from . import gluon_backward

        gluon = gluon_backward.launchable(gluon, q, k, v, do, score_mod, causal, padded)
        if gluon:
            return gluon_backward.backward(do, q, k, v, seq_table, scale=scale, bias=bias, padded=padded,
                                           rows_k=rows_k, dq=dq, dk=dk, dv=dv, kernel=gluon)
    return triton_kernels.backward(do, q, k, v, seq_table, score_mod, causal=causal, scale=scale,
                                   bias=bias, padded=padded, rows_q=rows_q,
                                   rows_k=rows_k, dq=dq, dk=dk, dv=dv)


@backward_op.register_fake
def _(do, q, k, v, seq_table, score_mod, causal, scale, bias, padded, max_seqlen_q, max_seqlen_k):
    return q.new_empty(q.shape), k.new_empty(k.shape), v.new_empty(v.shape)


def _setup_context(ctx, inputs, output):
    q, k, v, seq_table, score_mod, *rest = inputs
    ctx.save_for_backward(q, k, v, seq_table, score_mod)
    ctx.rest = rest  # causal, scale, bias, padded, max_seqlen_q, max_seqlen_k


def _backward(ctx, do):
    q, k, v, seq_table, score_mod = ctx.saved_tensors
    dq, dk, dv = backward_op(do, q, k, v, seq_table, score_mod, *ctx.rest)
    return dq, dk, dv, None, None, None, None, None, None, None, None


torch.library.register_autograd("sigattn::forward", _backward, setup_context=_setup_context)


class _EagerAttention(torch.autograd.Function):
    """The custom ops' forward and backward without the dispatcher (eager calls)."""

    @staticmethod
    def forward(ctx, q, k, v, seq_table, score_mod, *rest):
        ctx.save_for_backward(q, k, v, seq_table, score_mod)
        ctx.rest = rest  # causal, scale, bias, padded, max_seqlen_q, max_seqlen_k
        return _forward(q, k, v, seq_table, score_mod, *rest)

    @staticmethod
    def backward(ctx, do):
        q, k, v, seq_table, score_mod = ctx.saved_tensors
        dq, dk, dv = _backward_impl(do, q, k, v, seq_table, score_mod, *ctx.rest)
        return dq, dk, dv, None, None, None, None, None, None, None, None


def _attention(*args):
    """sigattn::forward under torch.compile (or SIGATTN_EAGER_OP=custom), else _EagerAttention."""
    if EAGER_CUSTOM_OP or torch.compiler.is_compiling():
        return forward_op(*args)
    return _EagerAttention.apply(*args)


#: The cached tables of _cached_table: valid by construction, their values need no check.
_SHAPE_TABLES: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
#: The same tables by their key (device, B, Lq, Lk), while the cache holds them.
_TABLES_BY_SHAPE: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
#: Cached tables a CUDA-graph capture has used: a graph keeps only their address, so they stay
#: alive for the process (16·B bytes each) rather than leave with the cache's least recent.
_CAPTURED_TABLES: dict[tuple, torch.Tensor] = {}


@functools.lru_cache(maxsize=64)
def _cached_table(device: torch.device, batch: int, len_q: int, len_k: int) -> torch.Tensor:
    table = torch.tensor([[0] * batch, [len_q] * batch, [0] * batch, [len_k] * batch],
                         dtype=torch.int32, device=device)
    _SHAPE_TABLES[id(table)] = table
    _TABLES_BY_SHAPE[(device, batch, len_q, len_k)] = table
    return table


def _captured_table(device: torch.device, batch: int, len_q: int, len_k: int) -> torch.Tensor | None:
    """Inside a CUDA-graph capture: the cached table of these shapes if an earlier call made one
    (kept alive from now on: _CAPTURED_TABLES), else None (the call builds its own in the graph).
    Without it every replay ran the table's small kernels that an eager call skips (three fills
    and a stack: kernels/PERF.md "Session 28")."""
    key = (device, batch, len_q, len_k)
    table = _CAPTURED_TABLES.get(key)
    if table is None:
        table = _TABLES_BY_SHAPE.get(key)
        if table is not None:
            _CAPTURED_TABLES[key] = table
    return table


#: Sequence tables built from the caller's length (padded) or offset (packed) tensors, most
#: recent last: (ids of those tensors, layout, device, shapes) -> (weak references to them, their
#: version counters when the table was built, the table).
_KEPT_TABLES: collections.OrderedDict = collections.OrderedDict()
_KEPT_TABLES_MAX = 32


def _capturing(q) -> bool:
    """Whether a CUDA graph is being captured on q's device (the current stream)."""
    return q.is_cuda and torch.cuda.is_current_stream_capturing()


def _caching(q) -> bool:
    """Tables may be kept: not while torch.compile traces, a CUDA graph captures or inference mode
    is on (a tensor made there must not be kept)."""
    return CACHE_SHAPE_TABLES and not (
        torch.compiler.is_compiling() or torch.is_inference_mode_enabled() or _capturing(q))


def _kept_table(sources: tuple, key: tuple, build) -> torch.Tensor:
    """``build()``'s table for these source tensors, built once per tensors and version: every layer
    of a model passes the same lengths / offsets, and building the table takes small kernels on
    every call (at L = 512 the padded call's host time was 0.35 ms against the dense layout's 0.25
    ms, kernels/PERF.md). A hit needs the very same tensor objects (weak references: the cache
    keeps none alive) with unchanged version counters (an in-place change rebuilds the table)."""
    if not all(t is None or isinstance(t, torch.Tensor) for t in sources):
        return build()  # not tensors: build() raises the argument error
    full_key = (tuple(id(t) for t in sources), *key)
    versions = tuple(None if t is None else t._version for t in sources)
    hit = _KEPT_TABLES.get(full_key)
    if hit is not None and all(ref() is t for ref, t in zip(hit[0], sources, strict=True)) and hit[1] == versions:
        _KEPT_TABLES.move_to_end(full_key)
        return hit[2]
    table = build()
    refs = tuple((lambda: None) if t is None else weakref.ref(t) for t in sources)
    _KEPT_TABLES[full_key] = (refs, versions, table)
    while len(_KEPT_TABLES) > _KEPT_TABLES_MAX:
        _KEPT_TABLES.popitem(last=False)
    return table


def _build_padded_table(q, k, seq_lens_q, seq_lens_k) -> torch.Tensor:
    lens_q, lens_k = checks.padded_lengths(q, k, seq_lens_q, seq_lens_k)
    zeros = torch.zeros_like(lens_q)
    return torch.stack([zeros, lens_q, zeros, lens_k])


def _padded_table(q, k, seq_lens_q, seq_lens_k) -> torch.Tensor:
    """The sequence table of the padded layout. Without lengths it is a constant of the shapes,
    kept per (device, B, Lq, Lk): no small kernels per call and no value check (no host sync).
    With lengths it is kept per length tensors (:func:`_kept_table`; values still checked when
    ``CHECK_VALUES``)."""
    batch, len_q, len_k = q.shape[0], q.shape[1], k.shape[1]
    if (seq_lens_q is None and seq_lens_k is None and CACHE_SHAPE_TABLES and _capturing(q)
            and not torch.compiler.is_compiling()):
        table = _captured_table(q.device, batch, len_q, len_k)  # made before the capture: reused
        if table is not None:
            return table
    if not _caching(q):
        table = _build_padded_table(q, k, seq_lens_q, seq_lens_k)
        if seq_lens_q is None and seq_lens_k is None and not torch.compiler.is_compiling():
            # valid by construction, like the kept ones: made known to _rows (weakly), which then
            # reads nothing on the host (a sync a CUDA-graph capture refuses)
            _SHAPE_TABLES[id(table)] = table
        return table
    if seq_lens_q is None and seq_lens_k is None:
        return _cached_table(q.device, batch, len_q, len_k)
    return _kept_table((seq_lens_q, seq_lens_k), ("padded", q.device, batch, len_q, len_k),
                       lambda: _build_padded_table(q, k, seq_lens_q, seq_lens_k))


def _build_packed_table(q, k, cu_seqlens_q, cu_seqlens_k) -> torch.Tensor:
    cu_q, cu_k = checks.cu_seqlens_pair(cu_seqlens_q, cu_seqlens_k, q, k, check_values=False)
    return torch.stack([cu_q[:-1], cu_q[1:] - cu_q[:-1], cu_k[:-1], cu_k[1:] - cu_k[:-1]]).contiguous()


def _packed_table(q, k, cu_seqlens_q, cu_seqlens_k) -> torch.Tensor:
    """The sequence table of the packed layout, kept per offset tensors like the padded one."""
    if not _caching(q):
        return _build_packed_table(q, k, cu_seqlens_q, cu_seqlens_k)
    return _kept_table((cu_seqlens_q, cu_seqlens_k), ("packed", q.device, q.shape[0], k.shape[0]),
                       lambda: _build_packed_table(q, k, cu_seqlens_q, cu_seqlens_k))


# ----------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------


def sigmoid_attention(q, k, v, *, seq_lens_q=None, seq_lens_k=None, causal=False, scale=None,
                      bias=None, score_mod=None):
    """Sigmoid attention, padded layout.

    Args:
        q: [B, Lq, Hq, D]; k, v: [B, Lk, Hkv, D] with Hq a multiple of Hkv (GQA/MQA);
            float16, bfloat16 or float32; D in {16, 32, 64, 128, 256}.
        seq_lens_q, seq_lens_k: int tensors [B], valid lengths (trailing padding). Missing
            seq_lens_k: all keys valid, except that seq_lens_q alone with Lq == Lk is used for the
            keys too (padded self-attention); seq_lens_q alone with Lq != Lk raises. Missing
            seq_lens_q: all query rows valid.
        causal: query i sees keys j <= i (top-left aligned, like torch's SDPA ``is_causal``; for
            Lq != Lk the diagonal starts at the first key).
        scale: default 1/sqrt(D).
        bias: None -> b = -log(valid keys of the sequence) (also when causal: the count is the
            whole sequence's valid keys, not the row's); a float overrides it (benchmarks: 0.0).
        score_mod: optional float tensor [B, Lk] added to every query's scores of that key; a
            constant (no gradient flows into it).

    Returns:
        o: [B, Lq, Hq, D], same dtype; padded query rows are exactly zero.

    Non-finite values: scale and bias must be finite (checked). NaN or inf inside q, k or v is not
    checked (that would read the tensors on the host): it propagates to every output row of the
    sequences whose scores it enters, and to their gradients, as in any attention kernel.
    """
    checks.check_qkv(q, k, v, rank=4, layout="padded [B, L, H, D]", kernel_dtypes=True)
    checks.check_scalars(scale, bias, causal)
    batch, len_q, _, head_dim = q.shape
    len_k = k.shape[1]
    checks.check_score_mod(score_mod, (batch, len_k), "padded layout: [B, Lk]", q.device)
    if backend_for(q) == "reference":
        return reference.sigmoid_attention_ref(q, k, v, seq_lens_q=seq_lens_q, seq_lens_k=seq_lens_k,
                                               causal=causal, scale=scale, bias=bias,
                                               score_mod=score_mod)
    seq_table = _padded_table(q, k, seq_lens_q, seq_lens_k)
    return _attention(q, k, v, seq_table, None if score_mod is None else score_mod.detach(), causal,
                      checks.resolve_scale(scale, head_dim), None if bias is None else float(bias),
                      True, len_q, len_k)


def cu_seqlens(seq_lens: torch.Tensor) -> torch.Tensor:
    """Offsets of sequences packed back to back, ``[0, l0, l0 + l1, ...]`` (int32 [N+1], on the
    device of ``seq_lens``): the ``cu_seqlens`` of :func:`sigmoid_attention_varlen`."""
    cu = torch.zeros(seq_lens.numel() + 1, dtype=torch.int32, device=seq_lens.device)
    cu[1:] = torch.cumsum(seq_lens.reshape(-1), 0)
    return cu


def sigmoid_attention_varlen(q, k, v, cu_seqlens_q, cu_seqlens_k=None, *, max_seqlen_q=None,
                             max_seqlen_k=None, causal=False, scale=None, bias=None, score_mod=None):
    """Sigmoid attention, packed (varlen) layout.

    Args:
        q: [Tq, Hq, D]; k, v: [Tk, Hkv, D]; sequences back to back.
        cu_seqlens_q, cu_seqlens_k: int32 [N+1], start at 0, non-decreasing, end at Tq / Tk;
            cu_seqlens_k defaults to cu_seqlens_q.
        max_seqlen_q, max_seqlen_k: longest sequence (computed when None; a smaller value raises).
        causal, scale, bias: as in :func:`sigmoid_attention`.
        score_mod: optional float tensor [Tk] (per packed key), a constant.

    Returns:
        o: [Tq, Hq, D].
    """
    checks.check_qkv(q, k, v, rank=3, layout="packed [T, H, D]", kernel_dtypes=True)
    checks.check_scalars(scale, bias, causal)
    checks.check_score_mod(score_mod, (k.shape[0],), "packed layout: [T_k]", q.device)
    for name, value in (("max_seqlen_q", max_seqlen_q), ("max_seqlen_k", max_seqlen_k)):
        if value is not None and (not isinstance(value, int) or value < 0):
            raise TypeError(f"{name} must be a non-negative int or None, got {value!r}")
    if backend_for(q) == "reference":
        return reference.sigmoid_attention_varlen_ref(
            q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q=max_seqlen_q,
            max_seqlen_k=max_seqlen_k, causal=causal, scale=scale, bias=bias, score_mod=score_mod)
    seq_table = _packed_table(q, k, cu_seqlens_q, cu_seqlens_k)
    return _attention(q, k, v, seq_table, None if score_mod is None else score_mod.detach(), causal,
                      checks.resolve_scale(scale, q.shape[-1]), None if bias is None else float(bias),
                      False, -1 if max_seqlen_q is None else max_seqlen_q,
                      -1 if max_seqlen_k is None else max_seqlen_k)
