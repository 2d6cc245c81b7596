"""GPU check of the sigattn kernels: (1) the kernel tests at real sizes, (2) the compile step (full
autotuning) for the GPU shapes, (3) compute-sanitizer memcheck of a small forward+backward.

Usage: ``python workflow/scripts/gpu_kernel_check.py OUT_DIR [STEPS] [TIMEOUT_S] [--jobs N]
[--all-tests] [--variants V,V]`` with STEPS a comma list of pytest,compile,memcheck (default: all
three) and TIMEOUT_S a cap per step (default 570; the test and memcheck processes, run side by
side, share one). Writes pytest_gpu.{log,xml} (with ``--jobs N``: pytest_gpu_<i>.{log,xml}, one
per process), compile_h200.json (+ .log), memcheck.log (with ``--variants``:
memcheck_<variant>.log, one per kernel variant, e.g. default,fused,tma_fused) and
summary.json into OUT_DIR; exits non-zero if a step fails.

The tests run with one kernel configuration each (SIGATTN_AUTOTUNE=0): with full autotuning their
compile time does not fit a 10-minute lease; autotuning itself is exercised by the compile step.
By default only the ``gpu``-marked tests run; ``--all-tests`` runs all of tests/kernels, which on a
CUDA machine compiles every kernel test the CPU suite interprets. ``--jobs N`` splits the collected
tests round-robin over N pytest processes, run side by side with the memcheck processes (the
compile step, whose autotuning times configs, always runs alone, after them).
"""


import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

MEMCHECK_SNIPPET = """
import torch, sigattn
torch.manual_seed(0)
# (the last two: one query head a key/value head, no score_mod, not causal, as the Gluon backward needs)
for layout, d, causal, dtype, kv, mod in [
        ("padded", 64, False, torch.bfloat16, 2, True), ("padded", 128, True, torch.float16, 2, True),
        ("packed", 64, True, torch.bfloat16, 1, False), ("padded", 256, False, torch.bfloat16, 2, True),
        ("padded", 32, False, torch.float32, 2, True), ("padded", 128, False, torch.bfloat16, 4, False),
        ("packed", 64, False, torch.bfloat16, 4, False)]:
    if layout == "padded":
        q = torch.randn(3, 200, 4, d, device="cuda", dtype=dtype, requires_grad=True)
        k, v = (torch.randn(3, 200, kv, d, device="cuda", dtype=dtype, requires_grad=True) for _ in range(2))
        lens = torch.tensor([200, 77, 0], dtype=torch.int32, device="cuda")
        o = sigattn.sigmoid_attention(q, k, v, seq_lens_q=lens, causal=causal,
                                      score_mod=torch.randn(3, 200, device="cuda") if mod else None)
    else:
        q = torch.randn(301, 4, d, device="cuda", dtype=dtype, requires_grad=True)
        k, v = (torch.randn(301, kv, d, device="cuda", dtype=dtype, requires_grad=True) for _ in range(2))
        cu = torch.tensor([0, 1, 100, 100, 301], dtype=torch.int32, device="cuda")
        o = sigattn.sigmoid_attention_varlen(q, k, v, cu, causal=causal)
    o.float().square().sum().backward()
    torch.cuda.synchronize()
    assert torch.isfinite(o).all() and torch.isfinite(q.grad).all() and torch.isfinite(k.grad).all()
print("memcheck workload done")
"""


