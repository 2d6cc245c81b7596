"""Fill Triton's on-disk cache for benchmark parts in parallel, so the timed runs only load.

Autotuning compiles every config of a kernel's list in one process, one after another (about
1-3 s each): hundreds for TritonSigmoid (18 + 15 + 15 configs per sequence-length bucket, four
buckets, dense and padded kernels) and tens for ours. Here each job compiles one share with
``bench_attention.py --warm-only`` (nothing timed, no gate), N jobs at a time, until a deadline:

- ours: one job per variant (dense/padded share kernels; varlen, b=-log n and causal differ), at
  one length: autotuning the first key compiles every config of the list;
- TritonSigmoid dense and padded: one job per sequence-length bucket of theirs (512, 2048, 8192,
  16384, reached at L = 512, 1024, 4096, 16384);
- a backward part runs the forward too, so it covers the forward part of its head dim.

Jobs start in the order of the parts given, ours before TritonSigmoid's within a part: what the
deadline cuts is the end of that list. A part ``HD:PASS:ts`` has TritonSigmoid's jobs only,
``HD:PASS:impl,impl,...`` the named implementations only.

Options for other calls (gpu/h200_kernel_variants.sh): ``--seq-lens`` puts every job at these
lengths instead (the compiled kernels differ with the batch: ints equal to 1 or divisible by 16
are specialised); ``--variants`` repeats our jobs for each kernel variant (``tma``, ``fma``, ...:
sigattn.triton_kernels.variant_env sets the job's environment; the job's impl reads
``ours_dense@tma``).

    python workflow/scripts/bench_warm.py --parts [128:fwd:ours] 64:bwd 128:bwd --jobs 14 \
        --deadline-s 130 --log warm_jobs.csv [-- extra bench_attention.py arguments]

Writes one row per job (part, impl, seq_len, start_s, seconds, status) to ``--log`` and prints a
summary: the wall time of the warm-up and the compile time it spread over the jobs.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPT = Path(__file__).with_name("bench_attention.py")
OUR_VARIANTS = ("ours_dense", "ours_varlen", "ours_dense_trainbias", "ours_dense_causal")
TS_IMPLS = ("tritonsigmoid_dense", "tritonsigmoid_padded")
TS_BUCKET_LENGTHS = (512, 1024, 4096, 16384)  # one L in each of TritonSigmoid's T buckets


def parse_part(text: str) -> tuple[int, str, str]:
    """'64:bwd' -> (64, 'bwd', 'all'); '128:fwd:ours' -> ours only; '64:bwd:ts' TritonSigmoid only;
    '64:bwd:ours_dense,tritonsigmoid_dense' those two only."""
    bits = text.split(":")
    if len(bits) not in (2, 3) or bits[1] not in ("fwd", "bwd") or not bits[0].isdigit() or (
            len(bits) == 3 and not bits[2]):
        raise SystemExit(f"--parts entries are HEAD_DIM:fwd|bwd[:all|ours|ts|IMPL,...], got {text!r}")
    return int(bits[0]), bits[1], bits[2] if len(bits) == 3 else "all"


def _impls(which: str) -> tuple[list[str], list[str]]:
    """(ours, others) of a part's third field."""
    if which in ("all", "ours", "ts"):
        return list(OUR_VARIANTS) * (which != "ts"), list(TS_IMPLS) * (which != "ours")
    named = which.split(",")
    return [n for n in named if n.startswith("ours_")], [n for n in named if not n.startswith("ours_")]


def jobs_for(parts: list[tuple[int, str, str]], seq_lens=None, variants=("default",)) -> list[tuple[int, str, str, int]]:
    """(head_dim, pass, impl, seq_len) jobs in the order of ``parts``, ours before TritonSigmoid
    within a part. A forward part whose head dim also has a backward part is warmed by backward
    jobs (the backward point runs the forward first), at the forward part's place in the order.
    Ours at L = 512 and TritonSigmoid at one length per bucket of theirs, unless ``seq_lens``;
    ours once per variant (impl ``ours_dense@tma``; ``default``: no suffix)."""
    with_bwd = {hd for hd, pass_, _ in parts if pass_ == "bwd"}
    jobs: list[tuple[int, str, str, int]] = []
    for hd, pass_, which in parts:
        part = (hd, "bwd" if hd in with_bwd else pass_)
        ours, others = _impls(which)
        ours = [impl if v == "default" else f"{impl}@{v}" for v in variants for impl in ours]
        wanted = [(*part, impl, L) for impl in ours for L in (seq_lens or (512,))]
        wanted += [(*part, impl, L) for impl in others for L in (seq_lens or TS_BUCKET_LENGTHS)]
        jobs += [job for job in wanted if job not in jobs]
    return jobs


def job_env(impl: str) -> tuple[str, dict]:
    """(impl, environment) of a job: ``ours_dense@tma`` -> ours_dense with the tma variant's."""
    impl, _, variant = impl.partition("@")
    if not variant:
        return impl, dict(os.environ)
    from sigattn.triton_kernels import variant_env

    return impl, {**os.environ, **variant_env(variant)}


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def _terminated(signum, frame):
    raise SystemExit(f"bench_warm: signal {signum}")


