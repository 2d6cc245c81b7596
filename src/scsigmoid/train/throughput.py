"""Training throughput that measures attention (Fig 3, claim 2): the protocol, its FLOP count and
the one definition of "faster".

Protocol (every knob in ``config/config.yaml`` ``train.throughput``):

- **Workloads.** A step holds cells until it reaches ``tokens_per_step`` tokens (the last cell
  whole, so every step has at least the budget). ``full_context``: cell lengths ~ U[0.75·C, C], the
  regime where the context matters; ``corpus``: lengths drawn from the pretraining pool, truncated
  at C (what our data gives). Token ids and the 15% masked positions are random: speed does not
  depend on them.
- **Arms** (:data:`ARMS`): ``softmax`` = FA2 varlen, packed; ``sigmoid`` = our sigattn kernel,
  packed; ``sigmoid_tritonsigmoid`` = the authors' TritonSigmoid, padded to C (it has no packed
  layout); ``sigmoid_fma`` / ``_tma`` / ``_fast`` = ours with a single kernel variant (:data:`ARM_VARIANTS`),
  opt-in in the config, the ``kernel`` column naming the variant (``sigattn_triton_fma``). All arms run on ONE model per size (same weights, :meth:`Encoder.set_attention`), the
  same batches, and the same step: bf16 autocast forward, backward, clip, fused AdamW; with
  ``compile`` the blocks' dense parts are compiled (:meth:`Encoder.compile_blocks`; the attention
  stays eager, each arm's own kernel) for every arm alike. Layouts,
  positions and masked indices are built on the CPU before timing: nothing inside a step reads a
  tensor on the host (``host_syncs_per_step`` is counted with CUDA's sync debug mode).
- **Timing.** ``warmup_steps`` untimed steps per arm over the step's distinct batches (compiling
  and autotuning happen there), then ``repeats`` rounds; in round r the arms run in the order of
  :data:`ARMS` rotated by r (alternated), each for ``timed_steps`` steps cycling over the same
  batches, every step timed with CUDA events. One CSV row per (size, context, workload, arm,
  repeat): the round's tokens/s and MFU from its totals (all its tokens ÷ all its step time: the
  batches differ in size, so a median step would credit one batch's time with the mean batch's
  tokens), the mean, median and quartiles of its step times; beside them the median
  host time to issue a step (``host_issue_ms_median``) and the caching allocator's device
  allocations, frees and retries over the round (:data:`ALLOC_COUNTERS`): what a step's time
  outside the kernels is made of (a launch-bound host, or cudaMalloc/cudaFree syncs). Every
  timed step can be kept in a steps CSV (``steps_out``: batch, tokens, ms, host ms, start time).
- **Kernel-time audit** (``audit_kernel_time``): after the timed rounds, one pass of each arm
  over the same batches under torch.profiler (after one dropped warm-up step): the sum of its GPU
  kernels' time a step (``kernel_ms_per_step``) beside that pass's wall time
  (``audit_wall_ms_per_step``). :func:`gain_table` gives each arm's share of a step outside GPU
  kernels (the scorecard's cross-check: equal in both arms, or the wall-clock gain does not
  isolate the kernels) and the audit's kernel-time gain (``kernel_gain``: reported, not judged;
  under a power cap the clocks move between the audit and the rounds).
- **Clocks** (:func:`annotate_clocks`): the GPU's SM clock, power and power-cap flag during each
  round, from the call's nvidia-smi log.
- **MFU** = model FLOPs per step / step time / bf16 dense peak, with model FLOPs (useful tokens
  only; padding is not credited) = 6·N_blocks·T + 6·(N_head + d·V)·M + 12·layers·d·ΣLᵢ²: N_blocks the
  parameters of the transformer blocks and final LN, T valid tokens, N_head the masked-gene head's
  transform, V the vocabulary (the tied decoder), M masked tokens, Lᵢ the cell lengths (attention:
  QKᵀ and PV, forward 4·d·L² per layer, backward twice that).
- **Faster**: :data:`GAIN_DEFINITION`, per repeat, then median and IQR over repeats
  (:func:`gain_table`).
"""

from __future__ import annotations

import argparse
import gc
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from scsigmoid.data.corpus import CLS_ID, N_SPECIAL
from scsigmoid.io import write_csv
from scsigmoid.model.attention import Packed, Padded, attention_backend
from scsigmoid.model.encoder import Encoder, ModelConfig
from scsigmoid.provenance import provenance
from scsigmoid.train.batching import IGNORE

#: arm -> (attention, sigmoid kernel, layout)
ARMS = {
    "softmax": ("softmax", "sigattn", "packed"),
    "sigmoid": ("sigmoid", "sigattn", "packed"),
    "sigmoid_tritonsigmoid": ("sigmoid", "tritonsigmoid", "padded"),
    "sigmoid_fma": ("sigmoid", "sigattn", "packed"),
    "sigmoid_tma": ("sigmoid", "sigattn", "packed"),
    "sigmoid_fast": ("sigmoid", "sigattn", "packed"),
}
#: arm -> the sigattn kernel variant its steps launch (sigattn.triton_kernels.using_variant; the
#: others launch the variant the process selected at import, the default unless SIGATTN_* say
#: otherwise). ``sigmoid_fma``: the sigmoid's reciprocal on the FMA pipe (one special-function op
#: a score instead of two; kernels/PERF.md "v2 candidates"), beside the default in one process;
#: ``sigmoid_tma``: the streamed operand's tiles by tensor descriptors (TMA), forward and backward;
#: ``sigmoid_fast``: the single pointer-load kernel with the fast sigmoid (the default until the
#: per-pass variant became it). Session 12's rows named ``sigmoid_tuned`` (its part) are the
#: per-pass variant, which is today's ``sigmoid``.
ARM_VARIANTS = {"sigmoid_fma": "fma", "sigmoid_tma": "tma", "sigmoid_fast": "fast"}
WORKLOADS = ("full_context", "corpus")
BASELINE_ARM = "softmax"
GAIN_DEFINITION = "throughput gain = sigmoid tokens/s ÷ softmax tokens/s − 1"
MASK_PROB = 0.15


