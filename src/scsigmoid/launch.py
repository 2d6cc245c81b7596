"""Launching a training program on the GPUs of one Slurm job (or of this machine).

Owns one decision: how a rule's resources (``gpu`` or ``gres``, ``nodes``) become a command line.

- 1 GPU (or none), 1 node: ``python PROGRAM...`` (no launcher: plain single-process run).
- N GPUs, 1 node: ``torchrun --standalone --nnodes=1 --nproc_per_node=N PROGRAM...``.
- N GPUs per node on M > 1 nodes (inside a Slurm allocation): one ``torchrun`` per node started
  by ``srun``, meeting at a c10d rendezvous on the allocation's first node.

PROGRAM is what would follow ``python``: a script path and its arguments, or ``-m module ...``.
The ``gpu`` resource is the job's total GPU count (the Slurm plugin passes ``--gpus``); ``gres``
(``gpu:8`` or ``gpu:h200:8``) is per node. Multi-node rules set ``tasks_per_gpu=0`` (no task per
GPU), ``mpi="srun"`` and ``tasks=<nodes>``: with ``mpi`` the plugin runs the rule directly in the
batch script instead of inside a one-task ``srun`` step, so the ``srun`` built here can use all
nodes. The plugin strips ``SLURM_*`` variables except SLURM_JOB_ID from the rule's environment,
so the node list is asked from ``squeue`` when SLURM_JOB_NODELIST is gone.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence

RENDEZVOUS_BASE_PORT = 29500


def gpus_per_node_from_resources(resources: Mapping, nodes: int) -> int:
    """GPUs per node requested by a rule's resources: ``gpu`` (job total) or ``gres`` (per node)."""
    gpu_total = int(resources.get("gpu", 0) or 0)
    gres = str(resources.get("gres", "") or "")
    gres_gpu = re.search(r"(?:^|,)gpu(?::[^:,]+)?:(\d+)", gres)
    if gpu_total and gres_gpu:
        raise ValueError(
            f"resources give both gpu={gpu_total} and gres={gres!r}; keep one of them "
            "(gpu = total GPUs of the job, gres = 'gpu[:model]:N' per node)."
        )
    if gres_gpu:
        return int(gres_gpu.group(1))
    if gpu_total % nodes:
        raise ValueError(
            f"resources gpu={gpu_total} cannot be split evenly over nodes={nodes}; "
            "use a multiple of nodes, or gres='gpu:N' to give GPUs per node."
        )
    return gpu_total // nodes


def slurm_job_nodelist(job_id: str) -> str:
    """Node list of a running Slurm job (``squeue -h -j ID -o %N``), e.g. ``gpu[07-08]``."""
    out = subprocess.run(
        ["squeue", "-h", "-j", job_id, "-o", "%N"], check=True, capture_output=True, text=True
    ).stdout.strip()
    if not out:
        raise RuntimeError(f"squeue lists no nodes for Slurm job {job_id}: is it still running?")
    return out


def slurm_first_node(nodelist: str, expand: Callable[[str], list[str]] | None = None) -> str:
    """First host of a Slurm nodelist such as ``gpu[01-02]`` (expanded by ``scontrol``)."""
    if expand is None:

        def expand(text: str) -> list[str]:
            out = subprocess.run(
                ["scontrol", "show", "hostnames", text], check=True, capture_output=True, text=True
            ).stdout
            return out.split()

    hosts = expand(nodelist)
    if not hosts:
        raise ValueError(f"Slurm nodelist {nodelist!r} expands to no host.")
    return hosts[0]


