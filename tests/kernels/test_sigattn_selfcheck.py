"""The compile step's self-check: passes on correct kernels, fails loudly, rejects bad shapes."""

import pytest
from sigattn import selfcheck, triton_kernels, tuned
from sigattn.backend import INTERPRETER

TINY = dict(batch=2, seq_len=20, heads=2, head_dim=16, dtype="fp32", padding=50)


@pytest.mark.parametrize("bwd_variant", [None, "tma_fused"], ids=["default", "fused-default"])
def test_selfcheck_reports_each_shape(monkeypatch, device, bwd_variant):
    """As the default launches (TUNED_VARIANTS), and as it would with a fused hd64 backward."""
    if bwd_variant:
        monkeypatch.setitem(triton_kernels.TUNED_VARIANTS, "bwd", {**triton_kernels.TUNED_VARIANTS["bwd"],
                                                                   64: bwd_variant})
    report = selfcheck.run([TINY, {**TINY, "layout": "packed", "causal": True, "dtype": "fp16"}], device=device)
    assert report["passed"] is True
    first = report["shapes"][0]
    assert first["backend"] == "triton" and first["finite"]
    assert set(first["rel_error"]) == {"o", "dq", "dk", "dv"}
    # every kernel's config and where it came from (the interpreter launches one config)
    # the default launches each pass's TUNED_VARIANTS entry (hd16: the 64 class; a fused backward
    # launches no dQ kernel)
    launched = [*triton_kernels.pass_kernels("fwd", 16), *triton_kernels.pass_kernels("bwd", 16)]
    assert [c[0] for c in tuned.parse_config(first["launch_config"])] == launched
    assert set(first["registers"]) == {"forward", "backward_dkdv", *(["backward_dq"] if len(launched) == 3 else [])}
    if bwd_variant:
        assert launched == ["fwd", "dkdv_fused_tma"]
    # an autotuner choice is reported exactly for the launches that autotuned: not the interpreter's
    # config, SIGATTN_AUTOTUNE=0's fixed one or this GPU's tuned-table entry
    sources = [c[3] for c in tuned.parse_config(first["launch_config"])]
    if INTERPRETER or triton_kernels.TUNING == "fixed":
        assert set(sources) == {"interpreter" if INTERPRETER else "fixed"}
    assert sum(cfg is not None for cfg in first["autotune_config"].values()) == sources.count("autotune")
    assert all(10 <= n <= 20 for n in first["shape"]["seq_lens"])  # 50% padding of 20


def test_selfcheck_fails_when_error_exceeds_tolerance(monkeypatch, device):
    monkeypatch.setitem(selfcheck.reference.TOLERANCES, selfcheck.DTYPES["fp32"], (0.0, 0.0))
    report = selfcheck.run([TINY], device=device)
    assert report["passed"] is False and report["shapes"][0]["passed"] is False


@pytest.mark.parametrize("shape, match", [
    ({"batch": 1}, "lacks keys"),
    ({**TINY, "dtype": "int8"}, "dtype must be one of"),
    ({**TINY, "layout": "ragged"}, "layout must be"),
    ({**TINY, "padding": 100}, "padding must be a percent"),
])
def test_selfcheck_rejects_bad_shapes(shape, match):
    with pytest.raises(ValueError, match=match):
        selfcheck.run([shape])