# ------------------------------------------------------------------------------ workload


def workload_lengths(workload: str, context: int, tokens_per_step: int, rng: np.random.Generator,
                     pool_lengths: np.ndarray | None = None) -> np.ndarray:
    """Cell lengths of one step: cells are drawn until their sum reaches ``tokens_per_step``."""
    if workload not in WORKLOADS:
        raise ValueError(f"workload must be one of {WORKLOADS}; got {workload!r}.")
    if workload == "corpus" and (pool_lengths is None or len(pool_lengths) == 0):
        raise ValueError("the corpus workload needs the pretraining pool's cell lengths.")
    low = math.ceil(0.75 * context)
    lens: list[int] = []
    while sum(lens) < tokens_per_step:
        if workload == "full_context":
            lens.append(int(rng.integers(low, context + 1)))
        else:
            lens.append(int(min(rng.choice(pool_lengths), context)))
    return np.array(lens, dtype=np.int64)


@dataclass
class Batch:
    """One step's inputs, built on the CPU, moved to the device before timing."""

    lengths: np.ndarray
    packed: tuple  # tokens [T], labels [T], Packed, masked flat indices
    padded: tuple | None  # tokens [B, C], labels [B, C], Padded, masked flat indices (or None)

    @property
    def tokens(self) -> int:
        return int(self.lengths.sum())

    def to(self, device) -> Batch:
        def move(part):
            return None if part is None else tuple(t.to(device) for t in part)
        return Batch(self.lengths, move(self.packed), move(self.padded))


def make_batch(lengths: np.ndarray, *, context: int, vocab_size: int, rng: np.random.Generator,
               padded: bool) -> Batch:
    """Random gene tokens (CLS first) and 15% masked positions for cells of ``lengths``."""
    seqs = [np.concatenate([[CLS_ID], rng.integers(N_SPECIAL, vocab_size, size=int(n) - 1)])
            for n in lengths]
    flat = torch.from_numpy(np.concatenate(seqs))
    labels = torch.full_like(flat, IGNORE)
    pick = torch.from_numpy(rng.random(len(flat)) < MASK_PROB)
    pick[torch.from_numpy(np.concatenate([[0], np.cumsum(lengths)[:-1]]))] = False  # never CLS
    labels[pick] = flat[pick]
    lens = torch.from_numpy(lengths)
    packed = (flat, labels, Packed.from_lengths(lens), pick.nonzero().squeeze(1))
    pad = None
    if padded:
        layout = Padded.from_lengths(lens, context)
        tokens = torch.zeros(len(lengths) * context, dtype=flat.dtype)
        plabels = torch.full_like(tokens, IGNORE)
        tokens[layout.flat_index], plabels[layout.flat_index] = flat, labels
        pad = (tokens.view(-1, context), plabels.view(-1, context), layout,
               layout.flat_index[pick])
    return Batch(lengths, packed, pad)


# ------------------------------------------------------------------------------ FLOPs


def model_flops(model: Encoder, lengths: np.ndarray, n_masked: int) -> tuple[float, float]:
    """(model FLOPs of one training step, of which attention) for cells of ``lengths``."""
    cfg = model.cfg
    n_blocks = sum(p.numel() for p in model.blocks.parameters()) + \
        sum(p.numel() for p in model.ln_f.parameters())
    n_head = sum(p.numel() for p in model.head_transform.parameters())
    tokens = float(np.sum(lengths))
    attention = 12.0 * cfg.n_layers * cfg.d_model * float(np.sum(lengths.astype(np.float64) ** 2))
    dense = 6.0 * n_blocks * tokens + 6.0 * (n_head + cfg.d_model * cfg.vocab_size) * n_masked
    return dense + attention, attention


def alternation(arms: list[str], repeat: int) -> list[str]:
    """Order of the arms in round ``repeat``: rotated by one each round."""
    k = repeat % len(arms)
    return arms[k:] + arms[:k]


# ------------------------------------------------------------------------------ timing


class _Stepper:
    """A full training step of one arm on the shared model: forward, backward, clip, AdamW."""

    def __init__(self, model: Encoder, device: torch.device, lr: float = 1e-4):
        from scsigmoid.train.trainer import TrainConfig, make_optimizer, mlm_loss_sum

        self.model, self.device, self.loss = model, device, mlm_loss_sum
        self.opt = make_optimizer(model, TrainConfig(corpus="", out_dir="", checkpoint_dir="", lr=lr))
        self.autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")

    def __call__(self, arm: str, batch: Batch) -> None:
        attention, kernel, layout = ARMS[arm]
        self.model.set_attention(attention, kernel)
        tokens, labels, lay, masked = batch.packed if layout == "packed" else batch.padded
        with arm_variant(arm):  # forward and backward launch the arm's kernel variant
            with self.autocast:
                loss, _ = self.loss(self.model, tokens, labels, lay, False, masked)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()


def arm_variant(arm: str):
    """Context in which ``arm``'s kernels launch: its :data:`ARM_VARIANTS` entry, else the
    variant sigattn selected at import."""
    from sigattn import triton_kernels

    return triton_kernels.using_variant(ARM_VARIANTS.get(arm, triton_kernels.IMPORTED_VARIANT))


