"""One small adapter per attention implementation: whether it can run here (available), which
(padding, pass) points it covers (supports), and prepare(inputs) -> a Prepared forward call in
the implementation's own layout, plus the layout conversions the correctness gate needs.

Third-party packages (triton_sigmoid, flash_attn, FlashSigmoid) are imported lazily, inside
available()/prepare(), so this module imports on any machine."""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from scsigmoid.bench.eager import eager_attention, query_valid_mask

# ----------------------------------------------------------------------------- inputs and layouts


@dataclass
class Inputs:
    """Canonical inputs of one point: q, k, v [B, L, H, D] and the valid lengths [B] (int32)."""

    q: torch.Tensor
    k: torch.Tensor
    v: torch.Tensor
    lengths: torch.Tensor
    padding_pct: int

    @property
    def seq_len(self) -> int:
        return self.q.shape[1]

    @property
    def scale(self) -> float:
        return 1.0 / math.sqrt(self.q.shape[-1])

    @property
    def cu_seqlens(self) -> torch.Tensor:
        import sigattn

        return sigattn.cu_seqlens(self.lengths.to(self.q.device))

    @property
    def max_len(self) -> int:
        return int(self.lengths.max().item())


def make_inputs(batch: int, seq_len: int, heads: int, head_dim: int, lengths,
                padding_pct: int, *, device: str, dtype: torch.dtype, seed: int) -> Inputs:
    """Random normal q, k, v (seeded, drawn on ``device``: 3 x 33M normals on the host took a
    good part of a second per point) with the given per-sequence lengths."""
    gen = torch.Generator(device=device).manual_seed(seed)
    shape = (batch, seq_len, heads, head_dim)
    q, k, v = (torch.randn(shape, generator=gen, device=device).to(dtype) for _ in range(3))
    lens = torch.as_tensor(list(lengths), dtype=torch.int32, device=device)
    if lens.shape != (batch,) or int(lens.min()) < 1 or int(lens.max()) > seq_len:
        raise ValueError(f"lengths must be {batch} values in [1, {seq_len}]; got {list(lengths)}.")
    return Inputs(q, k, v, lens, padding_pct)


def pack(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """[B, L, H, D] -> [T, H, D], keeping the first lengths[b] tokens of each sequence."""
    return x[query_valid_mask(lengths, x.shape[1])]


def unpack(t: torch.Tensor, lengths: torch.Tensor, seq_len: int) -> torch.Tensor:
    """[T, H, D] -> [B, L, H, D] with zeros at padded positions."""
    out = t.new_zeros((lengths.numel(), seq_len, *t.shape[1:]))
    out[query_valid_mask(lengths, seq_len)] = t
    return out


LAYOUTS = ("bshd", "bhsd", "packed")


def to_canonical(layout: str, x: torch.Tensor, inputs: Inputs) -> torch.Tensor:
    """A q-shaped tensor in ``layout`` -> [B, L, H, D] with padded query rows zeroed."""
    if layout == "bshd":
        out = x
    elif layout == "bhsd":
        out = x.transpose(1, 2)
    elif layout == "packed":
        return unpack(x, inputs.lengths, inputs.seq_len)
    else:
        raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}.")
    valid = query_valid_mask(inputs.lengths, inputs.seq_len)[:, :, None, None]
    return out.masked_fill(~valid, 0.0)


def from_canonical(layout: str, x: torch.Tensor, inputs: Inputs) -> torch.Tensor:
    """[B, L, H, D] -> ``layout`` (contiguous)."""
    if layout == "bshd":
        return x.contiguous()
    if layout == "bhsd":
        return x.transpose(1, 2).contiguous()
    if layout == "packed":
        return pack(x, inputs.lengths).contiguous()
    raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}.")


@dataclass
class Prepared:
    """A ready forward call: ``run()`` returns the output in the adapter's layout; ``leaves``
    are its q, k, v (requires_grad) in that layout."""

    run: Callable[[], torch.Tensor]
    leaves: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    layout: str


# ----------------------------------------------------------------------------- adapter base


def _cuda_reason() -> tuple[bool, str]:
    if not torch.cuda.is_available():
        return False, "needs a CUDA GPU (none visible)"
    return True, ""


def _import(module: str) -> tuple[object | None, str]:
    try:
        return importlib.import_module(module), ""
    except Exception as exc:  # ImportError, or a package that raises on import without CUDA
        return None, f"cannot import {module}: {type(exc).__name__}: {exc}"[:300]


