"""Every rule's log holds what its script printed and, when it fails, the traceback."""

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or "snakemake"

FAILING = """
import logging, subprocess, sys, warnings
from scsigmoid.script import log_to_file

class Job:  # what Snakemake hands a script, as far as log_to_file looks
    log = [sys.argv[1]]
    rule = "demo_rule"

log_to_file(Job)
print("printed to stdout")
print("printed to stderr", file=sys.stderr)
logging.info("a logging record")
logging.getLogger("fontTools.subset").info("library chatter")
logging.getLogger("fontTools.subset").warning("library warning")
warnings.warn("a warning")
subprocess.run([sys.executable, "-c", "print('from a child process')"], check=True)
def inner():
    raise ValueError("the cause of the failure")
inner()
"""


def test_output_and_traceback_land_in_the_log(tmp_path):
    log = tmp_path / "logs" / "demo.log"
    proc = subprocess.run([sys.executable, "-c", FAILING, str(log)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode != 0
    text = log.read_text()
    assert "library chatter" not in text
    for expected in ("printed to stdout", "printed to stderr", "a logging record", "a warning",
                     "library warning",
                     "from a child process", "Traceback (most recent call last)", "in inner",
                     "ValueError: the cause of the failure"):
        assert expected in text, expected
    assert "printed to stdout" not in proc.stdout
    # the terminal gets one line naming the error and where the traceback is
    assert "demo_rule: ValueError: the cause of the failure" in proc.stderr
    assert str(log) in proc.stderr and "Traceback" not in proc.stderr


def test_a_failing_rule_leaves_its_traceback_in_its_log(tmp_path):
    (tmp_path / "fail.py").write_text(textwrap.dedent("""
        from scsigmoid.script import log_to_file
        log_to_file(snakemake)
        print("reading", snakemake.input[0])
        raise RuntimeError(f"bad input {snakemake.input[0]}")
    """))
    (tmp_path / "in.txt").write_text("x\n")
    (tmp_path / "Snakefile").write_text(textwrap.dedent("""
        rule fail:
            input: "in.txt"
            output: "out.txt"
            log: "logs/fail.log"
            script: "fail.py"
    """))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), str(ROOT / "kernels"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([SNAKEMAKE, "--cores", "1", "--directory", str(tmp_path),
                           "--snakefile", str(tmp_path / "Snakefile")],
                          capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode != 0
    text = (tmp_path / "logs" / "fail.log").read_text()
    assert "reading in.txt" in text
    assert "Traceback" in text and "RuntimeError: bad input in.txt" in text
    assert "RuntimeError: bad input in.txt" in proc.stderr + proc.stdout


def test_every_snakemake_script_logs_to_its_file():
    scripts = [p for p in sorted((ROOT / "workflow" / "scripts").glob("*.py"))
               if re.search(r"\bsnakemake\b", p.read_text())]
    assert len(scripts) > 20
    missing = [p.name for p in scripts if "log_to_file(" not in p.read_text()]
    assert not missing, f"scripts run by Snakemake without log_to_file: {missing}"