def arm_kernel(arm: str, device) -> str:
    """The ``kernel`` column: the implementation behind the arm, its sigattn variant appended
    where the Triton kernels run and it is not the default (``sigattn_triton_fma``; the CPU
    reference has no variants)."""
    from sigattn import triton_kernels

    attention, kernel, _ = ARMS[arm]
    name = attention_backend(attention, device, kernel)
    variant = ARM_VARIANTS.get(arm, triton_kernels.IMPORTED_VARIANT) if name == "sigattn_triton" else "default"
    return name if variant == "default" else f"{name}_{variant}"


def _timed(step, arm: str, batches: list[Batch], n: int, device, host: list | None = None) -> list[float]:
    """Milliseconds of each of ``n`` steps cycling over ``batches`` (CUDA events on GPU). ``host``,
    if given, receives each step's host time to issue it (no sync): a step whose host time
    nears its GPU time is launch-bound, and the GPU waits."""
    if device.type != "cuda":
        out = []
        for i in range(n):
            t0 = time.perf_counter()
            step(arm, batches[i % len(batches)])
            out.append((time.perf_counter() - t0) * 1e3)
        if host is not None:
            host.extend(out)
        return out
    events = [torch.cuda.Event(enable_timing=True) for _ in range(n + 1)]
    events[0].record()
    for i in range(n):
        t0 = time.perf_counter()
        step(arm, batches[i % len(batches)])
        events[i + 1].record()
        if host is not None:
            host.append((time.perf_counter() - t0) * 1e3)
    torch.cuda.synchronize(device)
    return [events[i].elapsed_time(events[i + 1]) for i in range(n)]


#: caching-allocator counters kept per timed round: a cudaMalloc/cudaFree synchronises the device
#: without a sync the debug mode counts (deltas over the round; NaN off CUDA)
ALLOC_COUNTERS = {"device_allocs": "num_device_alloc", "device_frees": "num_device_free",
                  "alloc_retries": "num_alloc_retries"}


def _alloc_counts(device) -> dict[str, float]:
    if device.type != "cuda":
        return dict.fromkeys(ALLOC_COUNTERS, float("nan"))
    stats = torch.cuda.memory_stats(device)
    return {col: float(stats.get(key, float("nan"))) for col, key in ALLOC_COUNTERS.items()}


def _kernel_ms(prof, on_gpu: bool) -> dict[str, float]:
    """GPU kernel name -> its total ms in a torch.profiler run (on a CPU the host ops stand in,
    so the code path is testable there)."""
    out: dict[str, float] = {}
    for e in prof.key_averages():
        us = e.device_time_total if on_gpu else e.self_cpu_time_total
        if us and (not on_gpu or e.device_type == torch.autograd.DeviceType.CUDA):
            out[e.key] = out.get(e.key, 0.0) + us / 1e3
    return out


def _audit(step, arm: str, batches: list[Batch], device) -> tuple[float, float]:
    """(kernel ms, wall ms) a step over one profiled pass of ``batches`` (the timed rounds' batches,
    each once, as often as in a round's cycle when ``timed_steps`` is a multiple of them). One
    step runs first under the profiler's warm-up and is dropped: in session 9 (no such step) one
    pass of 68-ms steps averaged 145 ms of wall time with 67 ms of kernels, one step ~380 ms
    longer than the rest: the profiler's start-up, the likely cause, now lands outside the pass."""
    from torch.profiler import ProfilerActivity, profile, schedule

    on_gpu = device.type == "cuda"
    if on_gpu:
        torch.cuda.synchronize(device)
    with profile(activities=[ProfilerActivity.CUDA if on_gpu else ProfilerActivity.CPU],
                 schedule=schedule(wait=0, warmup=1, active=1, repeat=1)) as prof:
        step(arm, batches[-1])
        if on_gpu:
            torch.cuda.synchronize(device)
        prof.step()  # recording from here to the end of the pass
        wall = _timed(step, arm, batches, len(batches), device)
    return sum(_kernel_ms(prof, on_gpu).values()) / len(batches), float(np.mean(wall))


def _host_syncs(step, arm: str, batches: list[Batch], device) -> float:
    """Host syncs a step, counted by CUDA's sync debug mode over one step per batch (NaN off
    CUDA): the median count, so a one-off sync does not read as a per-step one (the first point of
    each H200 process showed one sync in the first arm's counted step, 2026-12-03)."""
    if device.type != "cuda":
        return float("nan")
    counts = []
    for batch in batches:
        torch.cuda.synchronize(device)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                step(arm, batch)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        torch.cuda.synchronize(device)
        counts.append(sum("synchroniz" in str(w.message) for w in caught))
    return float(np.median(counts))


def _arm_available(arm: str, device) -> tuple[bool, str]:
    kernel = ARMS[arm][1]
    if kernel == "tritonsigmoid":
        if device.type != "cuda":
            return False, "TritonSigmoid needs a CUDA GPU"
        try:
            import triton_sigmoid  # noqa: F401
        except Exception as err:  # the authors' package imports only on a GPU, if installed
            return False, f"triton_sigmoid does not import: {type(err).__name__}: {err}"[:200]
    return True, ""


def _skip_reason(arm: str, workload: str, context: int, device, mean_cell_tokens: float) -> str:
    """Why ``arm`` is not run at this point ('' when it is): its kernel does not import here, or it
    would pad the corpus workload's short cells to C."""
    ok, reason = _arm_available(arm, device)
    if ok and workload == "corpus" and ARMS[arm][2] == "padded":
        return (f"not run: padding corpus cells (mean {mean_cell_tokens:.0f} tokens) to C={context} would "
                "time padding, not attention")
    return "" if ok else reason


