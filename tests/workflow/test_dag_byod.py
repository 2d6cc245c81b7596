"""Bring your own data on a machine that does not train: a tiny softmax/sigmoid pair is trained once
(as a GPU machine would), then a fresh results directory whose sheet adds a CP10k eval dataset (a
public set the project never saw: scanpy's shipped pbmc68k_reduced) and a planted bad file, with
train.checkpoints pointing at the trained runs, gets the new dataset's embeddings and both models'
scIB scores without training, its PCA baseline from the data stage, and the bad file listed with
its reason in the scorecard and the tables, which are still built (about 4 min on 2 shared CPU
cores)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scanpy as sc
import scipy.sparse as sp
import yaml

from scsigmoid.evaluate.embeddings import BASELINE_KEY

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("SCSIGMOID_DATA_DIR", ROOT.parent / "shared" / "data")).resolve()
SNAKEMAKE = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or "snakemake"
RUNS = [f"tiny_128_{att}_s0" for att in ("softmax", "sigmoid")]
TRAIN = {"seeds": [0], "contexts": [128], "steps": 10, "early_stop": {"val_every": 0}}

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (DATA / "gene_maps").exists(), reason=f"data bundle missing: {DATA}")]


def snakemake(overlay: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([SNAKEMAKE, *args, "--cores", "2", "--configfile", ".test/config.yaml", str(overlay)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    return proc


def write_overlay(path: Path, root: Path, **extra) -> Path:
    cfg = {"results_dir": str(root / "results"), "figures_dir": str(root / "figures"), "data_dir": str(DATA),
           **extra}
    path.write_text(yaml.safe_dump(cfg))
    return path


def write_h5ad(adata, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata.write_h5ad(path)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The runs as a GPU machine leaves them: train/runs/{run} (committed: logs, validation losses,
    attention scores) and checkpoints/{run}/last.pt. The test configuration's DAG (test_dag.py, run
    just before this file) leaves exactly these in .test/out/results: reused when there, so CI
    trains them once."""
    dag = ROOT / ".test" / "out" / "results"
    if all((dag / "checkpoints" / run / "last.pt").exists() and (dag / "train" / "runs" / run / "val_loss.csv").exists()
           for run in RUNS):
        return dag
    root = tmp_path_factory.mktemp("trained")
    results = root / "results"
    proc = snakemake(write_overlay(root / "a.yaml", root, train=TRAIN),
                     *[str(results / "checkpoints" / run / "last.pt") for run in RUNS],
                     *[str(results / "train" / "runs" / run / name) for run in RUNS
                       for name in ("val_loss.csv", "attention_scores.npz")])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return root / "results"