class Adapter:
    """Base class. Subclasses set the class attributes and implement ``forward``."""

    name: str = ""
    kind: str = "sigmoid"  # which fp32 reference checks it: 'sigmoid' or 'softmax'
    layout: str = "bshd"
    padded: bool = False  # True: runs padded batches (padding > 0); False: dense (padding 0 only)
    dense_too: bool = False  # True: also runs padding 0 (implementations that take either)
    causal: bool = False
    bias: float | None = 0.0  # the sigmoid bias the benchmark uses (None = -log n)
    needs_cuda: bool = True

    def available(self) -> tuple[bool, str]:
        if self.needs_cuda:
            return _cuda_reason()
        return True, ""

    def supports(self, padding_pct: int, pass_: str) -> tuple[bool, str]:
        if padding_pct == 0 and self.padded and not self.dense_too:
            return False, "padded/varlen variant: benchmarked at padding > 0 only"
        if padding_pct > 0 and not self.padded:
            return False, "dense kernel: would compute padded FLOPs; run only at 0% padding"
        return True, ""

    def memory_estimate(self, inputs: Inputs, pass_: str) -> int | None:
        """Bytes of extra device memory the call needs, where it matters (eager); else None."""
        return None

    def reset_launch_config(self) -> None:
        """Forget the launch configs recorded so far (before a point's first call)."""

    def launch_config(self) -> str:
        """The kernel configs the point's calls launched with (the ``config`` column), if known."""
        return ""

    def prepare(self, inputs: Inputs) -> Prepared:
        leaves = tuple(
            from_canonical(self.layout, t, inputs).detach().requires_grad_(True)
            for t in (inputs.q, inputs.k, inputs.v)
        )
        state = self.setup(inputs)

        def run():
            return self.forward(*leaves, inputs, state)

        return Prepared(run, leaves, self.layout)

    def setup(self, inputs: Inputs):
        """Work done once per point outside the timed region (masks, length tensors)."""
        return None

    def forward(self, q, k, v, inputs: Inputs, state):  # pragma: no cover - abstract
        raise NotImplementedError


# ----------------------------------------------------------------------------- ours (sigattn)


def variant_suffix() -> str:
    """'' for the kernel's default variant, else e.g. '_fma', '_tma', '_tma_fma' (what sigattn read
    from SIGATTN_SIGMOID / SIGATTN_TMA at import), so rows timed with another variant never pass
    for the default's."""
    from sigattn import triton_kernels

    return triton_kernels.variant_suffix()


class _Ours(Adapter):
    def __init__(self):
        self.name = type(self).name + variant_suffix()

    def reset_launch_config(self):
        from sigattn import triton_kernels

        triton_kernels.LAST_CONFIG.clear()

    def launch_config(self):
        """e.g. ``fwd@512=64,64,4,3:autotune`` (sigattn.tuned.format_config): kernel, bucket,
        (BLOCK_M, BLOCK_N, num_warps, num_stages), and whether autotuned or from the table."""
        from sigattn import triton_kernels, tuned

        return tuned.format_config(triton_kernels.LAST_CONFIG)

    def available(self):
        ok, reason = _cuda_reason()
        if not ok:
            return ok, reason
        mod, reason = _import("sigattn")
        return (mod is not None), reason


class OursDense(_Ours):
    name = "ours_dense"

    def forward(self, q, k, v, inputs, state):
        import sigattn

        return sigattn.sigmoid_attention(q, k, v, causal=self.causal, scale=inputs.scale,
                                         bias=self.bias)


class OursDenseTrainBias(OursDense):
    name = "ours_dense_trainbias"
    bias = None


class OursDenseCausal(OursDense):
    name = "ours_dense_causal"
    causal = True


class OursPadded(_Ours):
    name = "ours_padded"
    padded = True

    def forward(self, q, k, v, inputs, state):
        import sigattn

        with sigattn.trusted_lengths():  # the benchmark's own lengths: no host sync to check them
            return sigattn.sigmoid_attention(q, k, v, seq_lens_q=inputs.lengths,
                                             seq_lens_k=inputs.lengths, scale=inputs.scale,
                                             bias=self.bias)


class OursVarlen(_Ours):
    name = "ours_varlen"
    padded = True
    layout = "packed"

    def setup(self, inputs):
        return inputs.cu_seqlens, inputs.max_len

    def forward(self, q, k, v, inputs, state):
        import sigattn

        cu, max_len = state
        with sigattn.trusted_lengths():
            return sigattn.sigmoid_attention_varlen(q, k, v, cu, cu, max_seqlen_q=max_len,
                                                    max_seqlen_k=max_len, scale=inputs.scale,
                                                    bias=self.bias)


# ----------------------------------------------------------------------------- TritonSigmoid