def point_batches(workload: str, context: int, cfg: dict, *, vocab_size: int, pool_lengths: np.ndarray,
                  seed: int) -> list[Batch]:
    """The ``warmup_steps`` distinct batches (on the CPU) that every arm of one point cycles over,
    seeded by (seed, context, workload)."""
    rng = np.random.default_rng([seed, context, WORKLOADS.index(workload)])
    need_padded = any(ARMS[a][2] == "padded" for a in cfg["arms"])
    return [make_batch(workload_lengths(workload, context, cfg["tokens_per_step"], rng, pool_lengths),
                       context=context, vocab_size=vocab_size, rng=rng, padded=need_padded)
            for _ in range(max(1, cfg["warmup_steps"]))]


def measure_size(size: str, points: list[tuple[str, int]], cfg: dict, *, vocab_size: int,
                 pool_lengths: np.ndarray, device: torch.device, seed: int):
    """Yield (rows, step rows) of each (workload, context) point of one model size in turn (one
    model for all of them): a row per (arm, repeat), a step row per timed step."""
    max_len = max(c for _, c in points)
    with torch.device(device):
        model = Encoder(ModelConfig.of_size(size, vocab_size=vocab_size, max_len=max_len), seed=seed)
    if cfg.get("compile", False):
        model.compile_blocks()  # compiled in each arm's first warm-up step
    step = _Stepper(model, device)
    counts = model.param_counts()
    arms = list(cfg["arms"])
    for workload, context in points:
        rows = []
        batches = point_batches(workload, context, cfg, vocab_size=vocab_size, pool_lengths=pool_lengths,
                                seed=seed)
        n_batches = len(batches)
        cycle = [batches[i % n_batches] for i in range(cfg["timed_steps"])]
        tokens = np.mean([b.tokens for b in cycle])
        flops = [model_flops(model, b.lengths, len(b.packed[3])) for b in cycle]
        cycle_tokens, cycle_flops = float(sum(b.tokens for b in cycle)), float(sum(f[0] for f in flops))
        base = {"size": size, "context": context, "workload": workload,
                "warmup_steps": cfg["warmup_steps"], "timed_steps": cfg["timed_steps"],
                "tokens_per_step_target": cfg["tokens_per_step"],
                "cells_per_step": float(np.mean([len(b.lengths) for b in cycle])),
                "tokens_per_step": float(tokens),
                "max_cell_len": int(max(b.lengths.max() for b in batches)),
                "model_flops_per_step": float(np.mean([f[0] for f in flops])),
                "attn_flops_per_step": float(np.mean([f[1] for f in flops])),
                "params_total": counts["params_total"], "peak_tflops": cfg["peak_tflops"],
                "compile": bool(cfg.get("compile", False))}
        batches = [b.to(device) for b in batches]
        status, syncs = {}, {}
        for arm in arms:  # warm-up (and availability) per arm
            reason = _skip_reason(arm, workload, context, device, tokens / base["cells_per_step"])
            ok = not reason
            if ok:
                try:
                    for b in batches:
                        step(arm, b)
                    syncs[arm] = _host_syncs(step, arm, batches[:3], device)
                except torch.OutOfMemoryError:
                    ok, reason = False, "oom"
                except Exception as err:  # recorded, not fatal: the other arms still run
                    ok, reason = False, f"error: {type(err).__name__}: {str(err)[:200]}"
            status[arm] = "ok" if ok else reason
        times: dict[tuple[str, int], list[float]] = {}
        mem: dict[tuple[str, int], float] = {}
        host: dict[tuple[str, int], list[float]] = {}
        started: dict[tuple[str, int], float] = {}
        allocs: dict[tuple[str, int], dict[str, float]] = {}
        for r in range(cfg["repeats"]):
            for arm in alternation(arms, r):
                if status[arm] != "ok":
                    continue
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(device)
                before = _alloc_counts(device)
                try:
                    host[arm, r], started[arm, r] = [], time.time()
                    times[arm, r] = _timed(step, arm, batches, cfg["timed_steps"], device, host[arm, r])
                    after = _alloc_counts(device)
                    allocs[arm, r] = {k: after[k] - before[k] for k in ALLOC_COUNTERS}
                except torch.OutOfMemoryError:
                    status[arm] = "oom"
                    continue
                mem[arm, r] = (torch.cuda.max_memory_allocated(device) / 2**30
                               if device.type == "cuda" else float("nan"))
        audit: dict[str, tuple[float, float]] = {}
        if cfg.get("audit_kernel_time", False):
            for arm in arms:
                if status[arm] == "ok":
                    try:
                        audit[arm] = _audit(step, arm, batches, device)
                    except torch.OutOfMemoryError:
                        pass  # the audit is a cross-check: its columns stay empty
        step_rows = [{"size": size, "context": context, "workload": workload, "arm": arm, "repeat": r,
                      "step": i, "batch": i % n_batches, "tokens": cycle[i].tokens, "step_ms": ms,
                      "host_ms": host[arm, r][i], "round_start_unix": started[arm, r]}
                     for (arm, r), t in times.items() for i, ms in enumerate(t)]
        for arm in arms:
            attention, kernel, layout = ARMS[arm]
            arm_base = {**base, "arm": arm, "attention": attention,
                        "kernel": arm_kernel(arm, device), "layout": layout,
                        "padded_tokens_per_step": float(np.mean(
                            [len(b.lengths) * context if layout == "padded" else b.tokens
                             for b in cycle])),
                        "host_syncs_per_step": syncs.get(arm, float("nan")),
                        "kernel_ms_per_step": audit.get(arm, (float("nan"),) * 2)[0],
                        "audit_wall_ms_per_step": audit.get(arm, (float("nan"),) * 2)[1]}
            for r in range(cfg["repeats"]):
                t = times.get((arm, r))
                if t is None:
                    rows.append({**arm_base, "repeat": r, "status": status[arm]
                                 if status[arm] != "ok" else "oom"})
                    continue
                seconds = float(np.sum(t)) * 1e-3
                rows.append({**arm_base, "repeat": r, "step_ms_mean": float(np.mean(t)),
                             "step_ms_median": float(np.median(t)),
                             "step_ms_q25": float(np.percentile(t, 25)),
                             "step_ms_q75": float(np.percentile(t, 75)),
                             "step_ms_max": float(np.max(t)),
                             "tokens_per_s": cycle_tokens / seconds,
                             "mfu": cycle_flops / seconds / (cfg["peak_tflops"] * 1e12),
                             "rate_basis": RATE_BASIS,
                             "peak_mem_gb": mem[arm, r],
                             "host_issue_ms_median": float(np.median(host[arm, r])),
                             **allocs[arm, r], "status": "ok"})
            tps = [cycle_tokens / np.sum(t) * 1e3 for (a, _), t in times.items() if a == arm]
            kernel = f", kernels {audit[arm][0]:.1f} of {audit[arm][1]:.1f} ms a step" if arm in audit else ""
            print(f"[throughput] {time.strftime('%H:%M:%S')} {size} {workload} C={context} {arm}: "
                  f"{f'{np.median(tps):.0f} tokens/s' if tps else status[arm]}{kernel}", flush=True)
        yield rows, step_rows
    del model, step
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


