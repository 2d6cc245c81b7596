"""On the H200 only: both arms run their fast kernels and agree with the padded reference."""

import numpy as np
import pytest
import torch

from scsigmoid.model import Encoder, ModelConfig
from scsigmoid.model.attention import attend, attention_backend
from scsigmoid.model.encoder import pad_batch

pytestmark = pytest.mark.gpu
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@cuda
@pytest.mark.parametrize("kind", ["softmax", "sigmoid"])
def test_fast_attention_matches_cpu_path(kind):
    torch.manual_seed(0)
    q, k, v = (torch.randn(3, 200, 4, 64) for _ in range(3))
    lens = torch.tensor([200, 131, 7])
    want = attend(q, k, v, lens, kind)
    got = attend(*(t.cuda().bfloat16() for t in (q, k, v)), lens.cuda(), kind).float().cpu()
    torch.testing.assert_close(got, want, atol=3e-2, rtol=3e-2)
    assert attention_backend(kind, "cuda") in ("fa2_varlen", "sdpa_masked", "sigattn_triton")


@cuda
@pytest.mark.parametrize("kind", ["softmax", "sigmoid"])
def test_training_step_on_gpu_is_padding_invariant(kind):
    torch.manual_seed(0)
    model = Encoder(ModelConfig.of_size("tiny", vocab_size=50, max_len=256, attention=kind)).cuda()
    cells = [np.arange(1, 40) % 50, np.arange(1, 200) % 50]
    with torch.autocast("cuda", dtype=torch.bfloat16):
        alone, _ = model(*(t.cuda() for t in pad_batch(cells[:1])))
        both, _ = model(*(t.cuda() for t in pad_batch(cells)))
        both.float().sum().backward()
    torch.testing.assert_close(alone[0].float(), both[0, :39].float(), atol=3e-2, rtol=3e-2)


@cuda
@pytest.mark.parametrize("kind", ["softmax", "sigmoid"])
def test_packed_layout_on_gpu_matches_padded(kind):
    from scsigmoid.model import Packed

    torch.manual_seed(0)
    model = Encoder(ModelConfig.of_size("tiny", vocab_size=50, max_len=256, attention=kind)).cuda()
    tokens, lens = (t.cuda() for t in pad_batch([np.arange(1, 40) % 50, np.arange(1, 200) % 50]))
    keep = torch.arange(tokens.shape[1], device="cuda")[None] < lens[:, None]
    with torch.autocast("cuda", dtype=torch.bfloat16):
        padded, _ = model(tokens, lens)
        packed, _ = model(tokens[keep], Packed.from_lengths(lens))
    torch.testing.assert_close(packed.float(), padded[keep].float(), atol=3e-2, rtol=3e-2)