class _TritonSigmoid(Adapter):
    #: its module and autotuned kernels (fwd, dq, dkdv), whose choices fill the ``config`` column
    module: str = ""
    kernels: tuple[str, str, str] = ("", "", "")

    def _autotuners(self) -> dict:
        """Its autotuned kernels by pass name; one its version lacks is left out (no config cell)."""
        module = importlib.import_module(f"triton_sigmoid.{self.module}")
        tuners = {name: getattr(module, kernel, None) for name, kernel in zip(("fwd", "dq", "dkdv"), self.kernels,
                                                                               strict=True)}
        return {name: tuner for name, tuner in tuners.items() if tuner is not None}

    def reset_launch_config(self):
        for tuner in self._autotuners().values():
            tuner.best_config = None  # set again by every launch (Triton's Autotuner.run)

    def launch_config(self):
        """e.g. ``fwd=128,64,4,3:autotune`` for each of its kernels the point launched: (BLOCK_M,
        BLOCK_N, num_warps, num_stages) of its autotuner's choice. No ``@bucket``: its key's
        length bucket is its own, so a cell never reads as one of ours (sigattn.tuned.parse_config)."""
        cells = []
        for name, tuner in self._autotuners().items():
            c = getattr(tuner, "best_config", None)
            if c is not None:
                cells.append(f"{name}={c.kwargs['BLOCK_M']},{c.kwargs['BLOCK_N']},{c.num_warps},"
                             f"{c.num_stages}:autotune")
        return ";".join(cells)

    def available(self):
        ok, reason = _cuda_reason()
        if not ok:
            return ok, reason
        mod, reason = _import("triton_sigmoid")
        if mod is None:
            reason += " (install the wheel: pip install --no-deps triton-sigmoid==0.1.2)"
        return (mod is not None), reason


class TritonSigmoidDense(_TritonSigmoid):
    name = "tritonsigmoid_dense"
    module = "sigmoid_triton_dense"
    kernels = ("_fwd_dense_kernel", "_bwd_dense_dq_kernel", "_bwd_dense_dkdv_kernel")

    def forward(self, q, k, v, inputs, state):
        from triton_sigmoid import sigmoid_attention

        return sigmoid_attention(q, k, v, is_causal=False, scale=inputs.scale, sigmoid_bias=0.0)


class TritonSigmoidPadded(_TritonSigmoid):
    name = "tritonsigmoid_padded"
    padded = True
    module = "sigmoid_triton_padded"
    kernels = ("_fwd_padded_kernel", "_bwd_padded_dq_kernel", "_bwd_padded_dkdv_kernel")

    def forward(self, q, k, v, inputs, state):
        from triton_sigmoid import sigmoid_attention_padded

        return sigmoid_attention_padded(q, k, v, seq_lens_k=inputs.lengths,
                                        seq_lens_q=inputs.lengths, is_causal=False,
                                        scale=inputs.scale, sigmoid_bias=0.0)


# ----------------------------------------------------------------------------- softmax baselines


def _sdpa_backend(name: str):
    from torch.nn.attention import SDPBackend

    return getattr(SDPBackend, name)


class FA2Dense(Adapter):
    """FlashAttention-2 as vendored in torch (SDPA, flash backend only: no silent fallback)."""

    name = "fa2_dense"
    kind = "softmax"
    layout = "bhsd"
    backend = "FLASH_ATTENTION"

    def setup(self, inputs):
        return None

    def forward(self, q, k, v, inputs, state):
        from torch.nn.attention import sdpa_kernel

        with sdpa_kernel([_sdpa_backend(self.backend)]):
            return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=state,
                                                                    scale=inputs.scale)


class CudnnSDPA(FA2Dense):
    """cuDNN attention through SDPA with only the cuDNN backend enabled (an unsupported call
    raises instead of falling back). Padding: a boolean key-padding mask [B, 1, 1, L]; the
    kernel then still visits padded tiles, but is credited useful FLOPs like everyone else."""

    name = "cudnn_sdpa"
    backend = "CUDNN_ATTENTION"
    padded = True
    dense_too = True

    def setup(self, inputs):
        if inputs.padding_pct == 0:
            return None
        from scsigmoid.bench.eager import key_padding_mask

        return key_padding_mask(inputs.lengths, inputs.seq_len)