#: how ``tokens_per_s`` and ``mfu`` are computed: a round's tokens ÷ its total step time. Parts
#: measured before this column existed took the mean batch's tokens ÷ the median step's time
#: (``median_step``; :func:`merge` labels them), which credits one batch's time with another's size.
RATE_BASIS = "round_total"
COLUMNS = ["size", "context", "workload", "arm", "attention", "kernel", "layout", "repeat",
           "warmup_steps", "timed_steps", "tokens_per_step_target", "cells_per_step",
           "tokens_per_step", "padded_tokens_per_step", "max_cell_len", "step_ms_mean", "step_ms_median",
           "step_ms_q25", "step_ms_q75", "step_ms_max", "tokens_per_s", "model_flops_per_step",
           "attn_flops_per_step", "mfu", "rate_basis", "peak_tflops", "peak_mem_gb", "params_total",
           "host_syncs_per_step", "host_issue_ms_median", *ALLOC_COUNTERS, "kernel_ms_per_step",
           "audit_wall_ms_per_step", "compile", "status"]
STEP_COLUMNS = ["size", "context", "workload", "arm", "repeat", "step", "batch", "tokens", "step_ms",
                "host_ms", "round_start_unix"]


def plan(cfg: dict, sizes: list[str] | None = None, done: set | None = None) -> dict[str, list[tuple[str, int]]]:
    """size -> its (workload, context) points, from ``cfg['workloads']``: only ``sizes`` (in that
    order) when given, and without the (size, workload, context) points in ``done``."""
    out: dict[str, list[tuple[str, int]]] = {}
    for workload, spec in cfg["workloads"].items():
        for size in spec["sizes"]:
            if sizes is None or size in sizes:
                out.setdefault(size, []).extend(
                    (workload, c) for c in spec["contexts"] if (size, workload, c) not in (done or ()))
    order = sizes or list(out)
    return {size: out[size] for size in order if out.get(size)}


def run(cfg: dict, *, pool_lengths: np.ndarray, vocab_size: int, out_csv: str | Path,
        device_tag: str, device: str = "auto", sizes: list[str] | None = None,
        done: set | None = None, config_id: str = "", steps_out: str | Path | None = None) -> pd.DataFrame:
    """Measure every point of ``cfg`` (the validated ``train.throughput`` section) on the device
    tagged ``device_tag`` (its ``peak_tflops`` entry) and write the CSV (rewritten after each
    point, so a run cut short keeps what it finished); ``steps_out``: every timed step too."""
    from scsigmoid.train.trainer import resolve_device

    dev = resolve_device(device)
    peak = cfg["peak_tflops"]
    if isinstance(peak, dict):
        if device_tag not in peak:
            raise ValueError(f"train.throughput.peak_tflops has no entry for device '{device_tag}'; "
                             "add its dense bf16 peak (TFLOP/s) to config/config.yaml.")
        cfg = {**cfg, "peak_tflops": float(peak[device_tag])}
    rows: list[dict] = []
    steps: list[dict] = []
    prov = {**provenance(), "config": config_id}
    df = pd.DataFrame(columns=COLUMNS)
    for size, points in plan(cfg, sizes, done).items():
        for point_rows, step_rows in measure_size(size, points, cfg, vocab_size=vocab_size,
                                                  pool_lengths=pool_lengths, device=dev, seed=cfg["seed"]):
            rows += point_rows
            steps += step_rows
            df = pd.DataFrame(rows).reindex(columns=COLUMNS).assign(**prov)
            write_csv(df, out_csv)  # after every point: a run cut short keeps what it finished
            if steps_out is not None:
                write_csv(pd.DataFrame(steps).reindex(columns=STEP_COLUMNS).assign(**prov), steps_out)
    return df