def build_launch_command(
    program: Sequence[str],
    *,
    gpus_per_node: int,
    nodes: int = 1,
    environ: Mapping[str, str] | None = None,
    python: str | None = None,
    expand_nodelist: Callable[[str], list[str]] | None = None,
    query_nodelist: Callable[[str], str] = slurm_job_nodelist,
) -> list[str]:
    """The argv that runs ``program`` on ``gpus_per_node`` GPUs on each of ``nodes`` nodes.

    ``environ`` defaults to ``os.environ``; on several nodes it must hold SLURM_JOB_ID (the
    node list comes from SLURM_JOB_NODELIST, else from ``query_nodelist(job_id)``).
    """
    program = list(program)
    if not program:
        raise ValueError("program is empty: give a script path (and its arguments) or '-m module'.")
    if nodes < 1:
        raise ValueError(f"nodes must be >= 1, got {nodes}.")
    if gpus_per_node < 0:
        raise ValueError(f"gpus_per_node must be >= 0, got {gpus_per_node}.")
    if nodes > 1 and gpus_per_node < 1:
        raise ValueError(f"nodes={nodes} needs at least one GPU per node, got {gpus_per_node}.")
    environ = os.environ if environ is None else environ
    python = python or sys.executable

    if nodes == 1 and gpus_per_node <= 1:
        return [python, *program]
    if nodes == 1:
        return [
            "torchrun",
            "--standalone",
            "--nnodes=1",
            f"--nproc_per_node={gpus_per_node}",
            *program,
        ]

    job_id = environ.get("SLURM_JOB_ID")
    if not job_id:
        raise RuntimeError(
            f"nodes={nodes} needs a Slurm allocation, but SLURM_JOB_ID is not set. "
            "Run the workflow with --profile profiles/slurm, or set nodes=1."
        )
    nodelist = environ.get("SLURM_JOB_NODELIST") or query_nodelist(job_id)
    head = slurm_first_node(nodelist, expand_nodelist)
    port = RENDEZVOUS_BASE_PORT + int(job_id) % 1000
    return [
        "srun",
        f"--nodes={nodes}",
        f"--ntasks={nodes}",
        "--ntasks-per-node=1",
        "--kill-on-bad-exit=1",
        "torchrun",
        f"--nnodes={nodes}",
        f"--nproc_per_node={gpus_per_node}",
        "--rdzv_backend=c10d",
        f"--rdzv_endpoint={head}:{port}",
        f"--rdzv_id={job_id}",
        *program,
    ]


def launch_command_for_rule(
    program: Sequence[str],
    resources: Mapping,
    environ: Mapping[str, str] | None = None,
    expand_nodelist: Callable[[str], list[str]] | None = None,
    query_nodelist: Callable[[str], str] = slurm_job_nodelist,
) -> list[str]:
    """``build_launch_command`` with GPU and node counts read from a Snakemake rule's resources."""
    nodes = int(resources.get("nodes", 1) or 1)
    return build_launch_command(
        program,
        gpus_per_node=gpus_per_node_from_resources(resources, nodes),
        nodes=nodes,
        environ=environ,
        expand_nodelist=expand_nodelist,
        query_nodelist=query_nodelist,
    )


def thread_environment(threads: int, processes_per_node: int = 1,
                       environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` with OMP/MKL thread counts set to the rule's ``threads`` split over the
    processes of one node (at least 1 each).

    PyTorch's CPU matmuls and reductions split work by thread count, so fp32 results differ in
    the last bits between thread counts; pinning it to the rule's ``threads`` makes a run
    reproduce locally and under Slurm, whatever the machine's core count."""
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}.")
    per_process = str(max(1, threads // max(1, processes_per_node)))
    env = dict(os.environ if environ is None else environ)
    env.update(OMP_NUM_THREADS=per_process, MKL_NUM_THREADS=per_process)
    return env


def run_for_rule(program: Sequence[str], resources: Mapping, log_path: str | None = None,
                 threads: int | None = None) -> None:
    """Run ``program`` as ``launch_command_for_rule`` says; output appended to ``log_path``.

    ``threads`` (the rule's ``threads``) pins the CPU threads of each launched process, see
    :func:`thread_environment`; None leaves the environment as it is."""
    argv = launch_command_for_rule(program, resources)
    env = None
    if threads is not None:
        nodes = int(resources.get("nodes", 1) or 1)
        env = thread_environment(threads, max(1, gpus_per_node_from_resources(resources, nodes)))
    if log_path is None:
        subprocess.run(argv, check=True, env=env)
        return
    with open(log_path, "a") as log:
        log.write("launch: " + " ".join(argv) + "\n")
        log.flush()
        subprocess.run(argv, check=True, stdout=log, stderr=subprocess.STDOUT, env=env)
