"""The Snakemake workflow as a user meets it: lint-clean, the whole default DAG plans, and the CI
test configuration (tiny model trained on the CPU) runs end to end and produces every figure."""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or "snakemake"
TEST_OUT = ROOT / ".test" / "out"
PAPER_FIGURES = ["fig1_lengths", "fig2_tflops", "fig3_gpu_hours", "fig4_loss", "fig4_validation",
                 "fig5_scib", "fig6_stress", "fig7_umap", "fig8_latency", "fig9_jacobian"]
PAPER_TABLES = ["datasets", "speedup", "architecture", "hyperparameters", "validation_loss",
                "scib", "scib_benchmarker", "mmd", "scorecard"]


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}


def snakemake(*args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    return subprocess.run([SNAKEMAKE, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=_env())


#: Snakemake lines shown on the terminal while a long run goes on: each job as it starts, the
#: running count of finished steps, and errors.
PROGRESS = re.compile(r"^(local)?rule \w+:|steps \(\d+%\) done|^Error|Exception")


#: Where the end-to-end run writes its progress lines as they come (``tail -f`` it: pytest-xdist's
#: workers, the default since pyproject's addopts, show nothing on the terminal before a test ends).
PROGRESS_LOG = ROOT / ".test" / "progress.log"


def snakemake_with_progress(capsys, *args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    """Run Snakemake, writing its progress lines to PROGRESS_LOG and the terminal as they come (the
    terminal under pytest's output capture too, without xdist: ``pytest -n 0``); returns the output
    (stderr merged into stdout, last 2000 lines) for assertions."""
    kept: collections.deque[str] = collections.deque(maxlen=2000)
    start = time.monotonic()
    with subprocess.Popen([SNAKEMAKE, *args], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, env=_env()) as proc, \
            PROGRESS_LOG.open("w") as log:
        watchdog = threading.Timer(timeout, proc.kill)
        watchdog.start()
        try:
            for line in proc.stdout:
                kept.append(line)
                if PROGRESS.search(line):
                    shown = f"  [{(time.monotonic() - start) / 60:4.1f} min] {line.strip()}"
                    print(shown, file=log, flush=True)
                    with capsys.disabled():
                        print(shown, flush=True)
        finally:
            watchdog.cancel()
            proc.kill()
        returncode = proc.wait()
    if time.monotonic() - start >= timeout:
        raise subprocess.TimeoutExpired(proc.args, timeout, output="".join(kept))
    return subprocess.CompletedProcess(proc.args, returncode, "".join(kept), "")


def test_lint_is_clean():
    proc = snakemake("--lint")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_default_dag_plans_every_stage():
    proc = snakemake("-n", "--forceall", "--quiet", "rules")
    assert proc.returncode == 0, proc.stderr[-3000:]
    planned = set(re.findall(r"^(\w+)\s+\d+$", proc.stdout + proc.stderr, re.M))  # the job table
    # the per-dataset scores (eval_scib, eval_mmd) are planned once the data checks ran (data_stats
    # is a checkpoint: they are taken for the datasets that passed); the UMAP dataset's chain always
    for rule in ["data_vocab", "data_pretrain_corpus", "data_check", "data_stats", "data_pca_baseline",
                 "eval_embeddings", "eval_umap", "kernel_compile", "fig2", "fig3", "fig4_loss", "fig6",
                 "table_scib", "table_claim1", "table_scorecard", "all"]:
        assert rule in planned, f"rule {rule} missing from the default DAG"


def test_bad_config_is_refused_with_the_key_named(tmp_path):
    overlay = tmp_path / "bad.yaml"
    overlay.write_text("gpu: sometimes\n")
    proc = snakemake("-n", "--configfile", str(overlay))
    assert proc.returncode != 0
    assert "gpu" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_ci_configuration_runs_end_to_end(capsys):
    """Tiny softmax/sigmoid pair trained on the CPU through Snakemake, evaluated, and every figure
    and table rendered (GPU-only figures from the committed H200 results)."""
    if TEST_OUT.exists():
        shutil.rmtree(TEST_OUT)
    with capsys.disabled():
        print(f"\nthe test configuration's DAG (about 10 min on 2 CPU cores); Snakemake's progress (also in "
              f"{PROGRESS_LOG.relative_to(ROOT)}):")
    proc = snakemake_with_progress(capsys, "--cores", "2", "--configfile", ".test/config.yaml")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    figures = TEST_OUT / "figures"
    for name in PAPER_FIGURES:
        for ext in ("pdf", "png"):
            path = figures / f"{name}.{ext}"
            assert path.exists() and path.stat().st_size > 1000, path
    for name in PAPER_TABLES:
        assert (figures / f"table_{name}.csv").exists() and (figures / f"table_{name}.md").exists()
    runs = TEST_OUT / "results" / "train" / "runs"
    for ctx in (64, 128):
        for att in ("softmax", "sigmoid"):
            for seed in (0, 1, 2):  # three training seeds per arm; early stopping may end a run
                run = runs / f"tiny_{ctx}_{att}_s{seed}"
                log = pd.read_csv(run / "log.csv")
                summary = json.loads((run / "summary.json").read_text())
                assert summary["stop_reason"] in ("max_steps", "patience")
                assert len(log) == summary["steps_done"] <= 30 and log["loss"].notna().all()
                assert {"device", "torch", "triton", "commit", "date"} <= set(log.columns)
                assert (run / "val_curve.csv").exists() and (run / "settings.json").exists()
    scorecard = pd.read_csv(figures / "table_scorecard.csv")
    assert len(scorecard) >= 10 and scorecard["verdict"].notna().all()
    # the HTML report with a caption per figure and table
    report = TEST_OUT / "report.html"
    proc = snakemake("--configfile", ".test/config.yaml", "--report", str(report))
    assert proc.returncode == 0 and report.stat().st_size > 100_000, proc.stderr[-3000:]
    assert "ERROR/" not in proc.stdout + proc.stderr  # captions are valid reStructuredText
    added = proc.stdout + proc.stderr  # Snakemake names each item it adds to the report
    missing = [n for n in [f"{f}.png" for f in PAPER_FIGURES] + [f"table_{t}.csv" for t in PAPER_TABLES]
               if f"Adding {n} " not in added]
    assert not missing, f"not in the report: {missing}"


# ---- one naming scheme (README, "Rule names") ----


def _rule_blocks() -> dict[str, str]:
    from test_slurm_profile import rules_in_workflow  # same folder: the .smk files read as text

    return rules_in_workflow()


AGGREGATES = {"fig4", "baselines"}  # targets gathering other rules' outputs (and `all`, in the Snakefile)
SCRIPT_OF = {"data_baseline_scib": "eval_scib",  # eval_scib's scoring applied to the PCA baseline alone
             "kernel_resources_tritonsigmoid": "kernel_resources",  # the compile report of the authors' kernel
             "kernel_resources_ws": "kernel_resources"}  # and of the Gluon forward


def test_every_rule_is_named_by_what_it_writes_and_runs_the_script_of_its_name():
    blocks = _rule_blocks()
    figures = re.search(r"^FIGURES = \{(.*?)^\}", (ROOT / "workflow/rules/common.smk").read_text(), re.M | re.S)
    figure_rules = set(re.findall(r'^\s*"(\w+)":', figures.group(1), re.M))
    assert {"fig1", "fig2", "fig3", "fig4_loss", "fig4_validation", "fig5", "fig9"} <= figure_rules
    problems = []
    for name, block in blocks.items():
        if name in AGGREGATES:
            assert "script:" not in block, f"{name} gathers outputs only"
            continue
        if name in figure_rules:
            wants = f'report_figure("{name}",'
        elif name.startswith("table_"):
            wants = f'table("{name.removeprefix("table_")}"'
        else:
            wants = None
            if not re.fullmatch(r"(data|kernel|bench|train|eval)_\w+", name):
                problems.append(f"{name}: neither a figure, a table_<slug> nor <stage>_<step>")
        if wants and wants not in block:
            problems.append(f"{name}: does not write its own output ({wants}...)")
        script = re.search(r'script:\s*"\.\./scripts/(\w+)\.py"', block)
        if script is None or script.group(1) != SCRIPT_OF.get(name, name):
            problems.append(f"{name}: runs {script and script.group(1)}.py, not {SCRIPT_OF.get(name, name)}.py")
        elif not (ROOT / "workflow/scripts" / f"{script.group(1)}.py").exists():
            problems.append(f"{name}: workflow/scripts/{script.group(1)}.py does not exist")
    assert not problems, "\n".join(problems)
    assert figure_rules <= blocks.keys(), f"FIGURES names rules that do not exist: {figure_rules - blocks.keys()}"


def test_no_script_switches_on_the_rule_that_runs_it():
    switching = re.compile(r"\b(sm|smk|snakemake)\.rule\b|\bparams\.(kind|figure)\b|params\[\"(kind|figure)\"\]")
    offenders = [p.name for p in sorted((ROOT / "workflow/scripts").glob("*.py")) if switching.search(p.read_text())]
    assert not offenders, f"scripts choosing what to do from the rule name: {offenders}"
    assert not re.search(r"^\s*use rule", "".join(_rule_blocks().values()), re.M), "no `use rule` aliases"