#: columns :func:`annotate_clocks` adds from the GPU's clock log (nvidia-smi, see gpu/h200_training.sh)
CLOCK_COLUMNS = ["sm_clock_mhz_median", "sm_clock_mhz_min", "power_w_median", "power_capped_share", "clock_samples"]
_POWER_CAP_BIT = 0x4  # clocks_event_reasons: SW power cap (nvidia-smi --help-query-gpu)


def read_gpu_clocks(log: str | Path) -> pd.DataFrame:
    """The call's nvidia-smi log (``--query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,
    temperature.gpu,clocks_event_reasons.active --format=csv``) as unix time, SM MHz, watts and
    whether the power cap held the clocks down."""
    raw = pd.read_csv(log, skipinitialspace=True)
    if raw.shape[1] != 6 or not str(raw.columns[0]).startswith("timestamp"):
        raise ValueError(f"{log}: not an nvidia-smi clock log of gpu/h200_training.sh (columns {list(raw.columns)})")
    def number(col):  # "1740 MHz" -> 1740.0
        return pd.to_numeric(col.astype(str).str.split().str[0], errors="coerce")

    return pd.DataFrame({
        # nvidia-smi writes the machine's local time, UTC on the lent machines (the rounds' start
        # times are unix seconds)
        # (seconds since the epoch whatever unit pandas stores: pandas 3 parses to microseconds)
        "t": (pd.to_datetime(raw.iloc[:, 0], format="%Y/%m/%d %H:%M:%S.%f") - pd.Timestamp(0)).dt.total_seconds(),
        "sm_mhz": number(raw.iloc[:, 1]), "power_w": number(raw.iloc[:, 3]),
        "power_capped": raw.iloc[:, 5].astype(str).map(lambda v: bool(int(v, 16) & _POWER_CAP_BIT)
                                                        if v.startswith("0x") else False)})


def annotate_clocks(rows: pd.DataFrame, steps: pd.DataFrame, clocks: pd.DataFrame) -> pd.DataFrame:
    """Each (size, context, workload, arm, repeat) row with the GPU's clocks while its round ran
    (:data:`CLOCK_COLUMNS`; the round = its start time + the sum of its step times): under the
    H200's power cap the SM clock moves with the kernel mix, so the arms do not run at one clock."""
    key = ["size", "context", "workload", "arm", "repeat"]
    rounds = steps.groupby(key).agg(start=("round_start_unix", "first"), ms=("step_ms", "sum")).reset_index()
    stats = []
    for r in rounds.itertuples(index=False):
        inside = clocks[(clocks.t >= r.start) & (clocks.t <= r.start + r.ms / 1e3)]
        stats.append({**{k: getattr(r, k) for k in key},
                      "sm_clock_mhz_median": inside.sm_mhz.median(), "sm_clock_mhz_min": inside.sm_mhz.min(),
                      "power_w_median": inside.power_w.median(),
                      "power_capped_share": inside.power_capped.mean() if len(inside) else float("nan"),
                      "clock_samples": len(inside)})
    if stats and len(clocks) and not any(s["clock_samples"] for s in stats):
        raise ValueError(f"no clock sample inside any round (log {pd.Timestamp(clocks.t.min(), unit='s')} to "
                         f"{pd.Timestamp(clocks.t.max(), unit='s')}): the log was read before nvidia-smi flushed "
                         "it, or it comes from another call")
    out = rows.drop(columns=[c for c in CLOCK_COLUMNS if c in rows]).merge(
        pd.DataFrame(stats, columns=[*key, *CLOCK_COLUMNS]), how="left", on=key)
    return out


def done_points(csv: str | Path) -> set:
    """(size, workload, context) points of an earlier part (a point's rows are written together,
    once it is finished)."""
    df = pd.read_csv(csv)
    return {(size, w, int(c)) for size, w, c in df[["size", "workload", "context"]].drop_duplicates().values}


# ------------------------------------------------------------------------------ summary


