"""scsigmoid.launch: rule resources -> python / torchrun / srun torchrun command lines."""

import pytest

from scsigmoid.launch import (
    build_launch_command,
    gpus_per_node_from_resources,
    launch_command_for_rule,
    run_for_rule,
    thread_environment,
)

PROGRAM = ["-m", "scsigmoid.train.run", "--steps", "10"]
SLURM_ENV = {"SLURM_JOB_ID": "4242", "SLURM_JOB_NODELIST": "gpu[07-08]"}


def fake_expand(nodelist: str) -> list[str]:
    assert nodelist == "gpu[07-08]"
    return ["gpu07", "gpu08"]


def test_single_gpu_runs_plain_python():
    argv = build_launch_command(PROGRAM, gpus_per_node=1, python="/venv/bin/python")
    assert argv == ["/venv/bin/python", *PROGRAM]


def test_cpu_job_runs_plain_python():
    argv = launch_command_for_rule(["train.py"], {"gpu": 0})
    assert argv[1:] == ["train.py"]


def test_one_node_several_gpus_uses_standalone_torchrun():
    argv = build_launch_command(PROGRAM, gpus_per_node=8)
    assert argv[0] == "torchrun"
    assert "--standalone" in argv
    assert "--nproc_per_node=8" in argv
    assert argv[-len(PROGRAM) :] == PROGRAM
    assert "srun" not in argv


def test_two_nodes_use_srun_with_one_torchrun_per_node():
    argv = launch_command_for_rule(
        PROGRAM, {"gpu": 16, "nodes": 2}, environ=SLURM_ENV, expand_nodelist=fake_expand
    )
    assert argv[0] == "srun"
    assert "--nodes=2" in argv and "--ntasks-per-node=1" in argv
    torchrun = argv[argv.index("torchrun") :]
    assert "--nnodes=2" in torchrun
    assert "--nproc_per_node=8" in torchrun
    assert "--rdzv_backend=c10d" in torchrun
    assert "--rdzv_endpoint=gpu07:29742" in torchrun  # first node, port from the job id
    assert "--rdzv_id=4242" in torchrun
    assert torchrun[-len(PROGRAM) :] == PROGRAM


def test_node_list_is_asked_from_squeue_when_the_plugin_stripped_it():
    asked = []

    def fake_query(job_id: str) -> str:
        asked.append(job_id)
        return "gpu[07-08]"

    argv = build_launch_command(
        PROGRAM,
        gpus_per_node=8,
        nodes=2,
        environ={"SLURM_JOB_ID": "4242"},
        expand_nodelist=fake_expand,
        query_nodelist=fake_query,
    )
    assert asked == ["4242"]
    assert "--rdzv_endpoint=gpu07:29742" in argv


def test_gres_counts_gpus_per_node():
    assert gpus_per_node_from_resources({"gres": "gpu:h200:8", "nodes": 2}, nodes=2) == 8
    assert gpus_per_node_from_resources({"gres": "gpu:4"}, nodes=1) == 4
    assert gpus_per_node_from_resources({"gpu": 16}, nodes=2) == 8


def test_uneven_gpu_split_is_refused():
    with pytest.raises(ValueError, match="cannot be split evenly"):
        gpus_per_node_from_resources({"gpu": 3}, nodes=2)


def test_gpu_and_gres_together_are_refused():
    with pytest.raises(ValueError, match="both gpu"):
        gpus_per_node_from_resources({"gpu": 8, "gres": "gpu:8"}, nodes=1)


def test_several_nodes_outside_slurm_name_the_fix():
    with pytest.raises(RuntimeError, match="SLURM_JOB_ID is not set.*profiles/slurm"):
        build_launch_command(PROGRAM, gpus_per_node=8, nodes=2, environ={})


def test_empty_program_is_refused():
    with pytest.raises(ValueError, match="program is empty"):
        build_launch_command([], gpus_per_node=1)


def test_thread_environment_splits_the_rules_threads_over_processes():
    env = thread_environment(8, processes_per_node=4, environ={"PATH": "/bin"})
    assert env == {"PATH": "/bin", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    assert thread_environment(2, processes_per_node=8, environ={})["OMP_NUM_THREADS"] == "1"
    with pytest.raises(ValueError, match="threads must be >= 1"):
        thread_environment(0)


def test_run_for_rule_pins_the_child_thread_count(tmp_path, monkeypatch):
    """The launched process sees the rule's thread count, not the machine's (fp32 results
    depend on it: local and Slurm runs must agree)."""
    import sys

    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    log = tmp_path / "log.txt"
    probe = ["-c", "import os; print('threads', os.environ['OMP_NUM_THREADS'])"]
    run_for_rule(probe, {"gpu": 0}, str(log), threads=3)
    assert f"launch: {sys.executable} -c" in log.read_text()
    assert "threads 3" in log.read_text()
    run_for_rule(probe, {"gpu": 0}, str(log), threads=None)
    assert "threads 7" in log.read_text()
