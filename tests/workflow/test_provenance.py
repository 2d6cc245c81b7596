"""The commit recorded in result tables: '+dirty' for uncommitted code, not for rewritten outputs."""

import subprocess

import pytest

from scsigmoid.provenance import device_slug, git_commit


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_dirty_means_code_not_outputs(tmp_path, monkeypatch):
    monkeypatch.delenv("SUITE_COMMIT", raising=False)
    _git(tmp_path, "init", "-q")
    for rel in ("src/a.py", "results/r.csv", "figures/f.csv"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("1\n")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    clean = git_commit(tmp_path)
    assert len(clean) == 12 and "+" not in clean
    (tmp_path / "results" / "r.csv").unlink()  # Snakemake removes an output before rewriting it
    (tmp_path / "figures" / "f.csv").write_text("2\n")
    assert git_commit(tmp_path) == clean
    (tmp_path / "src" / "a.py").write_text("2\n")
    assert git_commit(tmp_path) == clean + "+dirty"
    monkeypatch.setenv("SUITE_COMMIT", "abc")
    assert git_commit(tmp_path) == "abc"


@pytest.mark.parametrize("name, slug", [
    ("NVIDIA H200", "h200"),
    ("NVIDIA H100 80GB HBM3", "h100"),  # the committed H100 results' file tag (attention_h100.csv)
    ("NVIDIA H100 PCIe", "h100_pcie"),  # another card: its own tag
    ("NVIDIA A100-SXM4-80GB", "a100_sxm4"),
    ("NVIDIA GH200 480GB", "gh200"),
    ("cpu", "cpu"),
    ("  ", "unknown"),
])
def test_device_slug_names_the_chip_not_its_memory(name, slug):
    assert device_slug(name) == slug