def run(jobs, n_parallel: int, deadline_s: float, log_path: Path, extra: list[str], log_dir: Path | None) -> list[dict]:
    start = time.monotonic()
    pending, running, done = list(jobs), {}, []
    scratch = Path(tempfile.mkdtemp(prefix="bench_warm_"))
    previous = signal.signal(signal.SIGTERM, _terminated)  # a timeout around us: stop our jobs too
    try:
        _loop(pending, running, done, start, n_parallel, deadline_s, scratch, extra, log_dir)
    finally:
        signal.signal(signal.SIGTERM, previous)
        for proc in list(running):
            _stop(proc)
    return _report(done, start, n_parallel, log_path, scratch)


def _loop(pending, running, done, start, n_parallel, deadline_s, scratch, extra, log_dir):
    while pending or running:
        while pending and len(running) < n_parallel and time.monotonic() - start < deadline_s:
            hd, pass_, impl, L = job = pending.pop(0)
            name = f"hd{hd}_{pass_}_{impl}_L{L}"
            out = open(log_dir / f"{name}.log", "w") if log_dir else subprocess.DEVNULL
            impl, env = job_env(impl)
            cmd = [sys.executable, str(SCRIPT), "--out", str(scratch / name), "--head-dim", str(hd),
                   "--pass", pass_, "--impl", impl, "--seq-lens", str(L), "--warm-only", *extra]
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env)
            running[proc] = (job, name, time.monotonic(), out)
        for proc in [p for p in running if p.poll() is not None]:
            job, name, t0, out = running.pop(proc)
            done.append(dict(job=name, head_dim=job[0], **{"pass": job[1]}, impl=job[2], seq_len=job[3],
                             start_s=round(t0 - start, 1), seconds=round(time.monotonic() - t0, 1),
                             status="ok" if proc.returncode == 0 else f"rc={proc.returncode}"))
            if out is not subprocess.DEVNULL:
                out.close()
        if time.monotonic() - start >= deadline_s:
            for proc, (job, name, t0, out) in list(running.items()):
                _stop(proc)
                done.append(dict(job=name, head_dim=job[0], **{"pass": job[1]}, impl=job[2], seq_len=job[3],
                                 start_s=round(t0 - start, 1), seconds=round(time.monotonic() - t0, 1),
                                 status="killed at the deadline"))
                if out is not subprocess.DEVNULL:
                    out.close()
            running.clear()
            done += [dict(job=f"hd{j[0]}_{j[1]}_{j[2]}_L{j[3]}", head_dim=j[0], **{"pass": j[1]}, impl=j[2],
                          seq_len=j[3], start_s="", seconds=0, status="not started") for j in pending]
            pending.clear()
        time.sleep(0.2)


def _report(done, start, n_parallel, log_path, scratch) -> list[dict]:
    wall = time.monotonic() - start
    from scsigmoid.provenance import provenance  # the machine and commit the jobs compiled on

    prov = provenance()
    with open(log_path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["job", "head_dim", "pass", "impl", "seq_len", "start_s",
                                                "seconds", "status", *prov])
        writer.writeheader()
        writer.writerows({**d, **prov} for d in done)
    ok = sum(d["status"] == "ok" for d in done)
    busy = sum(float(d["seconds"]) for d in done)
    print(f"warm: {len(done)} jobs, {ok} ok, {len(done) - ok} failed/killed/not started; wall {wall:.0f} s, "
          f"{busy:.0f} job-seconds on up to {n_parallel} processes", flush=True)
    for d in done:
        if d["status"] != "ok":
            print(f"  {d['job']}: {d['status']}", flush=True)
    shutil.rmtree(scratch, ignore_errors=True)
    return done


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", nargs="+", required=True, help="HEAD_DIM:fwd|bwd[:all|ours]")
    p.add_argument("--jobs", type=int, default=14, help="processes at a time")
    p.add_argument("--deadline-s", type=float, default=130.0, help="stop starting/kill jobs after this")
    p.add_argument("--log", type=Path, required=True, help="CSV of the jobs")
    p.add_argument("--log-dir", type=Path, default=None, help="one console log per job")
    p.add_argument("--dry-run", action="store_true", help="print the jobs only")
    p.add_argument("--seq-lens", type=int, nargs="+", default=None, help="every job at these lengths")
    p.add_argument("--variants", nargs="+", default=["default"], help="kernel variants of ours (default, tma, fma, ...)")
    args = p.parse_args(argv)
    jobs = jobs_for([parse_part(t) for t in args.parts], args.seq_lens, args.variants)
    if args.dry_run:
        for job in jobs:
            print(*job)
        return
    if args.log_dir:
        args.log_dir.mkdir(parents=True, exist_ok=True)
    run(jobs, args.jobs, args.deadline_s, args.log, extra, args.log_dir)


if __name__ == "__main__":
    main()