class FA2Varlen(Adapter):
    """torch.nn.attention.varlen.varlen_attn (FA2 varlen inside torch >= 2.10)."""

    name = "fa2_varlen"
    kind = "softmax"
    layout = "packed"
    padded = True

    def available(self):
        ok, reason = _cuda_reason()
        if not ok:
            return ok, reason
        mod, reason = _import("torch.nn.attention.varlen")
        if mod is None or not hasattr(mod, "varlen_attn"):
            return False, reason or "torch.nn.attention.varlen.varlen_attn missing (torch >= 2.10)"
        return True, ""

    def setup(self, inputs):
        return inputs.cu_seqlens, inputs.max_len

    def forward(self, q, k, v, inputs, state):
        from torch.nn.attention.varlen import varlen_attn

        cu, max_len = state
        return varlen_attn(q, k, v, cu, cu, max_len, max_len, scale=inputs.scale)


class _FlashAttnPkg(Adapter):
    kind = "softmax"

    def available(self):
        ok, reason = _cuda_reason()
        if not ok:
            return ok, reason
        mod, reason = _import("flash_attn")
        return (mod is not None), reason


class FlashAttnDense(_FlashAttnPkg):
    name = "flash_attn_dense"

    def forward(self, q, k, v, inputs, state):
        from flash_attn import flash_attn_func

        return flash_attn_func(q, k, v, softmax_scale=inputs.scale, causal=False)


class FlashAttnVarlen(_FlashAttnPkg):
    name = "flash_attn_varlen"
    layout = "packed"
    padded = True

    def setup(self, inputs):
        return inputs.cu_seqlens, inputs.max_len

    def forward(self, q, k, v, inputs, state):
        from flash_attn import flash_attn_varlen_func

        cu, max_len = state
        return flash_attn_varlen_func(q, k, v, cu, cu, max_len, max_len,
                                      softmax_scale=inputs.scale, causal=False)


# ----------------------------------------------------------------------------- FlashSigmoid


FLASHSIGMOID_MODULES = ("flash_sigmoid", "flash_exp")


class FlashSigmoid(Adapter):
    """Apple's FlashSigmoid (FA2 fork, built from source) when importable: dense only."""

    name = "flashsigmoid"

    def _function(self):
        for module in FLASHSIGMOID_MODULES:
            mod, _ = _import(module)
            if mod is not None and hasattr(mod, "flash_attn_func"):
                return mod.flash_attn_func
        return None

    def available(self):
        ok, reason = _cuda_reason()
        if not ok:
            return ok, reason
        fn = self._function()
        if fn is None:
            return False, (f"none of {FLASHSIGMOID_MODULES} importable (not on a package "
                           "registry); the figures use reference/flashsigmoid_h200.csv")
        if self._bias_keyword(fn) is None:
            return False, "its flash_attn_func has no bias argument: cannot run the bias-0 protocol"
        return True, ""

    @staticmethod
    def _bias_keyword(fn) -> str | None:
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            return None
        return next((p for p in params if "bias" in p.lower()), None)

    def setup(self, inputs):
        fn = self._function()
        return fn, self._bias_keyword(fn)

    def forward(self, q, k, v, inputs, state):
        fn, bias_kw = state
        return fn(q, k, v, softmax_scale=inputs.scale, causal=False, **{bias_kw: 0.0})


# ----------------------------------------------------------------------------- eager


class EagerSigmoid(Adapter):
    """"Standard attention": plain PyTorch sigmoid attention, keys masked when padded."""

    name = "eager_sigmoid"
    layout = "bhsd"
    padded = True
    dense_too = True
    needs_cuda = False
    live_score_tensors = {"fwd": 3, "bwd": 6}  # [B, H, L, L] tensors alive at peak

    def memory_estimate(self, inputs, pass_):
        batch, seq_len, heads, _ = inputs.q.shape
        per_score = batch * heads * seq_len * seq_len * inputs.q.element_size()
        return self.live_score_tensors[pass_] * per_score

    def forward(self, q, k, v, inputs, state):
        lengths = inputs.lengths if inputs.padding_pct > 0 else None
        return eager_attention(q, k, v, lengths, kind="sigmoid", bias=self.bias,
                               scale=inputs.scale)


ALL_ADAPTERS: tuple[type[Adapter], ...] = (
    OursDense, OursPadded, OursVarlen, OursDenseTrainBias, OursDenseCausal,
    TritonSigmoidDense, TritonSigmoidPadded,
    FA2Dense, FA2Varlen, FlashAttnDense, FlashAttnVarlen, CudnnSDPA,
    FlashSigmoid, EagerSigmoid,
)


def default_adapters(names: list[str] | None = None) -> list[Adapter]:
    """Instances of every adapter, or of the named ones (unknown names are an error)."""
    by_name = {cls.name: cls for cls in ALL_ADAPTERS}
    if names is None:
        return [cls() for cls in ALL_ADAPTERS]
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"unknown implementation(s) {unknown}; choose from {sorted(by_name)}.")
    return [by_name[n]() for n in names]
