"""The scripts of the H200 benchmark call (gpu/h200_bench.sh), run on the CPU at tiny shapes:
the warm-up job plan and its deadline, first-call latency and the anomaly diagnosis under the
Triton interpreter, the summary, and the whole shell script end to end."""

import importlib.util
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pandas as pd
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "workflow" / "scripts"
cpu_only = pytest.mark.skipif(torch.cuda.is_available(), reason="CPU smoke test")


def load(name):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def env(**extra):
    return {**{k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"},
            "PYTHONPATH": f"{ROOT / 'kernels'}:{ROOT / 'src'}", **extra}


def test_warm_jobs_cover_each_compile_once():
    warm = load("bench_warm")
    parts = [warm.parse_part(t) for t in ("128:fwd:ours", "64:fwd", "64:bwd", "128:bwd")]
    jobs = warm.jobs_for(parts)
    # a backward part covers the forward of its head dim: backward jobs only, each once
    assert {j[:2] for j in jobs} == {(64, "bwd"), (128, "bwd")} and len(set(jobs)) == len(jobs)
    for hd in (64, 128):
        mine = [j for j in jobs if j[0] == hd]
        assert len(mine) == 4 + 2 * 4  # 4 variants of ours + TritonSigmoid dense/padded x 4 buckets
        assert {j[3] for j in mine if j[2].startswith("triton")} == {512, 1024, 4096, 16384}
    # the parts' order (hd128 forward, ours only, came first), ours first within a part: what a
    # deadline cuts is the end of the list
    assert [j[:3] for j in jobs[:5]] == [(128, "bwd", v) for v in warm.OUR_VARIANTS] + [(64, "bwd", "ours_dense")]
    assert [j[2] for j in jobs[-8:]] == ["tritonsigmoid_dense"] * 4 + ["tritonsigmoid_padded"] * 4
    assert jobs[-1][0] == 128
    assert [j[:2] for j in warm.jobs_for([warm.parse_part("128:fwd:ours")])] == [(128, "fwd")] * 4
    with pytest.raises(SystemExit, match="HEAD_DIM:fwd"):
        warm.parse_part("64:sideways")


def test_warm_deadline_kills_and_logs(tmp_path, monkeypatch):
    warm = load("bench_warm")
    slow = tmp_path / "slow.py"
    slow.write_text("import sys, time\nif '--impl' in sys.argv and 'ours_dense' in sys.argv: sys.exit(0)\n"
                    "time.sleep(60)\n")
    monkeypatch.setattr(warm, "SCRIPT", slow)
    jobs = [(64, "fwd", "ours_dense", 512), (64, "fwd", "tritonsigmoid_dense", 512),
            (64, "fwd", "tritonsigmoid_dense", 1024)]
    done = warm.run(jobs, 2, 3.0, tmp_path / "warm.csv", [], None)
    status = {d["job"]: d["status"] for d in done}
    assert status["hd64_fwd_ours_dense_L512"] == "ok"
    assert status["hd64_fwd_tritonsigmoid_dense_L512"] == "killed at the deadline"
    # started once a slot freed, then killed
    assert status["hd64_fwd_tritonsigmoid_dense_L1024"] == "killed at the deadline"
    log = pd.read_csv(tmp_path / "warm.csv")
    assert len(log) == 3 and {"device", "commit", "torch", "triton", "date"} <= set(log.columns)


@cpu_only
def test_first_call_row_under_the_interpreter(tmp_path):
    out = tmp_path / "fc.csv"
    done = subprocess.run([sys.executable, str(SCRIPTS / "bench_first_call.py"), "--out", str(out),
                           "--allow-cpu", "--head-dim", "16", "--seq-len", "32", "--tokens", "64",
                           "--hidden", "32"], cwd=ROOT,  # batch 64 / 32 = 2, heads 32 / 16 = 2
                          env=env(TRITON_INTERPRET="1", TRITON_CACHE_DIR=str(tmp_path / "cache"),
                                  SIGATTN_AUTOTUNE="full"),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    row = pd.read_csv(out).iloc[0]
    assert row["mode"] == "full" and bool(row["cache_was_empty"])
    assert row["first_fwd_s"] > 0 and row["first_bwd_s"] > 0 and row["warm_bwd_ms"] > 0
    assert row["rel_error"] < 1e-4  # fp32 under the interpreter
    # the default kernel: the hd64 class's backward through tensor descriptors (TUNED_VARIANTS)
    assert row["config"] == ("fwd@32=32,16,1,1:interpreter;dq_tma@32=32,16,1,1:interpreter;"
                             "dkdv_tma@32=32,16,1,1:interpreter")


@cpu_only
def test_diag_alternates_modes_and_restores_the_defaults(tmp_path):
    out = tmp_path / "diag.csv"
    done = subprocess.run([sys.executable, str(SCRIPTS / "bench_diag.py"), "--out", str(out), "--allow-cpu",
                           "--tokens", "64", "--hidden", "32", "--points", "ours_dense:16:fwd:32",
                           "ours_dense:16:bwd:32", "--rounds", "2", "--warmup-ms", "1", "--rep-ms", "1"],
                          cwd=ROOT, env=env(TRITON_INTERPRET="1"), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    df = pd.read_csv(out)
    assert (df["status"] == "ok").all(), df["reason"].tolist()
    assert list(df["mode"]) == ["before"] * 2 + ["after"] * 4 + ["before"] * 2
    assert (df["host_ms"] > 0).all() and df["ms_graph"].isna().all()  # no CUDA graph on a CPU
    assert df["config"].str.startswith("fwd@32=32,16,1,1").all()


def test_diag_mode_switch():
    diag = load("bench_diag")
    from sigattn import ops, triton_kernels

    before = (ops.EAGER_CUSTOM_OP, ops.CACHE_SHAPE_TABLES, triton_kernels.TUNING)
    try:
        diag.set_mode("before")
        assert (ops.EAGER_CUSTOM_OP, ops.CACHE_SHAPE_TABLES, triton_kernels.TUNING) == (True, False, "full")
        diag.set_mode("after")
        assert (ops.EAGER_CUSTOM_OP, ops.CACHE_SHAPE_TABLES, triton_kernels.TUNING) == (False, True, "table")
    finally:
        ops.EAGER_CUSTOM_OP, ops.CACHE_SHAPE_TABLES, triton_kernels.TUNING = before


def test_summary_reads_a_call(tmp_path, capsys):
    (tmp_path / "parts").mkdir()
    pd.DataFrame([{"impl": "ours_dense", "pass": "fwd", "head_dim": 64, "padding_pct": 0, "seq_len": L,
                   "tflops": t, "status": "ok"} for L, t in ((512, 300.4), (1024, 350.6))]).to_csv(
        tmp_path / "parts" / "attention_h200_hd64_fwd.partial.csv", index=False)
    pd.DataFrame([{"mode": m, "impl": "ours_dense", "head_dim": 128, "pass": "fwd", "seq_len": 512,
                   "ms_median": ms, "ms_graph": 0.2, "host_ms": h, "status": "ok", "reason": ""}
                  for m, ms, h in (("before", 0.35, 0.3), ("after", 0.21, 0.1))]).to_csv(tmp_path / "diag.csv", index=False)
    load("bench_summary").main(tmp_path)
    text = capsys.readouterr().out
    assert "ours_dense             pad0  TFLOPS 512:300 1024:351" in text
    assert "ours_dense hd128 fwd L512 | 0.350/0.200/0.300 | 0.210/0.200/0.100" in text
    assert "first call: no rows" in text


@pytest.mark.slow
@cpu_only
def test_h200_bench_script_end_to_end_on_the_cpu(tmp_path):
    """The whole call at tiny shapes: every step runs, parts land in the tarball, <= 8 files under
    OUT, and the summary comes last."""
    out, work = tmp_path / "out", tmp_path / "work"
    tiny = "--allow-cpu --tokens 1024 --hidden 32"
    done = subprocess.run(
        ["bash", "gpu/h200_bench.sh", "400"], cwd=ROOT, capture_output=True, text=True, timeout=900,
        env=env(OUT=str(out), WORK=str(work), SUITE_COMMIT="test", PY=sys.executable, TRITON_INTERPRET="1",
                PARTS="16:fwd 16:bwd 16:fwd:eager_sigmoid@32", BENCH_IMPLS="eager_sigmoid ours_dense",
                SKIP_DONE=str(work / "parts"),  # the third part finds its only point measured by the first
                BENCH_ARGS=f"{tiny} --seq-lens 32 64", WARM_PARTS="16:fwd:ours", WARM_ARGS=tiny,
                FIRST_CALL_ARGS="--allow-cpu --head-dim 16 --seq-len 32 --tokens 64 --hidden 32",
                DIAG_ARGS="--allow-cpu --tokens 64 --hidden 32 --points ours_dense:16:fwd:32 --rounds 1 "
                          "--warmup-ms 1 --rep-ms 1"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    files = sorted(p.name for p in out.iterdir())
    assert files == ["bench_parts.tgz", "diag.csv", "first_call_full.csv", "first_call_table.csv",
                     "logs.tgz", "summary.txt"]
    with tarfile.open(out / "bench_parts.tgz") as tar:
        names = sorted(Path(n).name for n in tar.getnames() if n.endswith(".csv"))
    assert names == ["attention_cpu_hd16_bwd.csv", "attention_cpu_hd16_fwd.csv", "attention_cpu_hd16_fwd.csv"]
    part = pd.read_csv(work / "parts" / "1" / "attention_cpu_hd16_fwd.csv")  # a folder per part, in PARTS order
    assert (part["warmup_ms"] == 100).all() and (part["rep_ms"] == 250).all()
    assert len(part[(part["impl"] == "eager_sigmoid") & (part["seq_len"] == 32)]) == 2  # both paddings
    assert pd.read_csv(work / "parts" / "3" / "attention_cpu_hd16_fwd.csv").empty  # resumed: nothing left
    assert done.stdout.rstrip().endswith((out / "summary.txt").read_text().rstrip())
    steps = (work / "logs" / "steps.txt").read_text()
    assert "warm-up and first-call done: warm: 4 jobs, 4 ok" in steps and "diag rc=0" in steps


@pytest.mark.slow
@cpu_only
def test_launch_diag_script_alternates_arms_and_judges_on_the_cpu(tmp_path):
    """gpu/launch_diag.sh at a tiny shape: a warm-up process an arm, then one process an arm and
    round in alternated order, every round's rows in diag.csv (round = repeat), a cProfile per
    point and round, and the decide-diag verdicts in the summary, printed last."""
    out, work = tmp_path / "out", tmp_path / "work"
    done = subprocess.run(
        ["bash", "gpu/launch_diag.sh", "200"], cwd=ROOT, capture_output=True, text=True, timeout=600,
        env=env(OUT=str(out), WORK=str(work), SUITE_COMMIT="test", PY=sys.executable, TRITON_INTERPRET="1",
                POINTS="ours_padded:16:fwd:32", REPEATS="2", BASELINE_POINTS="eager_sigmoid:16:fwd:32",
                DIAG_ARGS="--allow-cpu --tokens 64 --hidden 32 --warmup-ms 1 --rep-ms 1 --profile-calls 2"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["diag.csv", "logs.tgz", "profiles.tgz", "summary.txt"]
    steps = [line.split("] ", 1)[1] for line in (work / "logs" / "steps.txt").read_text().splitlines()]
    assert steps[:9] == ["warm ws_bf16x2 rc=0", "warm bf16x2 rc=0", "warm baselines rc=0", "ws_bf16x2 round 1 rc=0",
                         "bf16x2 round 1 rc=0", "baselines round 1 rc=0", "baselines round 2 rc=0",
                         "bf16x2 round 2 rc=0", "ws_bf16x2 round 2 rc=0"]
    diag = pd.read_csv(out / "diag.csv")
    assert sorted(zip(diag["impl"], diag["variant"], diag["round"], strict=True)) == [
        ("eager_sigmoid", "default", 1), ("eager_sigmoid", "default", 2),
        ("ours_padded_bf16x2", "bf16x2", 1), ("ours_padded_bf16x2", "bf16x2", 2),
        ("ours_padded_ws_bf16x2", "ws_bf16x2", 1), ("ours_padded_ws_bf16x2", "ws_bf16x2", 2)]
    with tarfile.open(out / "profiles.tgz") as tar:
        assert len([n for n in tar.getnames() if n.endswith(".txt")]) == 6
    summary = (out / "summary.txt").read_text()
    assert "rule forward hd128, L >= 4K" in summary and done.stdout.rstrip().endswith(summary.rstrip())


@cpu_only
def test_launch_diag_passes_an_arms_scratch_to_bench_diag(tmp_path):
    """An arm VARIANT@fixed runs that variant with --scratch fixed (refused on a CPU, after the
    variant was accepted: the log says so), its files named VARIANT_fixed."""
    out, work = tmp_path / "out", tmp_path / "work"
    done = subprocess.run(
        ["bash", "gpu/launch_diag.sh", "60"], cwd=ROOT, capture_output=True, text=True, timeout=300,
        env=env(OUT=str(out), WORK=str(work), SUITE_COMMIT="test", PY=sys.executable, TRITON_INTERPRET="1",
                ARMS="bf16x2@fixed", REPEATS="1", BASELINE_POINTS="", PROFILE="0", POINTS="ours_dense:16:fwd:32",
                DIAG_ARGS="--allow-cpu --tokens 64 --hidden 32"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    log = (work / "logs" / "bf16x2_fixed_r1.log").read_text()
    assert "--scratch fixed needs a CUDA GPU" in log and "--variant" not in log
    assert "no bench_diag rows came back" in (out / "summary.txt").read_text()


def test_diag_and_first_call_take_shapes_and_timing_from_the_configuration(tmp_path):
    overlay = tmp_path / "bench.yaml"
    overlay.write_text("bench: {tokens_per_batch: 4096, hidden: 512, warmup_ms: 7, rep_ms: 9, seed: 3}\n")
    diag = load("bench_diag").parse_args(["--out", "d.csv", "--configfile", str(overlay)])
    assert (diag.tokens, diag.hidden, diag.warmup_ms, diag.rep_ms, diag.seed) == (4096, 512, 7, 9, 3)
    first = load("bench_first_call").parse_args(["--out", "f.csv", "--configfile", str(overlay)])
    assert (first.tokens, first.hidden) == (4096, 512)
    shipped = load("bench_diag").parse_args(["--out", "d.csv"])  # config/config.yaml as it is
    assert (shipped.warmup_ms, shipped.rep_ms) == (100, 250)  # the paper's do_bench protocol


# ----------------------------------------------------------------------------------------------
# The kernel-variant call (gpu/h200_kernel_variants.sh, workflow/scripts/bench_variants.py)
# ----------------------------------------------------------------------------------------------


def test_warm_jobs_for_named_impls_lengths_and_variants():
    warm = load("bench_warm")
    parts = [warm.parse_part(t) for t in ("64:bwd:tritonsigmoid_dense,tritonsigmoid_padded", "128:bwd:ours_dense")]
    jobs = warm.jobs_for(parts, seq_lens=[1024, 16384], variants=["default", "tma_fma"])
    assert jobs == [(64, "bwd", "tritonsigmoid_dense", 1024), (64, "bwd", "tritonsigmoid_dense", 16384),
                    (64, "bwd", "tritonsigmoid_padded", 1024), (64, "bwd", "tritonsigmoid_padded", 16384),
                    (128, "bwd", "ours_dense", 1024), (128, "bwd", "ours_dense", 16384),
                    (128, "bwd", "ours_dense@tma_fma", 1024), (128, "bwd", "ours_dense@tma_fma", 16384)]
    assert [j[2] for j in warm.jobs_for([warm.parse_part("64:fwd:ts")])] == ["tritonsigmoid_dense"] * 4 + [
        "tritonsigmoid_padded"] * 4
    impl, job_env = warm.job_env("ours_dense@tma_fma")
    assert impl == "ours_dense" and job_env["SIGATTN_TMA"] == "1" and job_env["SIGATTN_SIGMOID"] == "fma"
    assert warm.job_env("tritonsigmoid_dense")[0] == "tritonsigmoid_dense"


def test_variant_check_prunes_the_entries_that_fail(monkeypatch):
    """Every entry is checked (forward alone, then dQ/dK-dV rounds); an entry whose check fails
    leaves its list before timing, with its dK/dV partner of that round; a forced config that did
    not launch counts as a failure."""
    import copy

    from sigattn import triton_kernels as tk

    import scsigmoid.bench.check as check

    variants = load("bench_variants")
    monkeypatch.setattr(tk, "TUNE_TABLE", copy.deepcopy(tk.TUNE_TABLE))
    monkeypatch.setattr(tk, "TMA", True)
    monkeypatch.setattr(tk, "TUNED", False)  # the single TMA variant
    monkeypatch.setattr(tk, "LAST_CONFIG", {})  # the fake gate's records stay in this test
    lists = {k: tk.TUNE_TABLE[f"{k}_tma"][64] for k in ("fwd", "dq", "dkdv")}
    bad_fwd, bad_dq, silent_dkdv = lists["fwd"][1], lists["dq"][0], lists["dkdv"][2]
    calls = []

    def fake_gate(adapter, head_dim, padding, pass_, **kwargs):
        forced = dict(tk.FORCED_CONFIGS)
        calls.append((pass_, padding, forced))
        for name, config in forced.items():
            if config != silent_dkdv:  # this one "falls back": no forced launch recorded
                tk.LAST_CONFIG[name] = {"kernel": name, "config": config, "source": "forced", "bucket": 1024}
        if forced.get("fwd_tma") == bad_fwd:
            return False, "forward output rel. error 0.9 > 0.02 vs fp32 reference"
        if forced.get("dq_tma") == bad_dq:
            return False, "dq rel. error 0.9 > 0.04 vs fp32 reference"
        return True, "ok"

    monkeypatch.setattr(check, "check_adapter", fake_gate)
    shape = check.CheckShape(batch=16, seq_len=1024, heads=32)
    before = {k: list(v) for k, v in lists.items()}
    rows = variants.check_configs("tma", [64], [64], {64: shape}, "cuda", None, log=lambda msg: None)
    n_fwd, n_rounds = len(before["fwd"]), max(len(before["dq"]), len(before["dkdv"]))
    assert len(calls) == 2 * (n_fwd + n_rounds)  # dense and 25% padded each time
    assert lists["fwd"] == [c for c in before["fwd"] if c != bad_fwd]
    rounds = [(before["dq"][i % len(before["dq"])], before["dkdv"][i % len(before["dkdv"])]) for i in range(n_rounds)]
    failing = [(dq, dkdv) for dq, dkdv in rounds if dq == bad_dq or dkdv == silent_dkdv]
    assert len(failing) >= 2  # round 0 (bad dQ entry) and round 2 (the dK/dV entry that did not launch)
    assert lists["dq"] == [c for c in before["dq"] if c not in {dq for dq, _ in failing}]
    assert lists["dkdv"] == [c for c in before["dkdv"] if c not in {dkdv for _, dkdv in failing}]
    assert not tk.FORCED_CONFIGS
    failed = [r for r in rows if not r["passed"]]
    text = lambda c: ",".join(map(str, c))  # noqa: E731
    assert {(r["kernel"], r["config"]) for r in failed} == {("fwd_tma", text(bad_fwd))} | {
        ("dq_tma", text(dq)) for dq, _ in failing} | {("dkdv_tma", text(dkdv)) for _, dkdv in failing}
    assert any("did not launch" in r["reason"] for r in failed)
    # a forward-only run checks the forward entries alone
    calls.clear()
    rows = variants.check_configs("tma", [64], [], {64: shape}, "cuda", None, log=lambda msg: None, passes=["fwd"])
    assert {r["kernel"] for r in rows} == {"fwd_tma"} and len(calls) == len(lists["fwd"])


def test_variant_check_of_the_tuned_variant_checks_each_pass_in_its_own_lists(monkeypatch):
    """Under "tuned" (sigattn.triton_kernels.TUNED_VARIANTS) the hd64 forward entries come from the
    pointer kernel's list and the backward's from the TMA lists, at hd128 both from the pointer
    lists, and the Gluon forwards' (TUNED_WSP, TUNED_WS_FROM) and backward's (TUNED_WSB) at a
    length where the default takes them, the Triton kernels' at one where it takes those (a check
    elsewhere would launch another kernel than the one forced): each check forces the kernels the
    variant launches there, at a shape where it launches them."""
    import copy

    from sigattn import triton_kernels as tk

    import scsigmoid.bench.check as check

    variants = load("bench_variants")
    monkeypatch.setattr(tk, "TUNE_TABLE", copy.deepcopy(tk.TUNE_TABLE))
    monkeypatch.setattr(tk, "LAST_CONFIG", {})
    monkeypatch.setattr(tk, "TUNED", True)
    monkeypatch.setattr(tk, "TUNED_WSB", {128: ((1024, "bwd_wsbp"), (4096, "bwd_wsbt"))})  # as since session 36
    forced_names = []

    def fake_gate(adapter, head_dim, padding, pass_, **kwargs):
        forced_names.append((head_dim, pass_, tuple(sorted(tk.FORCED_CONFIGS)), kwargs["shape"]))
        for name, config in tk.FORCED_CONFIGS.items():
            tk.LAST_CONFIG[name] = {"kernel": name, "config": config, "source": "forced", "bucket": 1024}
        return True, "ok"

    monkeypatch.setattr(check, "check_adapter", fake_gate)
    shape = check.CheckShape(batch=16, seq_len=1024, heads=32)
    variants.check_configs("tuned", [64, 128], [], {64: shape, 128: shape}, "cuda", None, log=lambda msg: None)
    long = check.CheckShape(batch=2, seq_len=tk.TUNED_WS_FROM[128], heads=32)  # the same 16K tokens
    half = check.CheckShape(batch=32, seq_len=512, heads=32)  # below the Gluon backwards' spans
    at_4k = check.CheckShape(batch=4, seq_len=4096, heads=32)  # the start of bwd_wsbt's span
    assert set(forced_names) == {(64, "fwd", ("fwd",), shape), (64, "bwd", ("dkdv_tma", "dq_tma"), shape),
                                 (128, "fwd", ("fwd",), shape), (128, "fwd", ("fwd_ws",), long),
                                 (128, "bwd", ("dkdv", "dq"), half), (128, "bwd", ("bwd_wsbp",), shape),
                                 (128, "bwd", ("bwd_wsbt",), at_4k)}
    assert sum(f[2] == ("fwd_ws",) for f in forced_names) == len(tk.TUNE_TABLE["fwd_ws"][128])
    assert sum(f[2] == ("bwd_wsbt",) for f in forced_names) == len(tk.TUNE_TABLE["bwd_wsbt"][128])
    assert sum(f[2] == ("bwd_wsbp",) for f in forced_names) == len(tk.TUNE_TABLE["bwd_wsbp"][128])
    # a check shape in bwd_wsbt's span: bwd_wsbp at its span's start, the Triton backward below both
    forced_names.clear()
    variants.check_configs("tuned", [128], [], {128: at_4k}, "cuda", None, log=lambda msg: None)
    assert {(f[2], f[3]) for f in forced_names if f[1] == "bwd"} == {
        (("dkdv", "dq"), half), (("bwd_wsbp",), shape), (("bwd_wsbt",), at_4k)}
    # a check shape already that long is kept
    forced_names.clear()
    variants.check_configs("tuned", [128], [], {128: long}, "cuda", None, log=lambda msg: None, passes=["fwd"])
    assert {f[3] for f in forced_names if f[2] == ("fwd_ws",)} == {long}
    # with the persistent form over 1K <= L < 8K (TUNED_WSP), the 1K shape is its; the Triton
    # forward is checked below it (session 24: every Triton entry failed "did not launch" at 1K)
    monkeypatch.setattr(tk, "TUNED_WSP", {128: (1024, 8192)})
    forced_names.clear()
    variants.check_configs("tuned", [128], [], {128: shape}, "cuda", None, log=lambda msg: None, passes=["fwd"])
    below = check.CheckShape(batch=32, seq_len=512, heads=32)
    assert {(f[2], f[3]) for f in forced_names} == {(("fwd",), below), (("fwd_wsp",), shape), (("fwd_ws",), long)}
    forced_names.clear()
    variants.check_configs("tuned", [128], [], {128: below}, "cuda", None, log=lambda msg: None, passes=["fwd"])
    assert {(f[2], f[3]) for f in forced_names} == {(("fwd",), below), (("fwd_wsp",), shape), (("fwd_ws",), long)}


def test_variant_check_of_the_fused_backward_forces_its_one_kernel(monkeypatch):
    """The fused backward runs no dQ kernel: its rounds force the fused dK/dV kernel alone, every
    entry of its own list once."""
    import copy

    from sigattn import triton_kernels as tk

    import scsigmoid.bench.check as check

    variants = load("bench_variants")
    monkeypatch.setattr(tk, "TUNE_TABLE", copy.deepcopy(tk.TUNE_TABLE))
    monkeypatch.setattr(tk, "LAST_CONFIG", {})
    for name, value in (("TMA", True), ("FUSED", True), ("TUNED", False)):  # the single variant tma_fused
        monkeypatch.setattr(tk, name, value)
    forced = []

    def fake_gate(adapter, head_dim, padding, pass_, **kwargs):
        forced.append((head_dim, pass_, tuple(sorted(tk.FORCED_CONFIGS.items()))))
        for name, config in tk.FORCED_CONFIGS.items():
            tk.LAST_CONFIG[name] = {"kernel": name, "config": config, "source": "forced", "bucket": 1024}
        return True, "ok"

    monkeypatch.setattr(check, "check_adapter", fake_gate)
    shape = check.CheckShape(batch=16, seq_len=1024, heads=32)
    variants.check_configs("tma_fused", [128], [], {128: shape}, "cuda", None, log=lambda msg: None)
    backward = [dict(f) for hd, p, f in forced if p == "bwd"]
    assert [list(f) for f in backward] == [["dkdv_fused_tma"]] * len(tk.TUNE_TABLE["dkdv_fused_tma"][128])
    assert [f["dkdv_fused_tma"] for f in backward] == tk.TUNE_TABLE["dkdv_fused_tma"][128]


def test_variant_summary_ratios():
    variants = load("bench_variants")
    rows = []
    for impl, tf in (("ours_dense", (100, 200)), ("ours_dense_tma", (110, 180)), ("tritonsigmoid_dense", (100, 100)),
                     ("cudnn_sdpa", (200, 400))):
        for L, t in zip((1024, 4096), tf, strict=True):
            rows.append({"impl": impl, "pass": "fwd", "head_dim": 64, "padding_pct": 0, "seq_len": L, "tflops": t,
                         "status": "ok", "reason": "", "config": "fwd_tma@1024=128,64,8,4:autotune" if "tma" in impl else ""})
    rows.append({"impl": "ours_dense_fma", "pass": "fwd", "head_dim": 64, "padding_pct": 0, "seq_len": 1024,
                 "tflops": float("nan"), "status": "failed_check", "reason": "forward output rel. error 0.5",
                 "config": ""})
    text = "\n".join(variants.summary_lines(pd.DataFrame(rows)))
    assert "hd64 fwd pad0: TFLOPS at L = 1024 / 4096" in text
    assert "ours_dense_tma             110 / 180  x1.10 / 0.90 vs ours_dense" in text
    assert "best of ours / tritonsigmoid_dense: 1.10 / 2.00" in text
    assert "best of ours / cudnn_sdpa: 0.55 / 0.50" in text
    assert "not ok: ours_dense_fma failed_check (hd64 fwd pad0 L1024): forward output rel. error 0.5" in text
    assert "warning" not in text
    rows[2]["config"] = "fwd@1024=128,64,8,4:autotune"  # a TMA row that ran the pointer kernel
    assert "warning: ours_dense_tma hd64 fwd L1024 ran" in "\n".join(variants.summary_lines(pd.DataFrame(rows)))


def _timed(impl, pass_, hd, L, ms, spread=0.005, padding=0):
    """A benchmark row timed at median ``ms`` with p20/p80 at -/+ ``spread`` of it."""
    return {"impl": impl, "pass": pass_, "head_dim": hd, "padding_pct": padding, "seq_len": L, "status": "ok",
            "ms_median": ms, "ms_p20": ms * (1 - spread), "ms_p80": ms * (1 + spread), "tflops": 1.0 / ms}


def test_decision_rule_verdicts():
    """A rule is met only when every point reaches the threshold with the timings' range above 1,
    not met when a point's whole range is below it or an entry failed its check, inconclusive when
    the range straddles it or a point is missing; the L >= 4K filter and the padded rows count."""
    variants = load("bench_variants")
    rule = ("bwd", (64,), "tma_mixed", "tuned", 1.03, 4096)
    base = [_timed("ours_dense_tuned", "bwd", 64, L, 10.0) for L in (1024, 4096, 16384)]
    base.append(_timed("ours_padded_tuned", "bwd", 64, 4096, 10.0, padding=25))

    def verdict(cand_ms, spread=0.005, checks_failed=0):
        rows = base + [_timed(f"ours_{layout}_tma_mixed", "bwd", 64, L, ms, spread, padding=pad)
                       for (layout, pad, L), ms in cand_ms.items()]
        return variants.judge(pd.DataFrame(rows), *rule, failed_checks=checks_failed)

    fast = {("dense", 0, 1024): 12.0, ("dense", 0, 4096): 9.5, ("dense", 0, 16384): 9.4, ("padded", 25, 4096): 9.6}
    assert verdict(fast)[0] == "met"  # x1.05-1.06 everywhere L >= 4K; the slow 1K point is not in the rule
    assert len(verdict(fast)[1]) == 3
    assert verdict({**fast, ("padded", 25, 4096): 10.1})[0] == "not met"  # x0.99: range wholly below 1.03
    assert verdict(fast, spread=0.06)[0] == "inconclusive"  # x1.05 but the range reaches below 1
    assert verdict({k: v for k, v in fast.items() if k[0] == "dense"})[0] == "inconclusive"  # padded missing
    assert verdict(fast, checks_failed=2)[0].startswith("not met (2 config checks")
    checks = pd.DataFrame([{"variant": "tma_mixed", "head_dim": 64, "pass": "fwd", "passed": False},
                           {"variant": "tma_mixed", "head_dim": 64, "pass": "bwd", "passed": True}])
    rows = base + [_timed(f"ours_{layout}_tma_mixed", "bwd", 64, L, ms, padding=pad) for (layout, pad, L), ms in fast.items()]
    rows[-1]["device"] = "NVIDIA H100 80GB HBM3"  # the verdicts name the GPU the rows came from
    text = "\n".join(variants.decide_lines(pd.DataFrame(rows), checks, rules=[("r", *rule)]))
    assert text.startswith("rules judged on rows of: NVIDIA H100 80GB HBM3\n1 repeat: each point one call"
                           ) and "\nrule r (>= x1.03 at L >= 4096): met" in text  # a failed forward entry does not count here
    assert "hd64 dense L4096: x1.053 [1.042, 1.063] meets" in text
    # a length range (lo <= L < hi): the 16K point leaves the rule, so its loss does not count
    ranged = ("bwd", (64,), "tma_mixed", "tuned", 1.03, (4096, 16384))
    slow_16k = base + [_timed(f"ours_{layout}_tma_mixed", "bwd", 64, L, ms, padding=pad)
                       for (layout, pad, L), ms in {**fast, ("dense", 0, 16384): 11.0}.items()]
    assert variants.judge(pd.DataFrame(slow_16k), *rule)[0] == "not met"
    verdict_in_range, lines = variants.judge(pd.DataFrame(slow_16k), *ranged)
    assert verdict_in_range == "met" and len(lines) == 2
    assert "rule r (>= x1.03 at 4096 <= L < 16384): met" in "\n".join(
        variants.decide_lines(pd.DataFrame(slow_16k), rules=[("r", *ranged)], targets=[]))


def test_decision_over_repeats_pairs_each_repeat_and_names_baselines():
    """With repeats a point's ratio is the median of the per-repeat ratios and its range spans the
    repeats: one repeat where the candidate lost makes the point unsure although the median
    passes. A baseline base (TritonSigmoid, cuDNN) is matched by layout and padding; a point the
    base lacks is missing (inconclusive), not skipped; a threshold below 1 needs the low end at it."""
    variants = load("bench_variants")

    def rows(ours_ms, base_ms, base="tritonsigmoid_dense", spread=0.005):
        out = []
        for k, (o, b) in enumerate(zip(ours_ms, base_ms, strict=True), start=1):
            for L in (1024, 4096):
                out += [{**_timed("ours_dense", "fwd", 128, L, o, spread), "repeat": k},
                        {**_timed(base, "fwd", 128, L, b, spread), "repeat": k}]
        return pd.DataFrame(out)

    target = ("fwd", (128,), "default", "tritonsigmoid", 1.1, 1024)
    verdict, lines = variants.judge(rows([1.0, 1.0, 1.0], [1.15, 1.2, 1.13]), *target)
    assert verdict == "met" and lines[0] == "  hd128 dense L1024: x1.150 [1.119, 1.212] meets (3 repeats: x1.150 x1.200 x1.130)"
    verdict, lines = variants.judge(rows([1.0, 1.0, 1.0], [1.15, 1.2, 0.98]), *target)
    assert verdict == "inconclusive" and "x1.150 [0.970, 1.212] unsure" in lines[0]  # the third repeat lost
    assert variants.judge(rows([1.0] * 3, [1.02, 1.05, 1.04]), *target)[0] == "not met"  # every repeat below
    # the pairing is per repeat: the same numbers shuffled across repeats give other ratios
    assert variants.judge(rows([1.0, 1.1, 1.0], [1.2, 1.2, 1.15]), *target)[1][0].endswith("(3 repeats: x1.200 x1.091 x1.150)")
    df = rows([1.0], [1.2])
    missing = df[~((df["impl"] == "tritonsigmoid_dense") & (df["seq_len"] == 4096))]
    verdict, lines = variants.judge(missing, *target)
    assert verdict == "inconclusive" and lines[1] == "  hd128 dense L4096: tritonsigmoid_dense not measured"
    # a rule about a variant the call did not time at all: said once, no point lines
    assert variants.judge(df, "fwd", (128,), "default", "fma", 1.05, 1024) == ("inconclusive (not timed here: fma)", [])
    # cuDNN: dense rows only at 0 % padding (its padded rows are another point), below-1 threshold
    cudnn = rows([1.0], [0.87], base="cudnn_sdpa")
    cudnn = pd.concat([cudnn, pd.DataFrame([_timed("cudnn_sdpa", "fwd", 128, 1024, 0.5, padding=25)])])
    rule = ("fwd", (128,), "default", "cudnn_sdpa", 0.85, 1024, 0, ("dense",))
    verdict, lines = variants.judge(cudnn, *rule)
    assert verdict == "met" and len(lines) == 2  # x0.87 with its low end (0.861) at the bar
    assert variants.judge(rows([1.0], [0.87], base="cudnn_sdpa", spread=0.03), *rule)[0] == "inconclusive"
    text = "\n".join(variants.decide_lines(rows([1.0] * 3, [1.15, 1.2, 1.13]), rules=[], targets=[("t", *target)]))
    assert "3 repeats: a point's ratio is the median" in text and "target t (>= x1.1 at L >= 1024): met" in text
    # a repeat cut short (no row of ours at 4K in repeat 1): that point, judged on the two repeats
    # that finished, cannot meet, however far above the bar; the complete point still does
    cut = rows([1.0] * 3, [1.3, 1.3, 1.3])
    cut = cut[~((cut["repeat"] == 1) & (cut["impl"] == "ours_dense") & (cut["seq_len"] == 4096))]
    verdict, lines = variants.judge(cut, *target)
    assert verdict == "inconclusive" and lines[0].endswith("meets (3 repeats: x1.300 x1.300 x1.300)")
    assert lines[1] == "  hd128 dense L4096: x1.300 [1.287, 1.313] unsure (2 repeats: x1.300 x1.300)"
    # two repeats in all: below the three a verdict needs; a miss is still a miss
    assert variants.judge(rows([1.0] * 2, [1.3, 1.3]), *target)[0] == "inconclusive"
    assert variants.judge(rows([1.0] * 2, [1.02, 1.03]), *target)[0] == "not met"
    one = "\n".join(variants.decide_lines(rows([1.0], [1.15]), rules=[], targets=[("t", *target)]))
    assert "1 repeat: each point one call" in one and "short of the 3 repeats a verdict needs" in one


def test_every_rule_names_variants_that_exist():
    """Each rule's and target's candidate and base is a baseline or a variant name sigattn selects
    (a misspelt variant would leave its rule "not timed here" for ever), and its passes, head dims
    and lengths are ones the call can time."""
    variants = load("bench_variants")
    from sigattn.triton_kernels import variant_env

    for rule in [*variants.RULES, *variants.DIAG_RULES, *variants.TARGETS]:
        name, pass_, head_dims, candidate, base, threshold, lengths = rule[:7]
        for v in (candidate, base):
            if v not in variants._BASELINE_IMPL:
                variant_env(v)  # raises on an unknown name
        assert pass_ in ("fwd", "bwd") and set(head_dims) <= {64, 128} and 0.5 < threshold < 2, name
        lo, hi = variants._span(lengths)
        assert 512 <= lo < hi, name


def _diag_row(variant, impl, L, ms, graph_ms, rnd, spread=0.005, padding=0):
    """A bench_diag row (current path) with do_bench median ``ms`` and graph median ``graph_ms``."""
    return {"mode": "after", "variant": variant, "round": rnd, "impl": impl, "pass": "fwd", "head_dim": 128,
            "padding_pct": padding, "seq_len": L, "ms_median": ms, "ms_p20": ms * (1 - spread),
            "ms_p80": ms * (1 + spread), "ms_graph": graph_ms, "ms_graph_p20": graph_ms * (1 - spread),
            "ms_graph_p80": graph_ms * (1 + spread), "host_ms": 0.2, "status": "ok", "device": "NVIDIA H100"}


def test_diag_rules_need_both_timings(tmp_path, capsys):
    """decide-diag judges a rule on do_bench and on graph replays, each as judge() does over the
    rounds: met only where both are met; one timing whose every repeat is below the bar makes it
    not met; a jittery do_bench (range straddling) with a clean graph is inconclusive."""
    variants = load("bench_variants")
    rule = [("r", "fwd", (128,), "ws_bf16x2", "bf16x2", 1.05, 4096)]

    def diag(ws_ms, ws_graph, spread=0.005):
        rows = []
        for rnd in (1, 2, 3):
            for layout, pad in (("dense", 0), ("padded", 25)):
                for L in (1024, 4096, 8192):
                    rows.append(_diag_row("bf16x2", f"ours_{layout}_bf16x2", L, 1.0, 0.9, rnd, padding=pad))
                    slow = L < 4096  # the 1K point lies outside the rule
                    rows.append(_diag_row("ws_bf16x2", f"ours_{layout}_ws_bf16x2", L, 1.2 if slow else ws_ms,
                                          1.2 if slow else ws_graph, rnd, spread, padding=pad))
        return pd.DataFrame(rows)

    met = "\n".join(variants.decide_diag_lines(diag(0.93, 0.83), rule))
    assert met.startswith("rules judged on bench_diag rows of: NVIDIA H100, 3 repeat(s), timings do_bench and graph\n"
                          "rule r (>= x1.05 at L >= 4096): met\n  do_bench: met")
    assert "  graph: met" in met and "  hd128 padded L8192: x1.084" in met  # 0.9 / 0.83 on the graph timing
    graph_below = "\n".join(variants.decide_diag_lines(diag(0.93, 0.88), rule))  # graph x1.02: below the bar
    assert "rule r (>= x1.05 at L >= 4096): not met" in graph_below and "  do_bench: met" in graph_below
    jitter = "\n".join(variants.decide_diag_lines(diag(0.93, 0.83, spread=0.08), rule))
    assert "rule r (>= x1.05 at L >= 4096): inconclusive" in jitter
    # the command reads the processes' CSVs (one an arm and round) and refuses a missing one
    d = diag(0.93, 0.83)
    for (variant, rnd), part in d.groupby(["variant", "round"]):
        part.to_csv(tmp_path / f"{variant}_r{rnd}.csv", index=False)
    variants.main(["decide-diag", *map(str, sorted(tmp_path.glob("*.csv")))])
    assert "rule forward hd128, L >= 4K: the Gluon forward" in capsys.readouterr().out  # DIAG_RULES by default
    with pytest.raises(SystemExit, match="no such bench_diag CSV"):
        variants.main(["decide-diag", str(tmp_path / "missing.csv")])


def test_fixed_scratch_arms_are_left_out_of_the_rules_and_the_graph_gap_splits_them(tmp_path, capsys):
    """A --scratch fixed arm (item 15's diagnostic) must not decide a switch of the default: with
    its rows beside, the verdict is the torch-scratch rows'. graph-gap reports graph ÷ do_bench per
    arm, scratch and graph order: median over rounds with its lowest and highest."""
    variants = load("bench_variants")
    rule = [("r", "fwd", (128,), "ws_bf16x2", "bf16x2", 1.05, 4096, ("dense",))]
    rows = []
    for rnd in (1, 2, 3):
        rows.append({**_diag_row("bf16x2", "ours_dense_bf16x2", 4096, 1.0, 1.0, rnd), "scratch": "torch"})
        # our path's own scratch: >= x1.11 on both timings; the fixed buffer's rows would fail the rule
        rows.append({**_diag_row("ws_bf16x2", "ours_dense_ws_bf16x2", 4096, 0.85, 0.85 * (1.03 + rnd / 100), rnd),
                     "scratch": "torch", "graph_order": "before" if rnd % 2 else "after"})
        rows.append({**_diag_row("ws_bf16x2", "ours_dense_ws_bf16x2", 4096, 1.2, 1.2, rnd), "scratch": "fixed",
                     "graph_order": "after"})
    diag = pd.DataFrame(rows)
    assert "rule r (>= x1.05 at L >= 4096): met" in "\n".join(variants.decide_diag_lines(diag, rule))
    gap = variants.graph_gap_lines(diag)
    # rounds 1 and 3 (graph first): x1.04 and x1.06; round 2 (graph after): x1.05
    assert ("  variant=ws_bf16x2 scratch=torch impl=ours_dense_ws_bf16x2 padding_pct=0 seq_len=4096 "
            "graph_order=before: x1.050 [1.040, 1.060] n=2") in gap
    assert ("  variant=ws_bf16x2 scratch=torch impl=ours_dense_ws_bf16x2 padding_pct=0 seq_len=4096 "
            "graph_order=after: x1.050 [1.050, 1.050] n=1") in gap
    assert ("  variant=ws_bf16x2 scratch=fixed impl=ours_dense_ws_bf16x2 padding_pct=0 seq_len=4096 "
            "graph_order=after: x1.000 [1.000, 1.000] n=3") in gap
    # rows of earlier calls (no scratch / graph_order column): our scratch, graph after do_bench
    old = pd.DataFrame([_diag_row("bf16x2", "ours_dense_bf16x2", 4096, 1.0, 1.02, 1),
                        {**_diag_row("bf16x2", "ours_dense_bf16x2", 8192, 2.0, float("nan"), 1)}])
    assert variants.graph_gap_lines(old)[1:] == [
        "  variant=bf16x2 scratch=torch impl=ours_dense_bf16x2 padding_pct=0 seq_len=4096 graph_order=after: "
        "x1.020 [1.020, 1.020] n=1"]  # the 8K row has no graph time
    assert variants.graph_gap_lines(old.iloc[1:]) == ["graph-gap: no row has both a do_bench and a graph time"]
    clocked = old.iloc[:1].assign(sm_mhz=1980.0, sm_mhz_graph=1755.0)  # rows with NVML clocks name them
    assert variants.graph_gap_lines(clocked)[1].endswith("x1.020 [1.020, 1.020] n=1, SM 1980 / 1755 MHz")
    diag.to_csv(tmp_path / "d.csv", index=False)
    variants.main(["graph-gap", str(tmp_path / "d.csv")])
    assert "scratch=fixed" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="no such bench_diag CSV"):
        variants.main(["graph-gap", str(tmp_path / "missing.csv")])


def test_graph_order_and_fixed_scratch_allocator():
    """--graph-order: 'alternate' times the graph first in odd rounds. --scratch fixed: Triton's
    allocator hands out the start of one buffer (any size up to it, a clear error beyond), and our
    launch path keeps a caller-set allocator instead of putting its own in."""
    diag = load("bench_diag")
    assert [diag.graph_first(order, rnd) for order in ("after", "before", "alternate") for rnd in (1, 2)] == [
        False, False, True, True, True, False]
    from sigattn import triton_kernels
    from triton.runtime import _allocation

    token = _allocation._allocator.set(_allocation.NullAllocator())
    try:
        diag.set_fixed_scratch("cpu", nbytes=1024)
        alloc = _allocation._allocator.get()
        a, b = alloc(100, 128, None), alloc(1024, 128, None)
        assert a.numel() == 100 and a.data_ptr() == b.data_ptr()  # the same buffer each launch
        with pytest.raises(RuntimeError, match="asks 1025 B of scratch, the buffer has 1024 B"):
            alloc(1025, 128, None)
        with triton_kernels._descriptor_scratch(torch.device("cuda"), True):
            assert _allocation._allocator.get() is alloc  # the caller's is kept
    finally:
        _allocation._allocator.reset(token)


@cpu_only
def test_diag_refuses_fixed_scratch_without_a_gpu(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPTS / "bench_diag.py"), "--out", str(tmp_path / "d.csv"),
                           "--allow-cpu", "--scratch", "fixed", "--points", "ours_dense:16:fwd:32"],
                          cwd=ROOT, env=env(TRITON_INTERPRET="1"), capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "--scratch fixed needs a CUDA GPU" in done.stderr
    assert not (tmp_path / "d.csv").exists()


def test_repeats_spread_judges_the_medians_movement_not_the_single_calls():
    """spread="repeats": a point's range is its repeats' ratios of medians, so wide single-call
    spreads with steady medians meet the bar (where "p20p80" is unsure); fewer than MIN_REPEATS
    repeats stay unsure unless every repeat misses; one repeat slower than the base is unsure."""
    variants = load("bench_variants")
    rule = ("fwd", (128,), "ws_bf16x2", "bf16x2", 1.05, 4096)

    def rows(cand_ms, spread=0.1):
        out = []
        for rnd, ms in enumerate(cand_ms, start=1):
            out += [{**_timed("ours_padded_bf16x2", "fwd", 128, 4096, 1.0, spread, padding=25), "repeat": rnd},
                    {**_timed("ours_padded_ws_bf16x2", "fwd", 128, 4096, ms, spread, padding=25), "repeat": rnd}]
        return pd.DataFrame(out)

    steady = rows([0.93, 0.94, 0.92, 0.93, 0.935])
    assert variants.judge(steady, *rule, layouts=("padded",))[0] == "inconclusive"  # p20p80: 0.9 / 1.034 < 1
    verdict, lines = variants.judge(steady, *rule, layouts=("padded",), spread="repeats")
    assert verdict == "met" and "[1.064, 1.087] meets" in lines[0]
    assert variants.judge(rows([0.93, 0.94, 0.92]), *rule, layouts=("padded",), spread="repeats")[0] == "inconclusive"  # 3 < 5 repeats
    assert variants.judge(rows([0.98, 0.97, 0.99]), *rule, layouts=("padded",), spread="repeats")[0] == "not met"  # all below 1.05
    one_slow = rows([0.93, 0.94, 1.01, 0.93, 0.935])
    assert variants.judge(one_slow, *rule, layouts=("padded",), spread="repeats")[0] == "inconclusive"  # a repeat at x0.99
    with pytest.raises(ValueError, match="spread 'iqr'"):
        variants.judge(steady, *rule, layouts=("padded",), spread="iqr")


def test_collect_stacks_repeats_and_refuses_a_point_twice_in_one(tmp_path, capsys):
    variants = load("bench_variants")
    from scsigmoid.bench.harness import RESULT_COLUMNS

    def part(path, ms):
        row = {c: "" for c in RESULT_COLUMNS} | _timed("ours_dense", "fwd", 64, 1024, ms)
        row |= {"warmup_ms": 100.0, "rep_ms": 250.0, "device": "NVIDIA H100 80GB HBM3", "commit": "abc"}
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame([row], columns=RESULT_COLUMNS).to_csv(path, index=False)

    for k, ms in ((1, 1.0), (2, 1.1)):
        part(tmp_path / "parts" / f"rep{k}" / "default" / "attention_h100_hd64_fwd.csv", ms)
    out = tmp_path / "variants.csv"
    variants.main(["collect", str(tmp_path / "parts"), "--out", str(out)])
    table = pd.read_csv(out)
    assert table[["repeat", "ms_median"]].values.tolist() == [[1, 1.0], [2, 1.1]]
    assert "2 repeat(s)" in capsys.readouterr().out
    assert variants.read_parts([out])["repeat"].tolist() == [1, 2]  # a collected CSV keeps its repeats
    part(tmp_path / "parts" / "rep2" / "again" / "attention_h100_hd64_fwd.csv", 1.2)
    with pytest.raises(SystemExit, match="repeat points"):
        variants.main(["collect", str(tmp_path / "parts"), "--out", str(tmp_path / "bad.csv")])
    assert not (tmp_path / "bad.csv").exists()
    with pytest.raises(SystemExit, match="no such part CSV or folder"):
        variants.main(["summary", str(tmp_path / "nowhere")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="no attention_"):
        variants.main(["collect", str(tmp_path / "empty"), "--out", str(tmp_path / "bad.csv")])


def test_variant_summary_over_repeats():
    variants = load("bench_variants")
    rows = []
    for k, (ours, ts) in enumerate(((100, 90), (110, 90), (90, 100)), start=1):
        rows += [{"impl": "ours_dense", "pass": "fwd", "head_dim": 64, "padding_pct": 0, "seq_len": 1024, "tflops": ours,
                  "status": "ok", "reason": "", "config": "", "repeat": k},
                 {"impl": "tritonsigmoid_dense", "pass": "fwd", "head_dim": 64, "padding_pct": 0, "seq_len": 1024,
                  "tflops": ts, "status": "ok", "reason": "", "config": "", "repeat": k}]
    rows += [{"impl": "ours_padded", "pass": "fwd", "head_dim": 64, "padding_pct": 25, "seq_len": 1024, "tflops": t,
              "status": "ok", "reason": "", "config": "", "repeat": k} for k, t in ((1, 90), (2, 99), (3, 90))]
    text = "\n".join(variants.summary_lines(pd.DataFrame(rows)))
    assert text.startswith("3 repeats (arms alternated)")
    # each repeat's padded over the same repeat's dense: 0.90, 0.90, 1.00
    assert "hd64 fwd ours_padded / ours_dense (TFLOPS of real tokens) at L = 1024: 0.90 [0.90-1.00]" in text
    assert "  ours_dense                 100" in text  # the median over repeats
    assert "best of ours / tritonsigmoid_dense: 1.11 [0.90-1.22]" in text


@pytest.mark.slow
@cpu_only
def test_kernel_variants_script_end_to_end_on_the_cpu(tmp_path):
    """The variant call at tiny shapes under the interpreter: warm-up, per-variant config checks
    (real kernels, every entry of the lists) and timing, merge, summary; <= 4 files under OUT."""
    out, work = tmp_path / "out", tmp_path / "work"
    tiny = "--allow-cpu --tokens 64 --hidden 32"
    done = subprocess.run(
        ["bash", "gpu/h200_kernel_variants.sh", "400"], cwd=ROOT, capture_output=True, text=True, timeout=900,
        env=env(OUT=str(out), WORK=str(work), SUITE_COMMIT="test", PY=sys.executable, TRITON_INTERPRET="1",
                CHECKS="0", HEAD_DIMS="16", SEQ_LENS="32", REPEATS="2",
                RUNS="default:default:ours_dense,eager_sigmoid tma:tma:ours_dense,ours_padded:fwd "
                     "tma_fused:tma_fused:ours_dense:bwd",
                WARM_ARGS=tiny, RUN_ARGS=f"{tiny} --padded-head-dims 16 --warmup-ms 1 --rep-ms 1"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["attention_h200_variants.csv", "logs.tgz", "summary.txt",
                                                     "variant_checks.csv"]
    merged = pd.read_csv(out / "attention_h200_variants.csv")
    assert {"ours_dense", "eager_sigmoid", "ours_dense_tma", "ours_padded_tma"} <= set(merged["impl"])
    assert (merged.loc[merged["impl"] == "eager_sigmoid", "status"] == "ok").all()
    assert set(merged.loc[merged["impl"].str.endswith("_tma"), "pass"]) == {"fwd"}  # the run's own passes
    assert set(merged.loc[merged["impl"] == "ours_dense", "pass"]) == {"fwd", "bwd"}
    assert (merged["commit"].astype(str) == "test").all() and (merged["warmup_ms"] == 1).all()
    assert merged.groupby("repeat").size().to_dict() == {1: len(merged) // 2, 2: len(merged) // 2}
    checks = pd.read_csv(out / "variant_checks.csv")
    assert set(checks["variant"]) == {"default", "tma", "tma_fused"} and checks["passed"].all()
    assert {k.removesuffix("_tma") for k in checks.loc[checks["variant"] == "default", "kernel"]} == {"fwd", "dq", "dkdv"}
    assert set(checks.loc[checks["variant"] == "tma", "kernel"]) == {"fwd_tma"}  # its process times fwd only
    assert set(checks.loc[checks["variant"] == "tma_fused", "kernel"]) == {"fwd_tma", "dkdv_fused_tma"}
    assert set(merged.loc[merged["impl"] == "ours_dense_tma_fused", "pass"]) == {"bwd"}  # rows named after it
    steps = (work / "logs" / "steps.txt").read_text()
    assert "warm-up done: warm: " in steps and "tma repeat 1 rc=0" in steps
    starts = [line.split("] ")[1].split(" (")[0] for line in steps.splitlines() if " repeat " in line and "(variant" in line]
    assert starts == ["default repeat 1/2", "tma repeat 1/2", "tma_fused repeat 1/2",  # then the other way round
                      "tma_fused repeat 2/2", "tma repeat 2/2", "default repeat 2/2"]
    assert done.stdout.rstrip().endswith((out / "summary.txt").read_text().rstrip())


def test_gpu_check_splits_tests_over_processes_each_once():
    check = load("gpu_kernel_check")
    ids = [f"tests/kernels/test_{f}.py::test_{i}" for f in "abc" for i in range(7)]
    chunks = check.split_round_robin(ids, 4)
    assert sorted(sum(chunks, [])) == sorted(ids) and len(chunks) == 4
    assert max(map(len, chunks)) - min(map(len, chunks)) <= 1
    assert all(len({i.split("::")[0] for i in c}) == 3 for c in chunks)  # each file spread over all
    assert check.split_round_robin(ids[:2], 4) == [[ids[0]], [ids[1]]]  # no empty process


def test_gpu_check_runs_pytest_without_the_projects_xdist_options():
    """The GPU machine has no pytest-xdist: the check's pytest drops pyproject's addopts ("-n 2"),
    so it collects there (xdist switched off here to stand for its absence)."""
    check = load("gpu_kernel_check")
    res = subprocess.run([*check.PYTEST, "-p", "no:xdist", "--collect-only", "-q", "tests/kernels/test_sigattn_errors.py"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "tests collected" in res.stdout, res.stdout[-2000:] + res.stderr[-2000:]
    plain = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:xdist", "--collect-only", "-q",
                            "tests/kernels/test_sigattn_errors.py"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert plain.returncode != 0 and "-n" in plain.stderr  # what the override avoids


def test_gpu_check_kills_a_step_at_its_deadline(tmp_path):
    import time

    check = load("gpu_kernel_check")
    job = check._start([sys.executable, "-c", "import time; print('started', flush=True); time.sleep(30)"],
                       tmp_path / "slow.log")
    t0 = time.time()
    result = check._finish(job, time.time() + 1.5)
    assert result["rc"] == "timeout" and time.time() - t0 < 10 and job["proc"].poll() is not None
    assert "started" in (tmp_path / "slow.log").read_text()


@cpu_only
def test_gpu_check_parallel_pytest_counts_every_collected_test(tmp_path):
    """--jobs 3 on the CPU: the gpu-marked tests skip, and the processes' junit files together
    hold each collected test once."""
    res = subprocess.run([sys.executable, str(SCRIPTS / "gpu_kernel_check.py"), str(tmp_path), "pytest", "200",
                          "--jobs", "3"], cwd=ROOT, env=env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    import json

    summary = json.loads((tmp_path / "summary.json").read_text())["pytest"]
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "gpu", "tests/kernels"],
                               cwd=ROOT, env=env(), capture_output=True, text=True).stdout
    n = sum("::" in line for line in collected.splitlines())
    assert len(summary["jobs"]) == 3 and summary["tests"]["tests"] == n > 0
    bad = subprocess.run([sys.executable, str(SCRIPTS / "gpu_kernel_check.py"), str(tmp_path), "pytest",
                          "--jobs", "0"], cwd=ROOT, env=env(), capture_output=True, text=True)
    assert bad.returncode == 2 and "at least 1" in bad.stderr


@cpu_only
def test_kernel_tests_script_end_to_end_on_the_cpu(tmp_path):
    """gpu/kernel_tests.sh with the gpu-marked tests only (they skip here): the call's provenance
    and one summary whose counts cover the collected tests."""
    import json

    out = tmp_path / "out"
    res = subprocess.run(["bash", "gpu/kernel_tests.sh", "200"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, env=env(OUT=str(out), SUITE_COMMIT="abc123def456", ALL_TESTS="0",
                                              JOBS="2", WORK=str(tmp_path / "work"), PY=sys.executable))
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "commit abc123def456" in (out / "env.txt").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pytest"]["rc"] == 0 and len(summary["pytest"]["jobs"]) == 2
    assert summary["pytest"]["tests"]["tests"] > 0
    assert summary["memcheck"]["rc"] in (0, "skipped")


NCU_HEADER = ('"ID","Process ID","Process Name","Host Name","Kernel Name","Context","Stream","Block Size",'
              '"Grid Size","Device","CC","Section Name","Metric Name","Metric Unit","Metric Value"')


def _ncu_row(kid, kernel, metric, unit, value):
    return f'"{kid}","1","python3","h","{kernel}","1","7","(256, 1, 1)","(2048, 1, 1)","0","9.0","S","{metric}","{unit}","{value}"'


def test_ncu_summary_reads_the_details_page(tmp_path):
    profile = load("bench_profile")
    csv = tmp_path / "ncu_ours_padded_128_fwd_16384.csv"
    csv.write_text("\n".join(["==PROF== Connected to process 1", NCU_HEADER,
                              _ncu_row(0, "_fwd_kernel", "Duration", "us", "812.5"),
                              _ncu_row(0, "_fwd_kernel", "Waves Per SM", "", "12.24"),
                              _ncu_row(0, "_fwd_kernel", "L1/TEX Hit Rate", "%", "3"),  # not kept
                              _ncu_row(1, "_bwd_dq_kernel", "Achieved Occupancy", "%", "11.9")]) + "\n")
    lines = profile.ncu_summary(csv)
    assert lines == [f"{csv.name}:", "  _fwd_kernel: Duration 812.5 us, Waves Per SM 12.24",
                     "  _bwd_dq_kernel: Achieved Occupancy 11.9 %"]
    bad = tmp_path / "ncu_bad.csv"
    bad.write_text("==PROF== Connected\n==ERROR== The profiler could not read the counters\n")
    assert profile.ncu_summary(bad) == ["ncu_bad.csv: no ncu table (==ERROR== The profiler could not read the counters)"]


def test_tidy_writes_each_table_with_its_point_and_provenance_and_names_what_it_cannot(tmp_path):
    profile = load("bench_profile")
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "ncu_ours_dense_128_fwd_16384.log").write_text("\n".join(
        ["==PROF== Connected to process 1", NCU_HEADER, _ncu_row(0, "_fwd_kernel", "Duration", "us", "3,725.1")]) + "\n")
    (logs / "ncu_cudnn_sdpa_128_fwd_16384.log").write_text("==ERROR== could not read the counters\n")
    (logs / "ncu_ours_padded_128_fwd_16384.log").write_text(NCU_HEADER + "\n" + _ncu_row(0, "k", "Duration", "us", "1") + "\n")
    points = tmp_path / "points.csv"
    pd.DataFrame([{"point": "ours_dense:128:fwd:16384", "config": "fwd@16384=128,64,8,3:table", "device": "GPU X",
                   "torch": "2.11", "triton": "3.6.0", "commit": "abc123def456", "date": "2026-12-06"}]).to_csv(points, index=False)
    out = tmp_path / "out"
    out.mkdir()
    problems = profile.tidy(sorted(logs.iterdir()), points, out)
    assert problems == ["ncu_cudnn_sdpa_128_fwd_16384.log: no ncu table (==ERROR== could not read the counters)",
                        "ncu_ours_padded_128_fwd_16384.log: no row of its point in points.csv"]
    assert [p.name for p in out.iterdir()] == ["ncu_ours_dense_128_fwd_16384.csv"]
    table = profile.ncu_table(out / "ncu_ours_dense_128_fwd_16384.csv")  # the tidy file reads back as ncu's table
    assert table["Metric Value"].tolist() == ["3,725.1"] and table["point"].tolist() == ["ours_dense:128:fwd:16384"]
    assert table[["device", "commit", "date"]].values.tolist() == [["GPU X", "abc123def456", "2026-12-06"]]


def test_tidy_names_a_graph_replays_table_apart_from_the_eager_one(tmp_path):
    """profile_points.sh GRAPH=1 profiles a point twice; --tidy keeps both tables, the replays' as
    ncu_<point>_graph.csv, each with the provenance of its own process's row."""
    profile = load("bench_profile")
    for name, value in (("ours_dense_128_fwd_4096", "900"), ("ours_dense_128_fwd_4096_graph", "950")):
        (tmp_path / f"ncu_{name}.log").write_text(NCU_HEADER + "\n" + _ncu_row(0, "k", "Duration", "us", value) + "\n")
    points = tmp_path / "points.csv"
    pd.DataFrame([{"point": "ours_dense:128:fwd:4096", "launch": launch, "device": "GPU X", "torch": "2.11",
                   "triton": "3.6.0", "commit": commit, "date": "2026-12-06"}
                  for launch, commit in (("eager", "aaa"), ("graph", "bbb"))]).to_csv(points, index=False)
    out = tmp_path / "out"
    out.mkdir()
    assert profile.tidy(sorted(tmp_path.glob("ncu_*.log")), points, out) == []
    eager, graph = (profile.ncu_table(out / f"ncu_ours_dense_128_fwd_4096{s}.csv") for s in ("", "_graph"))
    assert (eager["Metric Value"].tolist(), eager["commit"].tolist()) == (["900"], ["aaa"])
    assert (graph["Metric Value"].tolist(), graph["commit"].tolist()) == (["950"], ["bbb"])


def test_schedule_model_predicts_the_profiled_durations():
    """scsigmoid.bench.ceiling's schedule model against a measurement, not its own arithmetic:
    session 20's ncu profile of hd128 at L = 16K on an H100 (results/kernels/h100_profile_s20_20f9fb0:
    each launch's config and lengths, ncu's durations and block limits, read with bench_profile's
    ncu_table). The padded launch's time ÷ the dense one's, as the model prices it (useful entries
    ratio ÷ the model's efficiency ratio), is within 1 % of ncu's for the forward (one CTA an SM,
    where the model's slots are exact; 0.638 vs 0.642) and within 2.5 % for the two backward kernels
    (two CTAs an SM; dQ 0.685 vs 0.666: kernels/PERF.md "Session 19" says why the model over-states
    the loss there)."""
    from scsigmoid.bench.ceiling import schedule_model

    profile = load("bench_profile")
    folder = ROOT / "results/kernels/h100_profile_s20_20f9fb0"
    points = pd.read_csv(folder / "points.csv").set_index("point")

    def ncu(point):  # kernel name -> {metric: number} of the point's ncu details page
        table = profile.ncu_table(folder / f"ncu_{point.replace(':', '_')}.csv")
        return {k: {m: float(v.replace(",", "")) for m, v in zip(g["Metric Name"], g["Metric Value"], strict=True)
                    if v.replace(",", "").replace(".", "").isdigit()} for k, g in table.groupby("Kernel Name")}

    checked = 0
    for pass_, kernels in (("fwd", {"_fwd_kernel": ("fwd", 0.01)}),
                           ("bwd", {"_bwd_dq_kernel": ("dq", 0.025), "_bwd_dkdv_kernel": ("dkdv", 0.025)})):
        dense, padded = (f"ours_{layout}:128:{pass_}:16384" for layout in ("dense", "padded"))
        measured = {layout: ncu(p) for layout, p in (("dense", dense), ("padded", padded))}
        lengths = [int(x) for x in str(points.loc[padded, "lengths"]).split()]
        configs = {part.split("@")[0]: part.split("=")[1].split(":")[0]  # fwd@16384=128,64,8,3:table;dq@...
                   for part in points.loc[padded, "config"].split(";")}
        for kernel, (name, tol) in kernels.items():
            bm, bn = (int(x) for x in configs[name].split(",")[:2])
            stats = measured["padded"][kernel]
            slots = 132 * int(min(stats["Block Limit Registers"], stats["Block Limit Shared Mem"]))
            model = schedule_model(lengths, 16384, int(points.loc[padded, "heads"]), name, bm, bn, slots)
            predicted = sum(x * x for x in lengths) / 16384**2 / model
            ratio = stats["Duration"] / measured["dense"][kernel]["Duration"]
            assert predicted == pytest.approx(ratio, abs=tol), (kernel, predicted, ratio)
            checked += 1
    assert checked == 3


@pytest.mark.slow
@cpu_only
def test_profile_points_script_end_to_end_with_a_stand_in_profiler(tmp_path):
    """gpu/profile_points.sh at tiny shapes under the interpreter, ncu replaced by a script that
    writes a details page to --log-file and runs the command: one ncu CSV and one row of
    points.csv a point, the summary printed last."""
    fake = tmp_path / "ncu"
    fake.write_text("#!/usr/bin/env bash\nlog=''\n"
                    "while [ $# -gt 0 ]; do case $1 in --log-file) log=$2; shift 2;; "
                    "--section|--clock-control|--page|--profile-from-start) shift 2;; --csv) shift;; *) break;; esac; done\n"
                    f"printf '%s\\n' '{NCU_HEADER}' '{_ncu_row(0, '_fwd_kernel', 'Waves Per SM', '', '3.5')}' > \"$log\"\n"
                    'exec "$@"\n')
    fake.chmod(0o755)
    out = tmp_path / "out"
    res = subprocess.run(["bash", "gpu/profile_points.sh", "200"], cwd=ROOT, capture_output=True, text=True,
                         timeout=600, env=env(OUT=str(out), SUITE_COMMIT="abc123def456", WORK=str(tmp_path / "work"),
                                              PY=sys.executable, NCU=str(fake), TRITON_INTERPRET="1",
                                              POINTS="ours_dense:16:fwd:32 ours_padded:16:bwd:32",
                                              PROFILE_ARGS="--allow-cpu --tokens 64 --hidden 32"))
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["env.txt", "logs.tgz", "ncu_ours_dense_16_fwd_32.csv",
                                                     "ncu_ours_padded_16_bwd_32.csv", "points.csv", "summary.txt"]
    points = pd.read_csv(out / "points.csv")
    assert points["point"].tolist() == ["ours_dense:16:fwd:32", "ours_padded:16:bwd:32"]
    ncu = pd.read_csv(out / "ncu_ours_padded_16_bwd_32.csv")  # ncu's table, the point, the process's provenance
    assert ncu["Metric Value"].tolist() == [3.5] and ncu["point"].tolist() == ["ours_padded:16:bwd:32"]
    assert ncu["commit"].tolist() == ["abc123def456"] and ncu["device"].notna().all()
    assert points["padding_pct"].tolist() == [0, 25] and (points["commit"] == "abc123def456").all()
    assert points.loc[1, "config"].startswith("fwd@32=") and "dkdv" in points.loc[1, "config"]
    summary = (out / "summary.txt").read_text()
    assert summary.count("_fwd_kernel: Waves Per SM 3.5") == 2 and "ours_padded:16:bwd:32 eager rc=0" in summary
    assert res.stdout.rstrip().endswith(summary.rstrip())


@pytest.mark.parametrize(("budget", "want", "reserve", "expected"), [
    (540, 150, 300, 150),  # enough for both: the step's own cap
    (700, 500, 300, 400),  # the reserve kept (under half), the step gets what is left above it
    (400, 150, 300, 150),  # the reserve at half of what is left (200): the step's own cap fits
    (290, 150, 300, 145),  # less than the reserve: half of what is left (was -10: `timeout` refused it)
    (30, 150, 10, 20),
    (0, 150, 300, 1),  # nothing left: 1 s, never 0 (`timeout 0` is no limit) nor negative
    (-20, 60, 200, 1),
])
def test_cap_leaves_a_reserve_of_at_most_half_and_is_never_below_one_second(tmp_path, budget, want, reserve, expected):
    script = (f"budget={budget}; work={tmp_path / 'work'}; OUT={tmp_path / 'out'}; SUITE_COMMIT=abc; "
              f"source gpu/call_common.sh; left() {{ echo {budget}; }}; cap {want} {reserve}")  # the clock held still
    res = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert int(res.stdout.split()[-1]) == expected


def test_probe_configs_lists_each_entry_then_the_autotuners_pick_and_refuses_bad_input():
    """probe_configs.py (session 24's hang probe): one run per (head dim, shape, entry) and one for
    the variant's own choice ("auto": config None); a malformed shape or an unknown kernel or head
    dim is refused with what to pass instead."""
    import argparse

    from sigattn import triton_kernels as tk

    probe = load("probe_configs")
    args = argparse.Namespace(variant="ws_bf16x2", kernel="fwd_ws", head_dim=[64, 128], shapes=[(16, 1024), (1, 1000)],
                              heads=16)
    specs = probe.specs(args)
    per_shape = {hd: len(tk.TUNE_TABLE["fwd_ws"][hd]) + 1 for hd in (64, 128)}
    assert len(specs) == 2 * sum(per_shape.values())
    assert [s["config"] for s in specs[: per_shape[64]]] == [*tk.TUNE_TABLE["fwd_ws"][64], None]
    assert {(s["batch"], s["seq_len"]) for s in specs} == {(16, 1024), (1, 1000)}
    assert probe.parse_shape("16x1024") == (16, 1024)
    for bad in ("16*1024", "0x64", "x"):
        with pytest.raises(argparse.ArgumentTypeError, match="BATCHxLENGTH|positive"):
            probe.parse_shape(bad)
    with pytest.raises(SystemExit, match="not a kernel of TUNE_TABLE"):
        probe.specs(argparse.Namespace(**{**vars(args), "kernel": "fwd_xx"}))
    with pytest.raises(SystemExit, match="has no list for it"):
        probe.specs(argparse.Namespace(**{**vars(args), "head_dim": [256]}))


def _power_row(variant, impl, rnd, ms, mhz, watts, capped, limit=700.0):
    return dict(mode="after", variant=variant, round=rnd, impl=impl, head_dim=128, padding_pct=0, seq_len=16384,
                batch=1, heads=16, ms_median=ms, sm_mhz=mhz, power_w=watts, power_capped=capped,
                power_limit_w=limit, status="ok", device="NVIDIA H100 80GB HBM3", **{"pass": "bwd"})


def test_power_verdict_says_power_bound_only_when_every_round_is_capped_at_the_limit():
    """power-bound needs every round capped in >= 90 % of its samples at >= 95 % of the limit; not
    power-bound every round capped in <= 10 %; a round between, or one without power, inconclusive;
    no power at all: not measured."""
    bv = load("bench_variants")
    rows = lambda *caps_watts: pd.DataFrame([_power_row("default", "ours_dense", r, 13.6, 1700, w, c)  # noqa: E731
                                             for r, (c, w) in enumerate(caps_watts, 1)])
    assert bv.power_verdict(rows((1.0, 690), (0.95, 680), (0.9, 670))) == "power-bound"
    assert bv.power_verdict(rows((1.0, 690), (1.0, 640), (1.0, 690))) == "inconclusive"  # 640 W < 0.95 x 700
    assert bv.power_verdict(rows((1.0, 690), (0.5, 690), (1.0, 690))) == "inconclusive"
    assert bv.power_verdict(rows((0.0, 450), (0.1, 500), (0.0, 480))) == "not power-bound"
    some = rows((1.0, 690), (1.0, 690), (1.0, 690))
    some.loc[1, "power_w"] = float("nan")
    assert bv.power_verdict(some).startswith("inconclusive (1 round(s) without power)")
    assert bv.power_verdict(rows((1.0, 690)).drop(columns=["power_w", "power_capped", "power_limit_w"])) \
        == "not measured"


def test_power_lines_compare_a_variants_energy_a_call_with_the_defaults(tmp_path):
    """The power subcommand prints each arm's medians and verdict, and a variant over the default
    at the same point: two power-bound arms, 2 % apart in time at 4 % apart in clock."""
    rows = [_power_row("default", "ours_dense", r, 13.6, 1750, 690.0, 1.0) for r in (1, 2, 3)]
    rows += [_power_row("tma", "ours_dense_tma", r, 13.6 * 0.98, 1680, 690.0, 1.0) for r in (1, 2, 3)]
    diag = tmp_path / "diag.csv"
    pd.DataFrame(rows).to_csv(diag, index=False)
    out = subprocess.run([sys.executable, str(SCRIPTS / "bench_variants.py"), "power", str(diag)],
                         capture_output=True, text=True, check=True).stdout
    assert "ours_dense hd128 bwd pad0 L16384: 13.600 ms, SM 1750 MHz, 690 / 700 W, capped 100%, 9384 mJ a call, " \
           "n=3: power-bound" in out
    assert "tma / default, ours_dense_tma hd128 bwd pad0 L16384: time x0.980, SM clock x0.960, energy a call x0.980" \
        in out
