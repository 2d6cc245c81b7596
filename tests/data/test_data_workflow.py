"""The data stage as Snakemake plans it: config keys naming datasets are checked before any job."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or "snakemake"


def test_umap_dataset_outside_the_sheet_is_refused_when_planning(tmp_path):
    overlay = tmp_path / "umap.yaml"
    overlay.write_text("evaluate:\n  umap_dataset: not_a_dataset\n")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    proc = subprocess.run([SNAKEMAKE, "-n", "--configfile", str(overlay)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "config evaluate.umap_dataset 'not_a_dataset' is not in the sheet" in out
    assert "pbmc3k_seurat_labeled" in out  # the eval datasets it may name
