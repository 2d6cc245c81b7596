import math

import numpy as np
import pytest
import torch

from scsigmoid.model import Encoder, ModelConfig, embed, size_table
from scsigmoid.model.attention import Packed, attend, attention_backend, max_logit_proxy
from scsigmoid.model.encoder import pad_batch
from scsigmoid.model.probe import attention_scores


def naive_attention(q, k, v, n, kind):
    """One cell, valid part only: [n, H, D]."""
    s = torch.einsum("qhd,khd->hqk", q[:n], k[:n]).double() / math.sqrt(q.shape[-1])
    p = torch.softmax(s, -1) if kind == "softmax" else torch.sigmoid(s - math.log(n))
    return torch.einsum("hqk,khd->qhd", p, v[:n].double())


@pytest.mark.parametrize("kind", ["softmax", "sigmoid"])
def test_attend_matches_naive_per_cell_and_zeroes_padding(kind):
    torch.manual_seed(0)
    q, k, v = (torch.randn(3, 11, 2, 16) for _ in range(3))
    lens = torch.tensor([11, 6, 1])
    out = attend(q, k, v, lens, kind)
    for b, n in enumerate(lens.tolist()):
        ref = naive_attention(q[b], k[b], v[b], n, kind).float()
        torch.testing.assert_close(out[b, :n], ref, atol=1e-5, rtol=1e-4)
        assert torch.all(out[b, n:] == 0)


def test_attention_choice_is_validated():
    with pytest.raises(ValueError, match="attention must be one of"):
        ModelConfig(vocab_size=10, attention="relu")
    with pytest.raises(ValueError, match="unknown model size"):
        ModelConfig.of_size("huge", vocab_size=10)
    assert attention_backend("softmax", "cpu") == "sdpa_masked"


@pytest.mark.parametrize("kind", ["softmax", "sigmoid"])
def test_encoder_output_does_not_depend_on_padding(kind):
    torch.manual_seed(0)
    model = Encoder(ModelConfig.of_size("tiny", vocab_size=50, max_len=32, attention=kind))
    cells = [np.array([1, 5, 9, 7, 30]), np.array([1, 8, 8, 40, 12, 6, 22, 33, 10])]
    alone, _ = model(*pad_batch(cells[:1]))
    together, _ = model(*pad_batch(cells))
    torch.testing.assert_close(alone[0], together[0, :5], atol=1e-5, rtol=1e-4)


def test_too_long_input_is_rejected():
    model = Encoder(ModelConfig.of_size("tiny", vocab_size=50, max_len=8))
    with pytest.raises(ValueError, match="exceeds the model's max_len 8"):
        model(*pad_batch([np.arange(1, 12)]))


def test_max_logit_proxy_equals_full_max_on_small_inputs():
    torch.manual_seed(1)
    q, k = torch.randn(2, 10, 2, 8), torch.randn(2, 10, 2, 8)
    lens = torch.tensor([10, 4])
    full = []
    for b, n in enumerate(lens.tolist()):
        full.append((torch.einsum("qhd,khd->hqk", q[b, :n], k[b, :n]).abs() / math.sqrt(8)).max())
    assert torch.isclose(max_logit_proxy(q, k, lens), torch.stack(full).max())


def test_size_table_matches_the_paper_sizes():
    table = size_table(vocab_size=30000).set_index("size")
    non_emb = table["params_non_embedding"]
    # 12·L·d² rule of thumb: 160M, 400M, 600M, 1.4B
    for size, target in [("160M", 160e6), ("400M", 400e6), ("600M", 600e6), ("1.4B", 1.4e9)]:
        assert 0.85 * target < non_emb[size] < 1.2 * target, size
    assert (table["head_dim"].loc[["small", "160M", "1.4B"]] == 64).all()
    assert (table["params_total"] > table["params_non_embedding"]).all()


