import numpy as np
import pytest

from scsigmoid.bench.protocol import attention_flops, derive_shape, sample_lengths, tflops


def test_derive_shape_follows_tokens_and_hidden():
    shape = derive_shape(16384, 2048, 2048, 64)
    assert (shape.batch, shape.heads) == (8, 32)
    shape = derive_shape(16384, 2048, 16384, 128, padding_pct=25)
    assert (shape.batch, shape.heads, shape.padding_pct) == (1, 16, 25)


@pytest.mark.parametrize("seq_len, head_dim, match", [(3000, 64, "seq_len"), (512, 96, "head_dim")])
def test_derive_shape_rejects_non_divisors(seq_len, head_dim, match):
    with pytest.raises(ValueError, match=match):
        derive_shape(16384, 2048, seq_len, head_dim)


def test_lengths_seeded_in_range_and_shared():
    a = sample_lengths(32, 512, 25, seed=0)
    b = sample_lengths(32, 512, 25, seed=0)
    np.testing.assert_array_equal(a, b)  # same lengths for every implementation
    assert a.min() >= 384 and a.max() <= 512
    assert len(set(a.tolist())) > 5  # really random, not constant
    assert not np.array_equal(a, sample_lengths(32, 512, 25, seed=1))


def test_lengths_without_padding_are_full():
    np.testing.assert_array_equal(sample_lengths(4, 1024, 0, seed=3), [1024] * 4)


def test_lengths_mean_padding_near_half_of_the_range():
    lengths = sample_lengths(20000, 1000, 25, seed=0)
    assert abs(1 - lengths.mean() / 1000 - 0.125) < 0.005


def test_flops_forward_backward_and_causal():
    # 4 * H * D * sum(L_i^2): H=2, D=8, lengths 3 and 4 -> 4*2*8*(9+16) = 1600
    assert attention_flops([3, 4], 2, 8, "fwd") == 1600
    assert attention_flops([3, 4], 2, 8, "bwd") == 4000
    assert attention_flops([3, 4], 2, 8, "fwd", causal=True) == 800
    with pytest.raises(ValueError, match="pass"):
        attention_flops([3], 1, 1, "both")


def test_flops_count_useful_tokens_only():
    dense = attention_flops([512, 512], 32, 64, "fwd")
    padded = attention_flops([400, 512], 32, 64, "fwd")
    assert padded < dense


def test_tflops_units():
    assert tflops(2e12, 1000.0) == pytest.approx(2.0)
    assert np.isnan(tflops(1e12, float("nan")))
    assert np.isnan(tflops(1e12, 0.0))
