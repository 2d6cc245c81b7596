"""sigattn: sigmoid attention O = sigmoid(Q·Kᵀ·scale + b + score_mod)·V in Triton.

Modules, side by side like a tutorial:
- ``triton_kernels``: the forward kernel and the two backward kernels (dQ; dK/dV, which fused
  also adds dQ), with launchers;
- ``gluon_kernels``: the forward again, warp-specialised for sm_90 in Gluon (TMA loader warp,
  the sigmoid of one key tile under the next tile's QKᵀ), which the default launches for bf16
  inputs at head dim 128 from 8K query rows on (``triton_kernels.TUNED_WS_FROM``);
- ``gluon_backward``: the backward in one warp-specialised Gluon kernel for sm_90 (five matmuls a
  tile pair, dQ added by TMA reductions), which the default launches at head dim 128 from 1K key
  rows on, in its persistent form below 4K (``triton_kernels.TUNED_WSB``; ``SIGATTN_WSB=1``: its
  form adding dQ by ``red``; ``SIGATTN_WSB=tma`` / ``persistent``: either form alone);
- ``ops``: the public functions and the ``torch.library`` custom ops (autograd, torch.compile);
- ``reference``: the same maths in plain PyTorch (ground truth, CPU fallback);
- ``backend``: which of the two runs for a tensor (:func:`backend_for`);
- ``checks``: argument checking; ``debug``: NaN-poisoned outputs for tests;
- ``selfcheck``: compile/autotune + correctness report for configured shapes;
- ``resources``: every autotune config compiled for sm_90 on any machine (registers, spills, SASS);
- ``tuned``: the config each kernel takes on a known GPU without autotuning (measured choices).

Environment, read at import: ``TRITON_INTERPRET=1`` runs the kernels on CPU tensors (slow; tests
only). The default kernel launches, per pass and head dim, the variant measured fastest on the
H200 (``triton_kernels.TUNED_VARIANTS``; ``SIGATTN_VARIANT=tuned``, kernels/PERF.md); one single
variant for every launch instead: ``SIGATTN_SIGMOID=fast|exact|fma|halley|mixed|bf16x2|tanh`` (the
sigmoid evaluation, see ``triton_kernels._sigmoid``) and/or ``SIGATTN_TMA=0|1`` (streamed tiles
through tensor descriptors on sm_90+) and/or ``SIGATTN_FUSED=0|1`` (the fused backward: one
dK/dV kernel adding dQ by atomics, not bitwise reproducible; never taken while
``torch.use_deterministic_algorithms(True)``) and/or ``SIGATTN_QREG=0|1`` / ``SIGATTN_KVREG=0|1``
(the forward's and dQ kernel's Q / dO, the dK/dV kernel's K / V kept in registers as their
matmuls' A operand; session 29, opt-in) and/or ``SIGATTN_WS=0|1|persistent`` (the Gluon
forward at every length, where it can run; ``persistent``: its persistent form, timed in session
24 and not the default's anywhere: kernels/PERF.md) and/or ``SIGATTN_WSB=0|1|tma`` (the Gluon backward
at every length, where it can run: not causal, no score_mod, one query head a key/value head; ``1``
dQ by ``red``, ``tma`` by TMA reductions; not bitwise reproducible, never taken under
``torch.use_deterministic_algorithms``, nor by the default), or
``SIGATTN_VARIANT=single`` (pointer loads, ``fast``);
``SIGATTN_AUTOTUNE=table|full|0`` how a launch picks its config (the
measured table of ``tuned`` for this GPU, autotuning what it lacks; always autotune; one small
config); ``SIGATTN_CHECK_VALUES=0`` skips the host-side length checks (``trusted_lengths()`` for a block);
``SIGATTN_EAGER_OP=custom`` eager calls through the torch.library custom ops (as compiled code).
"""

from . import reference
from .backend import INTERPRETER, backend_for
from .ops import cu_seqlens, sigmoid_attention, sigmoid_attention_varlen, trusted_lengths

__all__ = ["INTERPRETER", "backend_for", "cu_seqlens", "reference", "sigmoid_attention",
           "sigmoid_attention_varlen", "trusted_lengths"]