def _start(cmd: list[str], log: Path, env: dict | None = None) -> dict:
    """Start one step process, its output into `log`."""
    fh = open(log, "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, env=env)
    return {"proc": proc, "fh": fh, "cmd": cmd, "log": log, "start": time.time()}


def _finish(job: dict, deadline: float) -> dict:
    """Wait for a started step until `deadline` (time.time()); killed there, rc "timeout"."""
    try:
        rc = job["proc"].wait(timeout=max(deadline - time.time(), 0.1))
    except subprocess.TimeoutExpired:
        job["proc"].kill()
        job["proc"].wait()
        rc = "timeout"
    job["fh"].close()
    log = job["log"]
    if rc != 0:  # the caller may only see stdout: show the end of the log
        print(f"--- {log.name} (rc={rc}), last lines ---\n" + "\n".join(log.read_text().splitlines()[-40:]), flush=True)
    return {"cmd": " ".join(job["cmd"][:6]), "rc": rc, "seconds": round(time.time() - job["start"], 1),
            "log": log.name}


def _run(cmd: list[str], log: Path, env: dict | None = None, timeout: int = 570) -> dict:
    return _finish(_start(cmd, log, env), time.time() + timeout)


def _junit_counts(xml: Path) -> dict:
    """tests / failures / errors / skipped of a pytest junit file (empty if it was not written)."""
    if not xml.exists():
        return {}
    root = ET.parse(xml).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    return {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}


#: pytest as these steps run it: no cache files, and none of pyproject's addopts (its "-n 2" asks for
#: pytest-xdist, which the GPU machine does not have; these steps split the tests themselves)
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts="]


def _collect(selection: list[str], env: dict) -> list[str]:
    """The test node ids pytest collects for `selection` (sorted: the split is reproducible)."""
    res = subprocess.run([*PYTEST, "--collect-only", "-q", *selection], cwd=ROOT, env=env, capture_output=True,
                         text=True)
    ids = sorted(line.strip() for line in res.stdout.splitlines() if "::" in line)
    if not ids:
        raise SystemExit(f"pytest collected no tests for {selection} (rc {res.returncode}):\n{res.stdout[-2000:]}")
    return ids


def split_round_robin(ids: list[str], jobs: int) -> list[list[str]]:
    """`ids` dealt over `jobs` lists (a file's tests, which share compiled kernels, spread evenly)."""
    return [chunk for chunk in (ids[i::jobs] for i in range(jobs)) if chunk]


def main(out_dir: str, steps: set[str], timeout: int = 570, jobs: int = 1, all_tests: bool = False,
         variants: list[str] | None = None) -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    summary_path = out / "summary.json"  # steps may run in separate calls: keep earlier ones
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    deadline = time.time() + timeout
    started: dict[str, dict] = {}  # step name -> job, all side by side
    if "pytest" in steps:
        # the library's defaults (a call script's SIGATTN_CHECK_VALUES=0 would fail the error tests)
        test_env = {**{k: v for k, v in env.items() if not k.startswith("SIGATTN_")}, "SIGATTN_AUTOTUNE": "0"}
        selection = ["tests/kernels"] + ([] if all_tests else ["-m", "gpu"])
        common = [*PYTEST, "-q", "-rs"]
        if jobs <= 1:
            started["pytest"] = _start([*common, *selection, f"--junitxml={out / 'pytest_gpu.xml'}"],
                                       out / "pytest_gpu.log", test_env)
        else:
            for i, chunk in enumerate(split_round_robin(_collect(selection, test_env), jobs)):
                started[f"pytest_{i}"] = _start([*common, f"--junitxml={out / f'pytest_gpu_{i}.xml'}", *chunk],
                                                out / f"pytest_gpu_{i}.log", test_env)
    sanitizer = shutil.which("compute-sanitizer") or next(
        (p for p in ("/usr/local/cuda/bin/compute-sanitizer",) if Path(p).exists()), None)
    if "memcheck" in steps and sanitizer is None:
        summary["memcheck"] = {"rc": "skipped", "reason": "compute-sanitizer not found"}
    elif "memcheck" in steps:
        san_env = {**env, "PYTORCH_NO_CUDA_MEMORY_CACHING": "1", "SIGATTN_AUTOTUNE": "0"}
        cmd = [sanitizer, "--tool", "memcheck", "--error-exitcode", "99", sys.executable, "-c", MEMCHECK_SNIPPET]
        if not variants:
            started["memcheck"] = _start(cmd, out / "memcheck.log", san_env)
        else:
            sys.path.insert(0, str(ROOT / "kernels"))
            from sigattn.triton_kernels import variant_env  # the environment that selects a variant

            for v in variants:
                started[f"memcheck_{v}"] = _start(cmd, out / f"memcheck_{v}.log", {**san_env, **variant_env(v)})
    results = {name: _finish(job, deadline) for name, job in started.items()}
    for step, parts in (("pytest", "jobs"), ("memcheck", "variants")):  # one entry a step
        mine = {k: r for k, r in results.items() if k.split("_")[0] == step}
        if len(mine) == 1 and step in mine:
            summary[step] = mine[step]
        elif mine:  # the processes of the step under it, its rc the first failure's
            summary[step] = {"rc": next((r["rc"] for r in mine.values() if r["rc"] != 0), 0),
                             "seconds": max(r["seconds"] for r in mine.values()),
                             parts: {k.split("_", 1)[1]: r for k, r in mine.items()}}
    if "pytest" in summary and "pytest" in steps:
        counts = [_junit_counts(out / (r["log"].removesuffix(".log") + ".xml"))
                  for r in summary["pytest"].get("jobs", {"": summary["pytest"]}).values()]
        summary["pytest"]["tests"] = {k: sum(c.get(k, 0) for c in counts)
                                      for k in ("tests", "failures", "errors", "skipped")}
    if "compile" in steps:  # alone, with a cap of its own: its autotuning times configs
        summary["compile"] = _run([sys.executable, "workflow/scripts/kernel_compile.py", "--shapes", "gpu",
                                   "--out", str(out / "compile_h200.json")], out / "compile_h200.log", env,
                                  timeout)
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    failed = [name for name in steps if summary.get(name, {}).get("rc") not in (0, "skipped")]
    return 1 if failed else 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out_dir")
    p.add_argument("steps", nargs="?", default="pytest,compile,memcheck",
                   help="comma list of pytest,compile,memcheck (default: all three)")
    p.add_argument("timeout", nargs="?", type=int, default=570, help="seconds a step may take (default 570)")
    p.add_argument("--jobs", type=int, default=1, help="pytest processes side by side (default 1)")
    p.add_argument("--all-tests", action="store_true", help="all of tests/kernels, not only the gpu-marked")
    p.add_argument("--variants", default="", help="memcheck each kernel variant, e.g. default,fused,tma_fused")
    args = p.parse_args(argv)
    unknown = set(args.steps.split(",")) - {"pytest", "compile", "memcheck"}
    if unknown:
        p.error(f"unknown steps {sorted(unknown)}; choose from pytest, compile, memcheck")
    if args.jobs < 1:
        p.error(f"--jobs {args.jobs}: give at least 1 process")
    return args


if __name__ == "__main__":
    a = parse_args(sys.argv[1:])
    sys.exit(main(a.out_dir, set(a.steps.split(",")), a.timeout, a.jobs, a.all_tests,
                  [v for v in a.variants.split(",") if v]))
