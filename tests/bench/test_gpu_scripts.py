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
    assert len(pd.read_csv(tmp_path / "warm.csv")) == 3


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
    assert row["max_rel_error"] < 1e-4  # fp32 under the interpreter
    assert row["config"] == "fwd@32=32,16,1,1:interpreter;dq@32=32,16,1,1:interpreter;dkdv@32=32,16,1,1:interpreter"


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
                PARTS="16:fwd 16:bwd", BENCH_IMPLS="eager_sigmoid ours_dense",
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
    assert names == ["attention_cpu_hd16_bwd.csv", "attention_cpu_hd16_fwd.csv"]
    part = pd.read_csv(work / "parts" / "attention_cpu_hd16_fwd.csv")
    assert (part["warmup_ms"] == 100).all() and (part["rep_ms"] == 250).all()
    assert done.stdout.rstrip().endswith((out / "summary.txt").read_text().rstrip())
    steps = (work / "logs" / "steps.txt").read_text()
    assert "warm-up and first-call done: warm: 4 jobs, 4 ok" in steps and "diag rc=0" in steps


def test_diag_and_first_call_take_shapes_and_timing_from_the_configuration(tmp_path):
    overlay = tmp_path / "bench.yaml"
    overlay.write_text("bench: {tokens_per_batch: 4096, hidden: 512, warmup_ms: 7, rep_ms: 9}\n")
    diag = load("bench_diag").parse_args(["--out", "d.csv", "--configfile", str(overlay)])
    assert (diag.tokens, diag.hidden, diag.warmup_ms, diag.rep_ms) == (4096, 512, 7, 9)
    first = load("bench_first_call").parse_args(["--out", "f.csv", "--configfile", str(overlay)])
    assert (first.tokens, first.hidden) == (4096, 512)
    shipped = load("bench_diag").parse_args(["--out", "d.csv"])  # config/config.yaml as it is
    assert (shipped.warmup_ms, shipped.rep_ms) == (100, 250)  # the paper's do_bench protocol