@pytest.fixture(scope="module")
def added(trained, tmp_path_factory):
    """A fresh results directory on a CPU machine with the new datasets in its sheet."""
    root = tmp_path_factory.mktemp("byod")
    with warnings.catch_warnings():  # a public set the project never saw, shipped with scanpy
        warnings.simplefilter("ignore")
        pbmc = sc.datasets.pbmc68k_reduced()
    raw = pbmc.raw.to_adata()  # log1p of per-cell normalised values, 765 genes
    new = ad.AnnData(X=sp.csr_matrix(np.expm1(raw.X.toarray()), dtype=np.float32),  # stored as CP10k
                     obs=pbmc.obs[["bulk_labels"]].astype(str), var=pd.DataFrame(index=raw.var_names))
    bad = ad.AnnData(X=np.zeros((20, 5), dtype=np.float32), obs=pd.DataFrame({"ct": ["t"] * 20}, index=[f"b{i}" for i in range(20)]),
                     var=pd.DataFrame(index=["CD3E", "CD4", "CD8A", "MS4A1", "LYZ"]))
    sheet = pd.read_csv(ROOT / ".test" / "datasets.tsv", sep="\t", comment="#", dtype=str, keep_default_na=False)
    sheet = pd.concat([sheet[sheet["role"] == "pretrain"], pd.DataFrame([
        {"name": "new_cp10k", "role": "eval", "source": f"local:{write_h5ad(new, root / 'new.h5ad')}",
         "label_key": "bulk_labels", "batch_key": "", "species": "human", "scale": "cp10k",
         "notes": "scanpy pbmc68k_reduced as CP10k"},
        {"name": "planted_bad", "role": "eval", "source": f"local:{write_h5ad(bad, root / 'bad.h5ad')}",
         "label_key": "ct", "batch_key": "", "species": "human", "scale": "counts", "notes": "all zero"},
    ])])
    sheet.to_csv(root / "datasets.tsv", sep="\t", index=False)
    overlay = write_overlay(
        root / "b.yaml", root, datasets=str(root / "datasets.tsv"), gpu_results_dir=str(trained),
        train={**TRAIN, "cpu": False, "checkpoints": str(trained / "checkpoints")},
        evaluate={"umap_dataset": "new_cp10k", "bootstrap": 0})
    results = root / "results"
    proc = snakemake(overlay, str(results / "eval" / "scib" / "new_cp10k.csv"),
                     str(results / "eval" / "baseline" / "new_cp10k.csv"),
                     str(results / "data" / "dataset_summary.csv"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return results, overlay, proc.stdout + proc.stderr


def test_new_dataset_gets_both_models_scores_without_training(added, trained):
    results, _, log = added
    assert "rule train_embed:" in log and "rule train_run:" not in log
    for run in RUNS:
        emb = np.load(results / "embed" / run / "new_cp10k.npz")
        assert emb["mean"].shape[0] == 700 and np.isfinite(emb["mean"].astype(np.float32)).all()
    scib = pd.read_csv(results / "eval" / "scib" / "new_cp10k.csv")
    assert set(scib["model"]) == {"pca_baseline", "softmax", "sigmoid"} and scib["nmi"].notna().all()
    # the vocabulary is the trained runs' (not grown): the new file's genes outside it are counted
    assert (results / "data" / "vocab.tsv").read_bytes() == (trained / "data" / "vocab.tsv").read_bytes()
    check = json.loads((results / "data" / "check" / "new_cp10k.json").read_text())
    assert check["status"] == "ok" and check["n_not_in_vocab"] > 0 and check["n_in_vocab"] > 0


def test_the_evaluation_uses_the_data_stage_baseline(added):
    results, _, _ = added
    stage = ad.read_h5ad(results / "data" / "baseline" / "new_cp10k.h5ad")
    evaluated = ad.read_h5ad(results / "eval" / "embeddings" / "new_cp10k.h5ad")
    rows = pd.Index(stage.obs_names).get_indexer(evaluated.obs_names)
    assert (rows >= 0).all() and len(rows) == 700
    np.testing.assert_array_equal(evaluated.obsm[BASELINE_KEY], stage.obsm[BASELINE_KEY][rows])
    # and its scores: the baseline's own (data_baseline_scib) are the evaluation's baseline row
    alone = pd.read_csv(results / "eval" / "baseline" / "new_cp10k.csv")
    scib = pd.read_csv(results / "eval" / "scib" / "new_cp10k.csv").set_index("embedding")
    for metric in ("nmi", "ari", "silhouette_label", "n_pcs"):
        assert alone[metric].iloc[0] == pytest.approx(scib.loc[BASELINE_KEY, metric], rel=1e-9)


def test_planted_bad_dataset_is_listed_and_the_rest_built(added):
    results, overlay, _ = added
    summary = pd.read_csv(results / "data" / "dataset_summary.csv").set_index("dataset")
    assert summary.loc["planted_bad", "status"] == "failed"
    figures = overlay.parent / "figures"
    proc = snakemake(overlay, str(figures / "table_scorecard.csv"), str(figures / "table_scib.csv"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "planted_bad" not in proc.stdout + proc.stderr  # no job of the bad file
    card = pd.read_csv(figures / "table_scorecard.csv").set_index("part")
    left = card.loc["dataset planted_bad not evaluated"]
    assert left["verdict"] == "untestable here"
    assert left["reason"].startswith("data check failed: planted_bad (") and "every value of X is zero" in left["reason"]
    # claim 1 is judged on the dataset that passed (one seed: untestable, with its numbers)
    nmi = card.loc["scIB Leiden NMI (PCA 95 %)"]
    assert "mean over 1 datasets × 1 paired seeds" in nmi["ours"] and nmi["reason"].startswith("fewer than 3 seeds")
    scib = pd.read_csv(figures / "table_scib.csv")
    assert set(scib["dataset"]) == {"new_cp10k"} and set(scib["model"]) == {"pca_baseline", "softmax", "sigmoid"}
    md = (figures / "table_scib.md").read_text()
    assert "### datasets not evaluated" in md and "| planted_bad " in md


def test_without_checkpoints_the_new_dataset_gets_its_baseline_only(added):
    results, overlay, _ = added
    cfg = yaml.safe_load(overlay.read_text())
    cfg["train"]["checkpoints"] = None
    bare = overlay.with_name("bare.yaml")
    bare.write_text(yaml.safe_dump(cfg))
    proc = snakemake(bare, "-n", str(results / "eval" / "scib" / "new_cp10k.csv"))
    plan = proc.stdout + proc.stderr
    assert proc.returncode == 0, plan[-3000:]
    assert "rule embed_run:" not in plan and "rule eval_embeddings:" in plan


def test_a_checkpoint_bundle_embeds_the_new_dataset_like_its_checkpoints(added, trained, tmp_path):
    """train.checkpoint_bundle (what a GPU machine returns: bf16 parts + manifest) in place of
    train.checkpoints: the DAG unpacks the runs and embeds the new dataset without training; the
    embeddings are the fp32 checkpoints' up to bf16 rounding of the weights."""
    from scsigmoid.train.bundle import pack

    results, overlay, _ = added
    pack(RUNS, trained / "checkpoints", tmp_path / "bundle")
    cfg = yaml.safe_load(overlay.read_text())
    cfg.update(results_dir=str(tmp_path / "results"), figures_dir=str(tmp_path / "figures"))
    cfg["train"] = {**cfg["train"], "checkpoints": None, "checkpoint_bundle": str(tmp_path / "bundle")}
    config = tmp_path / "bundle.yaml"
    config.write_text(yaml.safe_dump(cfg))
    proc = snakemake(config, *[str(tmp_path / "results" / "embed" / run / "new_cp10k.npz") for run in RUNS])
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert "rule train_unpack_bundle:" in log and "rule train_run:" not in log
    for run in RUNS:
        ours = np.load(tmp_path / "results" / "embed" / run / "new_cp10k.npz")["mean"].astype(np.float32)
        full = np.load(results / "embed" / run / "new_cp10k.npz")["mean"].astype(np.float32)
        assert ours.shape == full.shape
        assert np.linalg.norm(ours - full) < 0.05 * np.linalg.norm(full) and not np.array_equal(ours, full)
    both = dict(cfg["train"], checkpoints=str(trained / "checkpoints"))
    config.write_text(yaml.safe_dump({**cfg, "train": both}))
    proc = snakemake(config, "-n")
    assert proc.returncode != 0 and "not both" in proc.stdout + proc.stderr