def test_embed_mean_excludes_cls_and_is_batch_invariant(tiny_corpus):
    torch.manual_seed(0)
    model = Encoder(ModelConfig.of_size("tiny", vocab_size=tiny_corpus.vocab_size, max_len=16))
    e4 = embed(model, tiny_corpus, context=16, batch_size=4, device="cpu")
    e1 = embed(model, tiny_corpus, context=16, batch_size=1, device="cpu")
    assert e4["mean"].shape == (len(tiny_corpus), 64) and e4["mean"].dtype == np.float32
    np.testing.assert_allclose(e4["mean"], e1["mean"], atol=1e-5)
    np.testing.assert_allclose(e4["cls"], e1["cls"], atol=1e-5)
    tokens, lens = pad_batch([tiny_corpus.cell(3, 16)])
    hidden, _ = model(tokens, lens)
    np.testing.assert_allclose(e4["mean"][3], hidden[0, 1:].mean(0).detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(e4["cls"][3], hidden[0, 0].detach().numpy(), atol=1e-5)


def test_attention_scores_carry_the_sigmoid_bias():
    cells = [np.array([1, 5, 9, 7, 30, 11, 12]), np.array([1, 8, 40, 12])]
    out = {}
    for kind in ("softmax", "sigmoid"):
        torch.manual_seed(0)
        model = Encoder(ModelConfig.of_size("tiny", vocab_size=50, max_len=16, attention=kind))
        out[kind] = attention_scores(model, cells, n_rows=3, n_keys=5)
    s = out["sigmoid"]["scores"]
    assert s.shape == (2, 2, 2, 3, 5)
    assert np.isnan(s[1, :, :, :, 4]).all()  # second cell has only 4 keys
    # same weights, same layer-0 input: the scores differ by exactly b = -log n
    diff = s[:, 0] - out["softmax"]["scores"][:, 0]
    np.testing.assert_allclose(diff[0][~np.isnan(diff[0])], -math.log(7), atol=1e-5)
    np.testing.assert_allclose(diff[1][~np.isnan(diff[1])], -math.log(4), atol=1e-5)


@pytest.mark.parametrize("kind", ["softmax", "sigmoid"])
def test_packed_layout_matches_padded(kind):
    from scsigmoid.model import Packed

    torch.manual_seed(0)
    model = Encoder(ModelConfig.of_size("tiny", vocab_size=50, max_len=32, attention=kind))
    cells = [np.array([1, 5, 9, 7, 30]), np.array([1, 8, 8, 40, 12, 6, 22, 33, 10]), np.array([1, 4])]
    tokens, lens = pad_batch(cells)
    padded, m_pad = model(tokens, lens, want_max_logit=True)
    keep = torch.arange(tokens.shape[1])[None] < lens[:, None]
    layout = Packed.from_lengths(lens)
    assert layout.positions.tolist() == [0, 1, 2, 3, 4, *range(9), 0, 1]
    packed, m_pack = model(tokens[keep], layout, want_max_logit=True)
    torch.testing.assert_close(packed, padded[keep], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(m_pack, m_pad)  # all rows sampled at this size: exact maxima


def test_compiled_blocks_match_eager_share_one_graph_and_keep_attention_eager(monkeypatch):
    """compile_blocks: same loss and gradients as the eager model (fp32, CPU Inductor), one set of
    compiled graphs for every layer and every token count (dynamic), and the attention called
    outside the compiled graphs (each arm's own kernel, as written)."""
    from torch._dynamo.utils import counters

    from scsigmoid.model import encoder as enc

    torch._dynamo.reset()
    counters.clear()
    seen_compiling = []
    real = enc.attend_packed

    def spy(*args, **kwargs):
        seen_compiling.append(torch.compiler.is_compiling())
        return real(*args, **kwargs)

    monkeypatch.setattr(enc, "attend_packed", spy)
    cfg = ModelConfig(vocab_size=60, max_len=128, n_layers=4, d_model=32, n_heads=2, attention="sigmoid")
    eager, compiled = Encoder(cfg, seed=3), Encoder(cfg, seed=3).compile_blocks()
    graphs = []
    for lengths in ([30, 50], [20, 70, 11], [100]):  # three token counts: no recompilation
        lens = torch.tensor(lengths)
        layout = Packed.from_lengths(lens)
        tokens = torch.randint(5, 60, (int(lens.sum()),), generator=torch.Generator().manual_seed(len(lengths)))
        for model in (eager, compiled):
            model.zero_grad()
            hidden, _ = model(tokens, layout)
            (hidden.square().mean()).backward()
        he, _ = eager(tokens, layout)
        hc, _ = compiled(tokens, layout)
        torch.testing.assert_close(hc, he, rtol=1e-5, atol=1e-5)
        for pe, pc in zip(eager.parameters(), compiled.parameters(), strict=True):
            torch.testing.assert_close(pc.grad, pe.grad, rtol=1e-4, atol=1e-6)
        graphs.append(counters["stats"]["unique_graphs"])
    assert 1 <= graphs[0] == graphs[-1] <= 4, graphs  # 4 layers, 3 token counts: the first layer's graphs only
    assert seen_compiling and not any(seen_compiling)  # attention ran eager, every layer
    # the switch of arms (throughput protocol) reuses the compiled graphs too
    compiled.set_attention("softmax")
    compiled(tokens, layout)
    assert counters["stats"]["unique_graphs"] == graphs[-1]
