"""The throughput protocol (Fig 3, claim 2): workloads, alternation, FLOPs, gains, no host sync."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from scsigmoid.model.attention import Packed, Padded
from scsigmoid.model.encoder import Encoder, ModelConfig
from scsigmoid.train import throughput as tp
from scsigmoid.train.trainer import mlm_loss_sum


@pytest.mark.parametrize("context", [64, 2048, 8192])
def test_full_context_steps_reach_the_budget_with_cells_near_the_context(context):
    rng = np.random.default_rng(0)
    for _ in range(50):
        lens = tp.workload_lengths("full_context", context, 16384, rng)
        assert lens.sum() >= 16384
        assert lens[:-1].sum() < 16384  # the last cell is the one that crossed the budget
        assert lens.min() >= math.ceil(0.75 * context) and lens.max() <= context


def test_corpus_steps_draw_pool_lengths_truncated_at_the_context():
    pool = np.array([10, 50, 3000])
    lens = tp.workload_lengths("corpus", 2048, 5000, np.random.default_rng(1), pool)
    assert set(lens.tolist()) <= {10, 50, 2048} and 2048 in lens
    with pytest.raises(ValueError, match="pool"):
        tp.workload_lengths("corpus", 2048, 10, np.random.default_rng(1), None)
    with pytest.raises(ValueError, match="workload"):
        tp.workload_lengths("long", 2048, 10, np.random.default_rng(1), pool)


def test_arms_alternate_so_each_takes_every_position_once():
    arms = ["softmax", "sigmoid", "sigmoid_tritonsigmoid"]
    orders = [tp.alternation(arms, r) for r in range(3)]
    assert orders[0] == arms and orders[1] == ["sigmoid", "sigmoid_tritonsigmoid", "softmax"]
    for pos in range(3):
        assert sorted(o[pos] for o in orders) == sorted(arms)


def test_model_flops_hand_worked():
    model = Encoder(ModelConfig.of_size("tiny", vocab_size=100, max_len=8))  # 2 layers, d = 64
    # block: 2 LN (2·2d) + qkv (3d²+3d) + proj (d²+d) + fc1 (4d²+4d) + fc2 (4d²+d) = 12d²+13d;
    # 2 blocks + final LN (2d) = 100096; head transform: d²+d + LN 2d = 4288; tied decoder d·V
    lengths, n_masked = np.array([3, 5]), 2
    dense = 6 * 100096 * 8 + 6 * (4288 + 64 * 100) * 2
    attention = 12 * 2 * 64 * (9 + 25)
    total, attn = tp.model_flops(model, lengths, n_masked)
    assert attn == attention == 52224
    assert total == dense + attention == 4985088


def test_gain_is_paired_by_repeat_then_median_and_iqr():
    rows = []
    for r, (soft, sig) in enumerate([(100, 110), (100, 105), (100, 120)]):
        for arm, tps in (("softmax", soft), ("sigmoid", sig)):
            rows.append({"size": "1.4B", "context": 8192, "workload": "full_context", "arm": arm,
                         "repeat": r, "tokens_per_s": tps, "status": "ok", "kernel": "k",
                         "layout": "packed", "mfu": 0.5, "tokens_per_step": 1, "cells_per_step": 1})
    rows.append({**rows[-1], "repeat": 3, "tokens_per_s": 1.0, "status": "oom"})  # not counted
    g = tp.gain_table(pd.DataFrame(rows)).iloc[0]
    assert not g["compile"]  # a table from before the compile column: eager
    assert tp.gain_table(pd.DataFrame(rows).assign(compile=True)).iloc[0]["compile"]
    assert g["n_repeats"] == 3
    assert g["gain_median"] == pytest.approx(0.10)
    assert g["gain_q25"] == pytest.approx(0.075) and g["gain_q75"] == pytest.approx(0.15)


class _Sync(Exception):
    pass


def _fa2_stand_in(q, k, v, cu_seqlens, max_len, scale):
    return q * 1.0 + (k * v).sum() * 0  # shapes and autograd only: the model code is under test


@pytest.mark.parametrize("attention,layout", [("softmax", "packed"), ("sigmoid", "packed"),
                                              ("softmax", "padded"), ("sigmoid", "padded")])
def test_training_step_reads_nothing_on_the_host(monkeypatch, attention, layout):
    """The model's forward + backward on META tensors: any host read (.item(), int(tensor),
    .tolist(), boolean-mask indexing, nonzero) raises there. The CUDA code paths are taken
    (FA2 varlen replaced by a stand-in, sigattn's custom ops use their fake kernels; what runs
    inside sigattn's ops is tested in tests/kernels: test_backward_does_not_check_the_table_again)."""
    import sigattn.ops

    from scsigmoid.model import attention as att

    monkeypatch.setattr(att, "_use_fa2", lambda q: True)
    monkeypatch.setattr(att, "_fa2_varlen", _fa2_stand_in)
    monkeypatch.setattr(sigattn.ops, "backend_for", lambda t: "triton")
    monkeypatch.setattr(sigattn.ops, "EAGER_CUSTOM_OP", True)  # custom ops: fake kernels on meta
    lengths = np.array([7, 12, 3])
    batch = tp.make_batch(lengths, context=16, vocab_size=50, rng=np.random.default_rng(0), padded=True)
    tokens, labels, lay, masked = batch.packed if layout == "packed" else batch.padded
    with torch.device("meta"):
        model = Encoder(ModelConfig.of_size("tiny", vocab_size=50, max_len=16, attention=attention))
    meta = lambda t: torch.empty_like(t, device="meta")  # noqa: E731
    if layout == "packed":
        lay = Packed(meta(lay.cu_seqlens), lay.max_len, meta(lay.positions))
    else:
        lay = Padded(meta(lay.seq_lens), lay.width, meta(lay.flat_index), meta(lay.cu_seqlens), lay.max_len)
    loss, _ = mlm_loss_sum(model, meta(tokens).long(), meta(labels).long(), lay, False, meta(masked))
    loss.backward()
    assert model.blocks[0].attn.qkv.weight.grad is not None
    # the check bites: a layer that reads a length on the host fails on meta tensors
    with pytest.raises((RuntimeError, NotImplementedError)):
        int(lay.cu_seqlens[-1])


def test_bare_seq_lens_still_accepted_and_packed_batches_match_padded():
    lengths = np.array([5, 9])
    batch = tp.make_batch(lengths, context=12, vocab_size=40, rng=np.random.default_rng(3), padded=True)
    tokens, labels, lay, masked = batch.packed
    ptokens, plabels, play, pmasked = batch.padded
    assert torch.equal(ptokens.flatten()[play.flat_index], tokens)
    assert torch.equal(plabels.flatten()[pmasked], labels[masked])
    assert int((labels != -100).sum()) == len(masked) and bool((tokens[lay.cu_seqlens[:-1].long()] == 1).all())
    assert not bool((labels[lay.cu_seqlens[:-1].long()] != -100).any())  # CLS is never masked
    model = Encoder(ModelConfig.of_size("tiny", vocab_size=40, max_len=12, attention="softmax"))
    a, _ = mlm_loss_sum(model, tokens, labels, lay, False, masked)
    b, _ = mlm_loss_sum(model, ptokens, plabels, play.seq_lens, False, None)
    assert torch.allclose(a, b, rtol=1e-5)


def test_run_on_cpu_writes_every_point_and_says_why_an_arm_did_not_run(tmp_path):
    cfg = {"workloads": {"full_context": {"sizes": ["tiny"], "contexts": [32]},
                         "corpus": {"sizes": ["tiny"], "contexts": [32]}},
           "arms": ["softmax", "sigmoid", "sigmoid_tritonsigmoid"], "tokens_per_step": 100,
           "warmup_steps": 2, "timed_steps": 3, "repeats": 2, "seed": 0,
           "peak_tflops": {"cpu": 2.0}, "compile": True}
    df = tp.run(cfg, pool_lengths=np.array([5, 9, 40]), vocab_size=60, out_csv=tmp_path / "t.csv",
                device="cpu", device_tag="cpu", config_id="test")
    assert df["compile"].all()  # the blocks compiled (CPU Inductor), recorded on every row
    ok_rows = df[df.status == "ok"]
    assert (ok_rows.host_issue_ms_median > 0).all()  # on the CPU: the step's own time
    assert ok_rows[list(tp.ALLOC_COUNTERS)].isna().all().all()  # allocator counters: CUDA only
    assert len(df) == 2 * 3 * 2  # points x arms x repeats
    assert list(pd.read_csv(tmp_path / "t.csv").columns[: len(tp.COLUMNS)]) == tp.COLUMNS
    ok = df[df.status == "ok"]
    assert set(ok.arm) == {"softmax", "sigmoid"} and (ok.tokens_per_step >= 100).all()
    assert (ok.timed_steps == 3).all() and (ok.mfu > 0).all()
    assert df[df.arm == "sigmoid_tritonsigmoid"].status.str.contains("CUDA").all()
    assert (df.config == "test").all() and {"device", "commit", "torch"} <= set(df.columns)
    assert (ok.peak_tflops == 2.0).all()
    assert tp.done_points(tmp_path / "t.csv") == {("tiny", "full_context", 32), ("tiny", "corpus", 32)}
    assert tp.plan(cfg, done={("tiny", "full_context", 32)}) == {"tiny": [("corpus", 32)]}
    assert ok.kernel_ms_per_step.isna().all()  # no audit unless asked (the schema's default asks)
    with pytest.raises(ValueError, match="no entry for device 'h200'"):
        tp.run(cfg, pool_lengths=np.array([5]), vocab_size=60, out_csv=tmp_path / "u.csv",
               device="cpu", device_tag="h200")


@pytest.mark.parametrize("arm, variant", [("sigmoid_fma", "fma"), ("sigmoid_tma", "tma"), ("sigmoid_fast", "fast")])
def test_a_variant_arm_launches_its_variant_in_forward_and_backward_and_names_it(monkeypatch, arm, variant):
    """A variant arm's step (forward and backward) runs under its sigattn variant; the next
    sigmoid step is back on the variant selected at import. The variant is read on the host
    when a launch is issued, so what the step sees there is what its kernels get."""
    from sigattn import triton_kernels as tk

    model = Encoder(ModelConfig.of_size("tiny", vocab_size=60, max_len=32, attention="sigmoid"))
    step = tp._Stepper(model, torch.device("cpu"))
    seen = []
    real_loss = step.loss

    def loss(*args):
        seen.append(("forward", tk.current_variant()))
        return real_loss(*args)
    step.loss = loss
    model.blocks[0].attn.qkv.weight.register_hook(lambda g: seen.append(("backward", tk.current_variant())))
    batch = tp.make_batch(np.array([9, 14]), context=32, vocab_size=60, rng=np.random.default_rng(0), padded=False)
    imported = tk.current_variant()
    assert imported == "default"  # the test process selects the default at import
    for name in (arm, "sigmoid", "softmax"):
        step(name, batch)
    assert seen == [("forward", variant), ("backward", variant), ("forward", imported), ("backward", imported),
                    ("forward", imported), ("backward", imported)]
    assert tk.current_variant() == imported
    # the kernel column names the variant where the Triton kernels run (a CUDA device), not the reference
    monkeypatch.setattr(tp, "attention_backend", lambda attention, device, kernel: "sigattn_triton")
    assert tp.arm_kernel(arm, "cuda") == f"sigattn_triton_{variant}"
    assert tp.arm_kernel("sigmoid", "cuda") == "sigattn_triton"
    monkeypatch.undo()
    assert tp.arm_kernel(arm, "cpu") == "sigattn_reference"


def test_merge_refuses_a_point_measured_twice(tmp_path):
    row = {"size": "1.4B", "context": 2048, "workload": "corpus", "arm": "sigmoid", "repeat": 0}
    pd.DataFrame([row]).to_csv(tmp_path / "a.csv", index=False)
    pd.DataFrame([row]).to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(ValueError, match="more than one part"):
        tp.merge([tmp_path / "a.csv", tmp_path / "b.csv"], tmp_path / "m.csv")


def test_merge_replace_lets_a_later_part_supersede_whole_points(tmp_path):
    """--replace: a point (size, workload, context) of a later part replaces ALL of that point's
    rows in earlier parts (its other arms and repeats too); other points stay; parts from before
    the compile column read as eager."""
    def rows(context, arms, compiled, tps):
        return [{"size": "1.4B", "context": context, "workload": "full_context", "arm": a, "repeat": r,
                 "tokens_per_s": tps, **({} if compiled is None else {"compile": compiled})}
                for a in arms for r in range(2)]
    old = rows(2048, ["softmax", "sigmoid", "sigmoid_tritonsigmoid"], None, 1.0) + \
        rows(4096, ["softmax", "sigmoid"], None, 2.0)
    new = rows(2048, ["softmax", "sigmoid"], True, 3.0)
    pd.DataFrame(old).to_csv(tmp_path / "old.csv", index=False)
    pd.DataFrame(new).to_csv(tmp_path / "new.csv", index=False)
    df = tp.merge([tmp_path / "old.csv", tmp_path / "new.csv"], tmp_path / "m.csv", replace=True)
    at2k = df[df.context == 2048]
    assert len(at2k) == 4 and (at2k.tokens_per_s == 3.0).all() and at2k["compile"].all()
    at4k = df[df.context == 4096]
    assert len(at4k) == 4 and (at4k.tokens_per_s == 2.0).all() and not at4k["compile"].any()
    assert pd.read_csv(tmp_path / "m.csv").shape == df.shape


@pytest.mark.parametrize("name, category", [
    # names as the H200 profiler reports them (FA2 in torch, our Triton kernels, the authors', cuBLAS)
    ("void pytorch_flash::flash_bwd_dq_dk_dv_loop_seqk_parallel_kernel<Flash_bwd_kernel_traits>", "attention"),
    ("_bwd_dkdv_kernel", "attention"),
    ("_fwd_padded_kernel", "attention"),
    ("nvjet_tst_256x128_64x4_2x1_v_bz_coopB_TNT", "matmul"),
    ("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x256x64", "matmul"),
    ("void at::native::(anonymous namespace)::multi_tensor_apply_kernel<FusedAdamMathFunctor>", "optimizer"),
    ("void at::native::vectorized_elementwise_kernel<4, GeluCUDAKernelImpl>", "other"),
    ("void at::native::(anonymous namespace)::vectorized_layer_norm_kernel<c10::BFloat16>", "other"),
])
def test_profile_categories_name_each_kernel_family(name, category):
    from scsigmoid.train.throughput import kernel_category

    assert kernel_category(name) == category


def test_rates_come_from_a_rounds_totals_not_its_median_step(tmp_path, monkeypatch):
    """Batches of different sizes: tokens/s and MFU are a round's tokens ÷ its time. Planted step
    times (a big batch slow, a small one fast) make the old statistic (mean batch tokens ÷ median
    step) differ from the totals; every timed step lands in the steps CSV; the audit columns fill."""
    cfg = {"workloads": {"full_context": {"sizes": ["tiny"], "contexts": [32]}},
           "arms": ["softmax", "sigmoid"], "tokens_per_step": 100, "warmup_steps": 3, "timed_steps": 6,
           "repeats": 3, "seed": 0, "peak_tflops": {"cpu": 2.0}, "audit_kernel_time": True}
    batches = tp.point_batches("full_context", 32, cfg, vocab_size=60, pool_lengths=np.array([5]), seed=0)
    sizes = [b.tokens for b in batches]
    planted = {"softmax": [10.0, 12.0, 50.0], "sigmoid": [20.0, 21.0, 22.0]}  # ms of batches 0, 1, 2
    real_timed = tp._timed

    def fake_timed(step, arm, bs, n, device, host=None):
        real_timed(step, arm, bs, n, device, host)  # the steps run (host times kept) ...
        return [planted[arm][i % len(bs)] for i in range(n)]  # ... their times are planted
    monkeypatch.setattr(tp, "_timed", fake_timed)
    df = tp.run(cfg, pool_lengths=np.array([5]), vocab_size=60, out_csv=tmp_path / "t.csv",
                device="cpu", device_tag="cpu", steps_out=tmp_path / "steps.csv")
    for arm, ms in planted.items():
        rows = df[df.arm == arm]
        want = sum(sizes) / sum(ms) * 1e3  # each batch twice in a round of 6
        assert rows.tokens_per_s.to_numpy() == pytest.approx([want] * 3)
        assert rows.step_ms_mean.to_numpy() == pytest.approx([np.mean(ms)] * 3)
        assert (rows.rate_basis == "round_total").all()
    soft = df[df.arm == "softmax"].iloc[0]
    assert soft.tokens_per_s != pytest.approx(soft.tokens_per_step / soft.step_ms_median * 1e3)
    assert (df.kernel_ms_per_step > 0).all() and (df.audit_wall_ms_per_step > 0).all()
    steps = pd.read_csv(tmp_path / "steps.csv")
    assert len(steps) == 2 * 3 * 6 and list(steps.columns[:len(tp.STEP_COLUMNS)]) == tp.STEP_COLUMNS
    assert set(steps.step_ms) == {10.0, 12.0, 50.0, 20.0, 21.0, 22.0} and (steps.host_ms > 0).all()
    assert steps.groupby("batch").tokens.first().tolist() == sizes
    gains = tp.gain_table(df)
    assert np.isfinite(gains.kernel_gain).all() and (gains.rate_basis == "round_total").all()


def test_gain_table_kernel_gain_pairs_the_audit_and_merge_labels_old_rates(tmp_path):
    def row(arm, r, tps, kernel):
        return {"size": "1.4B", "context": 8192, "workload": "full_context", "arm": arm, "repeat": r,
                "status": "ok", "tokens_per_s": tps, "kernel_ms_per_step": kernel, "kernel": arm,
                "layout": "packed", "mfu": 0.4, "tokens_per_step": 2e4, "cells_per_step": 3,
                "host_syncs_per_step": 0, "rate_basis": "round_total"}
    df = pd.DataFrame([row("softmax", r, 100.0, 800.0) for r in range(3)] +
                      [row("sigmoid", r, 110.0, 760.0) for r in range(3)])
    g = tp.gain_table(df).iloc[0]
    assert g.gain_median == pytest.approx(0.10) and g.kernel_gain == pytest.approx(800 / 760 - 1)
    assert g.commit == ""  # no commit column: nothing to name
    dated = df.assign(commit=["aaa"] * 3 + ["bbb"] * 3)  # the arm's own commit, not softmax's
    assert tp.gain_table(dated).iloc[0].commit == "bbb"
    old = df.drop(columns=["rate_basis"]).assign(context=4096)
    old.to_csv(tmp_path / "old.csv", index=False)
    df.to_csv(tmp_path / "new.csv", index=False)
    m = tp.merge([tmp_path / "old.csv", tmp_path / "new.csv"], tmp_path / "m.csv")
    assert m.groupby("context").rate_basis.agg(set).to_dict() == {4096: {"median_step"}, 8192: {"round_total"}}


def test_clocks_of_each_round_come_from_the_samples_inside_it(tmp_path, monkeypatch):
    """nvidia-smi's log joined to the rounds by time: a round gets the median SM clock, power and
    the share of samples where the power cap held the clocks (bit 0x4), from its samples only."""
    log = tmp_path / "clocks.log"
    log.write_text(
        "timestamp, clocks.current.sm [MHz], clocks.current.memory [MHz], power.draw [W], temperature.gpu, "
        "clocks_event_reasons.active\n"
        "2026/12/04 04:00:00.000, 1980 MHz, 3201 MHz, 300.00 W, 40, 0x0000000000000000\n"
        "2026/12/04 04:00:01.000, 1700 MHz, 3201 MHz, 690.00 W, 50, 0x0000000000000004\n"
        "2026/12/04 04:00:02.000, 1800 MHz, 3201 MHz, 695.00 W, 51, 0x0000000000000004\n"
        "2026/12/04 04:00:03.000, 1500 MHz, 3201 MHz, 699.00 W, 52, 0x0000000000000005\n"
        "2026/12/04 04:00:09.000, 1900 MHz, 3201 MHz, 650.00 W, 50, 0x0000000000000000\n")
    clocks = tp.read_gpu_clocks(log)
    t0 = pd.Timestamp("2026-12-04 04:00:00").timestamp()
    steps = pd.DataFrame([{"size": "1.4B", "context": 8192, "workload": "full_context", "arm": arm, "repeat": 0,
                           "step": i, "step_ms": 1000.0, "round_start_unix": start}
                          for arm, start in (("softmax", t0 + 0.5), ("sigmoid", t0 + 8.5)) for i in range(2)])
    rows = steps.groupby(["size", "context", "workload", "arm", "repeat"]).size().reset_index(name="n")
    out = tp.annotate_clocks(rows, steps, clocks).set_index("arm")
    assert out.loc["softmax", list(tp.CLOCK_COLUMNS)].tolist() == [1750.0, 1700.0, 692.5, 1.0, 2]  # 1 s, 2 s
    assert out.loc["sigmoid", list(tp.CLOCK_COLUMNS)].tolist() == [1900.0, 1900.0, 650.0, 0.0, 1]  # 9 s
    assert (out["n"] == 2).all()  # the part's own columns kept
    # a log read before nvidia-smi flushed it (session 10's call: only the idle samples before the
    # rounds) is refused, not written as empty clock columns
    with pytest.raises(ValueError, match="no clock sample inside any round"):
        tp.annotate_clocks(rows, steps, clocks[clocks.t < t0 + 0.5])
    # pandas 3 (the GPU machine's) parses the timestamps to microseconds, not nanoseconds: the
    # seconds must not depend on the unit (session 11's call annotated nothing before this)
    to_datetime = pd.to_datetime
    monkeypatch.setattr(tp.pd, "to_datetime", lambda *a, **k: to_datetime(*a, **k).astype("datetime64[us]"))
    assert tp.read_gpu_clocks(log)["t"].tolist() == pytest.approx([t0, t0 + 1, t0 + 2, t0 + 3, t0 + 9])
    monkeypatch.undo()
    (tmp_path / "bad.log").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not an nvidia-smi clock log"):
        tp.read_gpu_clocks(tmp_path / "bad.log")


def test_audit_drops_the_step_that_absorbs_the_profilers_start_up():
    """The audit's first step runs under the profiler's warm-up and is not counted: a planted slow
    first step (10x the work) leaves the kernel time a step at the later steps' level."""
    calls = []

    def step(arm, batch):
        x = torch.randn(128, 128)
        for _ in range(200 if not calls else 20):
            x = torch.tanh(x @ x)
        calls.append(batch)
    kernel_ms, wall_ms = tp._audit(step, "softmax", ["a", "b", "c"], torch.device("cpu"))
    assert calls == ["c", "a", "b", "c"]  # one dropped step, then each batch once
    assert 0 < kernel_ms < 3 * wall_ms  # (on a CPU the ops' own time stands in for kernels)
    slow = []

    def slow_step(arm, batch):
        x = torch.randn(128, 128)
        for _ in range(200):
            x = torch.tanh(x @ x)
        slow.append(batch)
    slow_ms, _ = tp._audit(slow_step, "softmax", ["a", "b", "c"], torch.device("cpu"))
    assert kernel_ms < 0.25 * slow_ms  # ~0.1x; had the slow first step been counted, ~0.43x
