"""GPU check of the sigattn kernels, for the H200: (1) the `gpu` kernel tests at real sizes,
(2) the compile step (full autotuning) for the GPU shapes, (3) compute-sanitizer memcheck of a
small forward+backward.

Usage: ``python workflow/scripts/gpu_kernel_check.py OUT_DIR [STEPS] [TIMEOUT_S]`` with STEPS a
comma list of pytest,compile,memcheck (default: all three) and TIMEOUT_S a cap per step (default
570). Writes pytest_gpu.{log,xml}, compile_h200.json (+ .log), memcheck.log and summary.json into
OUT_DIR; exits non-zero if a step fails. The tests run with one kernel configuration each
(SIGATTN_AUTOTUNE=0): with full autotuning their compile time does not fit a 10-minute lease;
autotuning itself is exercised by the compile step.
"""


import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

MEMCHECK_SNIPPET = """
import torch, sigattn
torch.manual_seed(0)
for layout, d, causal, dtype in [("padded", 64, False, torch.bfloat16), ("padded", 128, True, torch.float16),
                                  ("packed", 64, True, torch.bfloat16), ("padded", 256, False, torch.bfloat16),
                                  ("padded", 32, False, torch.float32)]:
    if layout == "padded":
        q = torch.randn(3, 200, 4, d, device="cuda", dtype=dtype, requires_grad=True)
        k, v = (torch.randn(3, 200, 2, d, device="cuda", dtype=dtype, requires_grad=True) for _ in range(2))
        lens = torch.tensor([200, 77, 0], dtype=torch.int32, device="cuda")
        o = sigattn.sigmoid_attention(q, k, v, seq_lens_q=lens, causal=causal,
                                      score_mod=torch.randn(3, 200, device="cuda"))
    else:
        q = torch.randn(301, 4, d, device="cuda", dtype=dtype, requires_grad=True)
        k, v = (torch.randn(301, 1, d, device="cuda", dtype=dtype, requires_grad=True) for _ in range(2))
        cu = torch.tensor([0, 1, 100, 100, 301], dtype=torch.int32, device="cuda")
        o = sigattn.sigmoid_attention_varlen(q, k, v, cu, causal=causal)
    o.float().square().sum().backward()
    torch.cuda.synchronize()
    assert torch.isfinite(o).all() and torch.isfinite(q.grad).all() and torch.isfinite(k.grad).all()
print("memcheck workload done")
"""


def _run(cmd: list[str], log: Path, env: dict | None = None, timeout: int = 570) -> dict:
    start = time.time()
    with open(log, "w") as fh:
        try:
            rc = subprocess.run(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, env=env,
                                timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    if rc != 0:  # the caller may only see stdout: show the end of the log
        print(f"--- {log.name} (rc={rc}), last lines ---\n" + "\n".join(log.read_text().splitlines()[-40:]), flush=True)
    return {"cmd": " ".join(cmd[:6]), "rc": rc, "seconds": round(time.time() - start, 1), "log": log.name}


def main(out_dir: str, steps: set[str], timeout: int = 570) -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    summary_path = out / "summary.json"  # steps may run in separate calls: keep earlier ones
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    if "pytest" in steps:
        summary["pytest"] = _run([sys.executable, "-m", "pytest", "tests/kernels", "-q", "-m", "gpu", "-rs",
                                  "-p", "no:cacheprovider", f"--junitxml={out / 'pytest_gpu.xml'}"],
                                 out / "pytest_gpu.log", {**env, "SIGATTN_AUTOTUNE": "0"}, timeout)
    if "compile" in steps:
        summary["compile"] = _run([sys.executable, "workflow/scripts/kernel_compile.py", "--shapes", "gpu",
                                   "--out", str(out / "compile_h200.json")], out / "compile_h200.log", env,
                                  timeout)
    sanitizer = shutil.which("compute-sanitizer") or next(
        (p for p in ("/usr/local/cuda/bin/compute-sanitizer",) if Path(p).exists()), None)
    if "memcheck" not in steps:
        pass
    elif sanitizer is None:
        summary["memcheck"] = {"rc": "skipped", "reason": "compute-sanitizer not found"}
    else:
        san_env = {**env, "PYTORCH_NO_CUDA_MEMORY_CACHING": "1", "SIGATTN_AUTOTUNE": "0"}
        summary["memcheck"] = _run([sanitizer, "--tool", "memcheck", "--error-exitcode", "99",
                                    sys.executable, "-c", MEMCHECK_SNIPPET], out / "memcheck.log", san_env,
                                    timeout)
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    failed = [name for name in steps if summary.get(name, {}).get("rc") not in (0, "skipped")]
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3, 4):
        raise SystemExit("usage: python workflow/scripts/gpu_kernel_check.py OUT_DIR "
                         "[pytest,compile,memcheck] [TIMEOUT_S]")
    chosen = set((sys.argv[2] if len(sys.argv) >= 3 else "pytest,compile,memcheck").split(","))
    unknown = chosen - {"pytest", "compile", "memcheck"}
    if unknown:
        raise SystemExit(f"unknown steps {sorted(unknown)}; choose from pytest, compile, memcheck")
    sys.exit(main(sys.argv[1], chosen, int(sys.argv[3]) if len(sys.argv) == 4 else 570))
