import pytest
import torch

from scsigmoid.bench.adapters import (
    ALL_ADAPTERS,
    default_adapters,
    from_canonical,
    make_inputs,
    pack,
    to_canonical,
    unpack,
)

DENSE_ONLY = {"ours_dense", "ours_dense_trainbias", "ours_dense_causal", "tritonsigmoid_dense",
              "fa2_dense", "flash_attn_dense", "flashsigmoid"}
PADDED_ONLY = {"ours_padded", "ours_varlen", "tritonsigmoid_padded", "fa2_varlen",
               "flash_attn_varlen"}
BOTH = {"cudnn_sdpa", "eager_sigmoid"}


def test_every_adapter_is_classified_once():
    names = [cls.name for cls in ALL_ADAPTERS]
    assert len(names) == len(set(names))
    assert set(names) == DENSE_ONLY | PADDED_ONLY | BOTH


@pytest.mark.parametrize("pass_", ["fwd", "bwd"])
def test_selection_per_padding(pass_):
    for adapter in default_adapters():
        dense_ok, _ = adapter.supports(0, pass_)
        padded_ok, why = adapter.supports(25, pass_)
        assert dense_ok == (adapter.name in DENSE_ONLY | BOTH), adapter.name
        assert padded_ok == (adapter.name in PADDED_ONLY | BOTH), adapter.name
        if adapter.name in DENSE_ONLY:
            assert "padded FLOPs" in why


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU path")
def test_gpu_adapters_unavailable_without_cuda():
    for adapter in default_adapters():
        ok, reason = adapter.available()
        if adapter.name == "eager_sigmoid":
            assert ok
        else:
            assert not ok and "CUDA" in reason, adapter.name


def test_unknown_implementation_is_named():
    with pytest.raises(ValueError, match="nope"):
        default_adapters(["ours_dense", "nope"])


def test_pack_unpack_round_trip_and_padding_zeroed():
    inputs = make_inputs(3, 8, 2, 4, [8, 5, 1], 25, device="cpu", dtype=torch.float32, seed=0)
    packed = pack(inputs.q, inputs.lengths)
    assert packed.shape == (14, 2, 4)
    assert inputs.cu_seqlens.tolist() == [0, 8, 13, 14] and inputs.max_len == 8
    back = unpack(packed, inputs.lengths, 8)
    assert torch.equal(back[1, :5], inputs.q[1, :5]) and back[1, 5:].abs().sum() == 0
    for layout in ("bshd", "bhsd", "packed"):
        canon = to_canonical(layout, from_canonical(layout, inputs.q, inputs), inputs)
        assert torch.equal(canon, back), layout


def test_make_inputs_rejects_bad_lengths():
    with pytest.raises(ValueError, match="lengths"):
        make_inputs(2, 8, 1, 4, [9, 8], 25, device="cpu", dtype=torch.float32, seed=0)


def test_ours_is_named_after_a_non_default_variant(monkeypatch):
    from sigattn import triton_kernels

    from scsigmoid.bench.adapters import default_adapters

    monkeypatch.setattr(triton_kernels, "TUNED", True)  # the default: unnamed
    assert [a.name for a in default_adapters(["ours_dense", "ours_varlen"])] == ["ours_dense", "ours_varlen"]
    monkeypatch.setattr(triton_kernels, "TUNED", False)  # single variants carry their names
    monkeypatch.setattr(triton_kernels, "SIGMOID", "fast")
    assert [a.name for a in default_adapters(["ours_dense"])] == ["ours_dense_fast"]
    monkeypatch.setattr(triton_kernels, "SIGMOID", "fma")
    names = [a.name for a in default_adapters(["ours_dense", "ours_dense_causal", "tritonsigmoid_dense"])]
    assert names == ["ours_dense_fma", "ours_dense_causal_fma", "tritonsigmoid_dense"]
    monkeypatch.setattr(triton_kernels, "TMA", True)
    assert [a.name for a in default_adapters(["ours_padded", "cudnn_sdpa"])] == ["ours_padded_tma_fma", "cudnn_sdpa"]
    monkeypatch.setattr(triton_kernels, "SIGMOID", "fast")
    assert [a.name for a in default_adapters(["ours_dense"])] == ["ours_dense_tma"]


def test_tritonsigmoid_rows_name_the_configs_its_autotuner_chose(monkeypatch):
    """The ``config`` cell of a TritonSigmoid row: its autotuners' choices for the kernels the
    point launched, none left over from an earlier point (reset clears them), and never in the
    ``kernel@bucket=`` form of our rows (sigattn.tuned.parse_config reads none of it)."""
    import sys
    import types

    import triton
    from sigattn.tuned import parse_config

    from scsigmoid.bench.adapters import TritonSigmoidDense, TritonSigmoidPadded

    fake = types.ModuleType("triton_sigmoid")
    for adapter in (TritonSigmoidDense, TritonSigmoidPadded):
        module = types.ModuleType(f"triton_sigmoid.{adapter.module}")
        for kernel in adapter.kernels:
            setattr(module, kernel, types.SimpleNamespace(best_config=triton.Config({"BLOCK_M": 32, "BLOCK_N": 32},
                                                                                    num_warps=2, num_stages=2)))
        monkeypatch.setitem(sys.modules, module.__name__, module)
        setattr(fake, adapter.module, module)
    monkeypatch.setitem(sys.modules, "triton_sigmoid", fake)

    ts = TritonSigmoidDense()
    ts.reset_launch_config()
    assert ts.launch_config() == ""
    fwd = sys.modules["triton_sigmoid.sigmoid_triton_dense"]._fwd_dense_kernel
    fwd.best_config = triton.Config({"BLOCK_M": 128, "BLOCK_N": 64}, num_warps=4, num_stages=3)  # a launch
    assert ts.launch_config() == "fwd=128,64,4,3:autotune"
    assert parse_config(ts.launch_config()) == []
    padded = TritonSigmoidPadded()
    assert padded.launch_config() == "fwd=32,32,2,2:autotune;dq=32,32,2,2:autotune;dkdv=32,32,2,2:autotune"