def gain_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (size, context, workload, arm other than softmax): each repeat's gain
    (:data:`GAIN_DEFINITION`, paired by repeat), then median and quartiles over repeats."""
    ok = df[df["status"] == "ok"]
    keys = ["size", "context", "workload"]
    ok = ok.assign(outside_kernels_share=1.0 - ok.reindex(columns=["kernel_ms_per_step"]).iloc[:, 0]
                   / ok.reindex(columns=["audit_wall_ms_per_step"]).iloc[:, 0])
    soft = ok[ok["arm"] == BASELINE_ARM].set_index([*keys, "repeat"])
    base = soft.reindex(columns=["tokens_per_s", "host_syncs_per_step", "kernel_ms_per_step",
                                 "outside_kernels_share", "sm_clock_mhz_median"]).add_prefix("softmax_")
    rows = []
    for (size, context, workload, arm), g in ok[ok["arm"] != BASELINE_ARM].groupby([*keys, "arm"]):
        g = g.set_index([*keys, "repeat"])
        paired = g.join(base, how="inner")
        if paired.empty:
            continue
        gain = paired["tokens_per_s"] / paired["softmax_tokens_per_s"] - 1.0
        rows.append({"size": size, "context": context, "workload": workload, "arm": arm,
                     "kernel": g["kernel"].iloc[0], "layout": g["layout"].iloc[0],
                     # the code that measured the arm (points of one CSV may come from several calls)
                     "commit": str(g["commit"].iloc[0]) if "commit" in g else "",
                     "n_repeats": len(gain), "gain_median": float(gain.median()),
                     "gain_q25": float(gain.quantile(0.25)), "gain_q75": float(gain.quantile(0.75)),
                     "tokens_per_s_median": float(paired["tokens_per_s"].median()),
                     "softmax_tokens_per_s_median": float(paired["softmax_tokens_per_s"].median()),
                     "mfu_median": float(g["mfu"].median()),
                     "host_syncs_per_step": float(paired.get("host_syncs_per_step",
                                                             pd.Series(dtype=float)).median()),
                     "softmax_host_syncs_per_step": float(paired["softmax_host_syncs_per_step"].median()),
                     "tokens_per_step": float(g["tokens_per_step"].iloc[0]),
                     "cells_per_step": float(g["cells_per_step"].iloc[0]),
                     "compile": bool(g["compile"].iloc[0]) if "compile" in g else False,
                     # the same process's kernel-time audit (NaN where the part has none)
                     "kernel_gain": float((paired["softmax_kernel_ms_per_step"]
                                           / paired.get("kernel_ms_per_step", np.nan) - 1.0).median()),
                     "rate_basis": str(g["rate_basis"].iloc[0]) if "rate_basis" in g else "median_step",
                     # share of the audit pass's wall time outside GPU kernels, and the SM clocks
                     # of the timed rounds (NaN where not measured)
                     "outside_kernels_share": float(paired["outside_kernels_share"].median()),
                     "softmax_outside_kernels_share": float(paired["softmax_outside_kernels_share"].median()),
                     "sm_clock_mhz": float(paired.get("sm_clock_mhz_median", pd.Series(np.nan)).median()),
                     "softmax_sm_clock_mhz": float(paired["softmax_sm_clock_mhz_median"].median())})
    return pd.DataFrame(rows)


def merge(parts: list[str | Path], out_csv: str | Path, replace: bool = False) -> pd.DataFrame:
    """Concatenate throughput CSVs measured in several calls. A (size, workload, context) point
    measured in more than one part is an error, unless ``replace``: then the last part that has it
    supersedes the earlier ones (all of that point's rows). Parts written before the ``compile``
    column existed ran eager: their rows get ``compile`` = False; parts before ``rate_basis``
    get ``median_step`` (:data:`RATE_BASIS`)."""
    frames = []
    for p in parts:
        f = pd.read_csv(p)
        if "compile" not in f:
            f["compile"] = False
        if "rate_basis" not in f:  # parts measured before the round totals
            f["rate_basis"] = "median_step"
        frames.append(f)
    point = ["size", "workload", "context"]
    if replace:
        for i, f in enumerate(frames):
            later = pd.concat(frames[i + 1:])[point].drop_duplicates() if i + 1 < len(frames) else None
            if later is not None and len(later):
                hit = f[point].merge(later.assign(_later=True), how="left", on=point)["_later"].notna()
                frames[i] = f[~hit.to_numpy()]
    df = pd.concat(frames, ignore_index=True)
    key = [*point, "arm", "repeat"]
    dup = df[df.duplicated(key, keep=False)]
    if len(dup):
        raise ValueError(f"points measured in more than one part: {dup[key].drop_duplicates().values.tolist()[:5]}; "
                         "drop the superseded part or merge with --replace (the last part wins).")
    write_csv(df, out_csv)
    return df


# ------------------------------------------------------------------------------ where a step's time goes

#: GPU-kernel categories of :func:`profile_step`, first match on the lower-cased kernel name wins
KERNEL_CATEGORIES = (
    ("attention", ("flash", "fmha", "attn", "_fwd_kernel", "_bwd_dq_kernel", "_bwd_dkdv_kernel",
                   "_fwd_padded", "_bwd_padded")),
    ("matmul", ("gemm", "cutlass", "xmma", "nvjet", "cublas", "wgmma", "splitk")),
    ("optimizer", ("adam", "multi_tensor")),
)


def kernel_category(name: str) -> str:
    """``attention`` | ``matmul`` | ``optimizer`` | ``other`` (norms, activations, copies, loss)."""
    low = name.lower()
    for category, needles in KERNEL_CATEGORIES:
        if any(n in low for n in needles):
            return category
    return "other"


def profile_step(size: str, context: int, workload: str, cfg: dict, *, vocab_size: int,
                 pool_lengths: np.ndarray, device: torch.device, steps: int | None = None) -> pd.DataFrame:
    """GPU time per step of each arm split by kernel category (torch.profiler, after the arm's
    warm-up): what an MFU below target is made of. One row per (arm, category) with its ms per
    step, its share of the GPU time, and the FLOPs it is credited with where that is defined.
    ``steps`` (default: each of the point's batches once, the mix the timed rounds cycle over)
    cycle over the batches; the credited FLOPs are those of the profiled steps."""
    from torch.profiler import ProfilerActivity, profile

    with torch.device(device):
        model = Encoder(ModelConfig.of_size(size, vocab_size=vocab_size, max_len=context), seed=cfg["seed"])
    if cfg.get("compile", False):
        model.compile_blocks()
    step = _Stepper(model, device)
    batches = [b.to(device) for b in point_batches(workload, context, cfg, vocab_size=vocab_size,
                                                   pool_lengths=pool_lengths, seed=cfg["seed"])]
    mean_cell = float(np.mean([b.tokens / len(b.lengths) for b in batches]))
    steps = steps or len(batches)
    flops = [model_flops(model, b.lengths, len(b.packed[3])) for b in (batches[i % len(batches)]
                                                                       for i in range(steps))]
    total, attn = (float(np.mean([f[i] for f in flops])) for i in (0, 1))
    rows = []
    for arm in cfg["arms"]:
        if _skip_reason(arm, workload, context, device, mean_cell):
            continue
        for b in batches:  # warm-up: compile and autotune outside the profile
            step(arm, b)
        on_gpu = device.type == "cuda"  # on a CPU the host ops stand in (a smoke test of this code)
        if on_gpu:
            torch.cuda.synchronize(device)
        with profile(activities=[ProfilerActivity.CUDA if on_gpu else ProfilerActivity.CPU]) as prof:
            wall = _timed(step, arm, batches, steps, device)
        per = {}
        for key, ms in _kernel_ms(prof, on_gpu).items():
            per.setdefault(kernel_category(key), []).append((ms / steps, key))
        gpu_ms = sum(ms for v in per.values() for ms, _ in v)
        credited = {"attention": attn, "matmul": total - attn}
        for category, kernels in sorted(per.items()):
            ms = sum(m for m, _ in kernels)
            top = sorted(kernels, reverse=True)[:3]
            rows.append({"size": size, "context": context, "workload": workload, "arm": arm,
                         "category": category, "gpu_ms_per_step": ms, "share_of_gpu_time": ms / gpu_ms,
                         "step_ms_median": float(np.median(wall)), "step_ms_mean": float(np.mean(wall)),
                         "steps": steps,
                         "credited_tflops": (credited[category] / (ms * 1e-3) / 1e12
                                             if category in credited else float("nan")),
                         "top_kernels": " | ".join(f"{k[:60]} {m:.1f}ms" for m, k in top),
                         "compile": bool(cfg.get("compile", False))})
        print(f"[profile] {size} {workload} C={context} {arm}: step {np.median(wall):.1f} ms, " +
              ", ".join(f"{r['category']} {r['gpu_ms_per_step']:.1f} ms" for r in rows if r["arm"] == arm),
              flush=True)
    del model, step
    gc.collect()
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ command line


def main(argv=None) -> None:
    """``python -m scsigmoid.train.throughput --config config/config.yaml --corpus DIR --out CSV``
    (the GPU machine's entry point: same config file, same code as the ``train_throughput`` rule)."""
    from scsigmoid.config import fingerprint, load_config
    from scsigmoid.data.corpus import TokenCorpus

    p = argparse.ArgumentParser(prog="python -m scsigmoid.train.throughput", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure", help="measure the configured grid")
    m.add_argument("--config", default="config/config.yaml")
    m.add_argument("--configfile", action="append", default=[], help="overlay, as in snakemake")
    m.add_argument("--corpus", required=True, help="the pretraining TokenCorpus directory")
    m.add_argument("--out", required=True, help="CSV to write")
    m.add_argument("--sizes", nargs="+", default=None, help="only these sizes (split a grid over calls)")
    m.add_argument("--device-tag", default=None, help="peak_tflops entry (default: this GPU's tag)")
    m.add_argument("--skip", nargs="*", default=[], help="parts measured earlier: their ok points are skipped")
    m.add_argument("--steps-out", default=None, help="CSV of every timed step (batch, tokens, ms, host ms)")
    f = sub.add_parser("profile", help="where a step's GPU time goes, per arm (torch.profiler)")
    f.add_argument("--config", default="config/config.yaml")
    f.add_argument("--configfile", action="append", default=[], help="overlay, as in snakemake")
    f.add_argument("--corpus", required=True, help="the pretraining TokenCorpus directory")
    f.add_argument("--out", required=True, help="CSV to write")
    f.add_argument("--points", nargs="+", required=True, metavar="SIZE:WORKLOAD:CONTEXT",
                   help="e.g. 1.4B:full_context:8192")
    g = sub.add_parser("merge", help="concatenate parts measured in several calls")
    g.add_argument("parts", nargs="+")
    g.add_argument("--out", required=True)
    g.add_argument("--replace", action="store_true",
                   help="a point in a later part supersedes the same point in earlier parts")
    c = sub.add_parser("clocks", help="add the GPU's clocks and power during each round to a part")
    c.add_argument("part", help="a throughput part (measure --out)")
    c.add_argument("--steps", required=True, help="its steps CSV (measure --steps-out)")
    c.add_argument("--clocks", required=True, help="the call's nvidia-smi log, *_gpu_clocks.log (gpu/h200_training.sh)")
    c.add_argument("--out", required=True)
    args = p.parse_args(argv)
    if args.command == "merge":
        merge(args.parts, args.out, replace=args.replace)
        return
    if args.command == "clocks":
        write_csv(annotate_clocks(pd.read_csv(args.part), pd.read_csv(args.steps), read_gpu_clocks(args.clocks)),
                  args.out)
        return
    config = load_config(args.config, args.configfile)
    cfg = config["train"]["throughput"]
    corpus = TokenCorpus(args.corpus)
    if args.command == "profile":
        from scsigmoid.train.trainer import resolve_device

        frames = []
        for point in args.points:
            size, workload, context = point.split(":")
            frames.append(profile_step(size, int(context), workload, cfg, vocab_size=corpus.vocab_size,
                                       pool_lengths=np.asarray(corpus.lengths), device=resolve_device("auto")))
            write_csv(pd.concat(frames).assign(**provenance(), config=f"{args.config}#train.throughput@{fingerprint(cfg)}"),
                      args.out)
        return
    from scsigmoid.provenance import device_slug

    run(cfg, pool_lengths=np.asarray(corpus.lengths), vocab_size=corpus.vocab_size, out_csv=args.out,
        device_tag=args.device_tag or device_slug(), sizes=args.sizes,
        done=set().union(*(done_points(p) for p in args.skip)),
        config_id=f"{args.config}#train.throughput@{fingerprint(cfg)}", steps_out=args.steps_out)


if __name__ == "__main__":
    main()
