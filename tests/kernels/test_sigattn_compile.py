"""torch.compile(fullgraph=True) traces through the custom ops: forward and backward, both layouts."""

import sigattn
import torch
from sigattn_testutil import leaf, qkv, randn


def test_compile_fullgraph_padded_forward_backward(device):
    torch._dynamo.reset()
    q, k, v = qkv(2, 20, 20, 2, 1, 16, device=device, seed=20)
    lens = torch.tensor([20, 5], dtype=torch.int32, device=device)

    def step(q, k, v, lens):
        return sigattn.sigmoid_attention(q, k, v, seq_lens_q=lens, causal=True).square().sum()

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    loss = compiled(q, k, v, lens)
    grads = torch.autograd.grad(loss, (q, k, v))
    q2, k2, v2 = (leaf(t) for t in (q, k, v))
    loss_eager = step(q2, k2, v2, lens)
    grads_eager = torch.autograd.grad(loss_eager, (q2, k2, v2))
    torch.testing.assert_close(loss, loss_eager)
    for a, b in zip(grads, grads_eager, strict=True):
        torch.testing.assert_close(a, b)


def test_compile_fullgraph_varlen_forward_backward(device):
    torch._dynamo.reset()
    q, k, v = qkv(1, 12, 12, 1, 1, 16, device=device, seed=21, packed=True)
    cu = torch.tensor([0, 5, 12], dtype=torch.int32, device=device)
    mod = randn(12, seed=22, device=device)

    def step(q, k, v):
        return sigattn.sigmoid_attention_varlen(q, k, v, cu, max_seqlen_q=7, score_mod=mod).sum()

    loss = torch.compile(step, fullgraph=True, backend="aot_eager")(q, k, v)
    grads = torch.autograd.grad(loss, (q, k, v))
    q2, k2, v2 = (leaf(t) for t in (q, k, v))
    grads_eager = torch.autograd.grad(step(q2, k2, v2), (q2, k2, v2))
    for a, b in zip(grads, grads_eager, strict=True):
        torch.testing.assert_close(a, b)
