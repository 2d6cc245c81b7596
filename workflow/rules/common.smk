"""Shared definitions: output roots, the GPU switch, the dataset sheet, run names."""

import shutil
import sys
from pathlib import Path

import pandas as pd

from scsigmoid import ATTENTIONS

R = config["results_dir"].rstrip("/")  # everything this run computes
FIG = config["figures_dir"].rstrip("/")  # rendered figures and tables
DATA_DIR = config["data_dir"].rstrip("/")  # local .h5ad sources
ENV = "../../envs/suite.yaml"  # relative to workflow/rules/
# the kernel library's sources: rules whose results depend on the kernel take them as input
KERNEL_SOURCES = sorted(str(p) for p in Path("kernels/sigattn").glob("*.py"))


def _cuda_visible() -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:
        return False


def _gpu_switch(value) -> bool:
    """config['gpu'] may arrive as auto, a boolean, or a string of one (from --config)."""
    text = str(value).strip().lower()
    if text == "auto":
        return _cuda_visible()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError(f"config 'gpu' must be auto, true or false; got {value!r}.")


GPU = _gpu_switch(config["gpu"])


def _device_slug() -> str:
    from scsigmoid.provenance import device_slug

    return device_slug()


# Device tag of GPU results: measured here when GPU rules run (or named by gpu_device, e.g. on a
# Slurm submit host without GPUs), else the committed reference device.
if GPU:
    # gpu_device has no default on purpose: absent, the tag is detected on this machine
    DEVICE = config.get("gpu_device") or _device_slug()
    BENCH_DEVICE = DEVICE
else:
    DEVICE = config["reference_device"]
    # the kernel benchmark may come from another GPU than training (the paper's Fig 2 is an H100's)
    BENCH_DEVICE = config["bench_reference_device"]
# Where GPU-only results are read from: this run's results when the GPU rules run, else the
# committed results (which may differ from results_dir, e.g. in the CI test configuration).
GPU_R = R if GPU else config["gpu_results_dir"].rstrip("/")
# Training can be forced onto the CPU (tiny model, test configuration).
TRAIN_HERE = GPU or config["train"]["cpu"]
TRAIN_R = R if TRAIN_HERE else GPU_R


# Rule names (README, section "Rule names"). The figure rules are named after their figure
# (FIGURES maps each to its file stem under figures/); the one writing figures/table_<slug>.{csv,md}
# is table_<slug>; every other one is <stage>_<step> (data, kernel, bench, train, eval) and writes
# under results/. Each runs workflow/scripts/<its name>.py (data_baseline_scib: eval_scib.py); all,
# fig4 and baselines only gather.
FIGURES = {
    "fig1": "fig1_lengths",
    "fig2": "fig2_tflops",
    "fig3": "fig3_gpu_hours",
    "fig4_loss": "fig4_loss",  # Fig 4 left; `snakemake fig4` draws both halves
    "fig4_validation": "fig4_validation",  # Fig 4 right
    "fig5": "fig5_scib",
    "fig6": "fig6_stress",
    "fig7": "fig7_umap",
    "fig8": "fig8_latency",
    "fig9": "fig9_jacobian",
}


def figure(name: str) -> list[str]:
    """The PDF and PNG that rule ``name`` (a key of FIGURES) draws."""
    return [f"{FIG}/{FIGURES[name]}.pdf", f"{FIG}/{FIGURES[name]}.png"]


def report_figure(name: str, category: str) -> dict:
    """The outputs (pdf, png) of figure rule ``name`` as items of the HTML report, captioned by
    workflow/report/{name}.rst."""
    pdf, png = figure(name)
    caption = f"../report/{name}.rst"
    return {"pdf": report(pdf, caption=caption, category=category),
            "png": report(png, caption=caption, category=category)}


def table(name: str) -> list[str]:
    """The CSV and Markdown that rule table_{name} writes."""
    return [f"{FIG}/table_{name}.csv", f"{FIG}/table_{name}.md"]


def read_dataset_sheet(path: str) -> pd.DataFrame:
    """The validated dataset sheet. Placeholder sources (ids still to be looked up) let the DAG
    plan; they are named here, and the job that would fetch one stops with an error."""
    import warnings

    from scsigmoid.data.sheet import (PlaceholderSourceWarning, check_config_datasets,
                                      is_placeholder, read_sheet)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlaceholderSourceWarning)  # reported below instead
        sheet = read_sheet(path)
    check_config_datasets(sheet, config["evaluate"], where=path)
    missing = sheet.loc[sheet["source"].map(is_placeholder), "name"].tolist()
    if missing:
        print(f"WARNING: {path}: placeholder sources for {', '.join(missing)}; fill in their "
              "cellxgene:<dataset_id> before running their jobs.", file=sys.stderr)
    return sheet


DATASETS = read_dataset_sheet(config["datasets"])
EVAL_DATASETS = DATASETS.loc[DATASETS["role"] == "eval", "name"].tolist()
PRETRAIN_DATASETS = DATASETS.loc[DATASETS["role"] == "pretrain", "name"].tolist()

from scsigmoid.runs import main_runs, run_name  # noqa: E402
from scsigmoid.train.bundle import read_manifest  # noqa: E402

# every run of the main comparison: {size}_{context}_{attention}_s{seed}
MAIN_RUN_SPECS = main_runs(config)
if not TRAIN_HERE:  # CPU machine: evaluate the committed runs that exist (the verdicts count seeds)
    _missing = [r for r in MAIN_RUN_SPECS if not Path(f"{TRAIN_R}/train/runs/{run_name(**r)}/log.csv").exists()]
    if _missing:
        print(f"note: {len(_missing)} of {len(MAIN_RUN_SPECS)} configured main runs are not committed "
              f"under {TRAIN_R}/train/runs (e.g. {run_name(**_missing[0])}); evaluating the others.",
              file=sys.stderr)
    MAIN_RUN_SPECS = [r for r in MAIN_RUN_SPECS if r not in _missing]
MAIN_RUNS = [run_name(**r) for r in MAIN_RUN_SPECS]
SEEDS = sorted({r["seed"] for r in MAIN_RUN_SPECS})  # training seeds present


EMBED_RUNS = [run_name(**r) for r in MAIN_RUN_SPECS if r["context"] == config["evaluate"]["context"]]
# Trained runs' checkpoints ({run}/last.pt) that embed, where no training runs here, the eval
# datasets without committed embeddings (train.checkpoints; "": none), or a bundle of them
# (train.checkpoint_bundle) that train_unpack_bundle unpacks into {R}/checkpoints_bundle.
BUNDLE = (config["train"]["checkpoint_bundle"] or "").rstrip("/")
if BUNDLE and config["train"]["checkpoints"]:
    raise ValueError("config: set train.checkpoints (a folder of <run>/last.pt) or train.checkpoint_bundle "
                     "(a bundle of parts and manifest.json), not both.")
BUNDLE_MANIFEST = read_manifest(BUNDLE) if BUNDLE else {"runs": {}}
CHECKPOINTS = f"{R}/checkpoints_bundle" if BUNDLE else (config["train"]["checkpoints"] or "").rstrip("/")


def _committed_embedding(run: str, dataset: str) -> bool:
    return Path(f"{TRAIN_R}/embed/{run}/{dataset}.npz").exists()


def _checkpoint_present(run: str) -> bool:
    if BUNDLE:
        return run in BUNDLE_MANIFEST["runs"]
    return bool(CHECKPOINTS) and Path(f"{CHECKPOINTS}/{run}/last.pt").exists()


def bundle_parts(wildcards) -> list[str]:
    """The bundle's part files of the run named by a rule's wildcards."""
    run = run_name(wildcards.size, wildcards.context, wildcards.attention, wildcards.seed)
    return [f"{BUNDLE}/{part['file']}" for part in BUNDLE_MANIFEST["runs"][run]["parts"]]


def committed_reference(wildcards) -> dict:
    """A committed embedding of the run named by the wildcards (of the sheet's first eval dataset
    that has one) and that dataset's corpus, which train_check_checkpoint checks a checkpoint this
    machine did not train against ({} for a run without committed embeddings)."""
    run = run_name(wildcards.size, wildcards.context, wildcards.attention, wildcards.seed)
    for dataset in DATASETS.loc[DATASETS["role"] != "pretrain", "name"]:
        if _committed_embedding(run, dataset):
            return {"reference": f"{TRAIN_R}/embed/{run}/{dataset}.npz", "corpus": f"{CORPUS_DIR}/{dataset}"}
    return {}


# eval datasets no run has committed embeddings of (added to the sheet later): embedded here from
# train.checkpoints when present
UNEMBEDDED_DATASETS = [] if TRAIN_HERE else [
    d for d in DATASETS.loc[DATASETS["role"] != "pretrain", "name"]
    if not any(_committed_embedding(r, d) for r in EMBED_RUNS)]


def embed_runs_of(dataset: str) -> list[str]:
    """The runs whose embeddings of ``dataset`` are evaluated: all of EMBED_RUNS where training
    runs here; on a machine that does not train the committed ones, or for a dataset added to the
    sheet later (none committed) the runs whose checkpoint train.checkpoints holds (none: the
    dataset gets its PCA baseline only)."""
    if TRAIN_HERE:
        return EMBED_RUNS
    if dataset in UNEMBEDDED_DATASETS:
        return [r for r in EMBED_RUNS if _checkpoint_present(r)]
    return [r for r in EMBED_RUNS if _committed_embedding(r, dataset)]


def embedding_npz(run: str, dataset: str) -> str:
    """The embedding file of a run and dataset: committed ({TRAIN_R}), else made here ({R})."""
    return f"{R}/embed/{run}/{dataset}.npz" if dataset in UNEMBEDDED_DATASETS else f"{TRAIN_R}/embed/{run}/{dataset}.npz"

# Every figure and table of the paper, plus the replication scorecard. Stage files add to it.
ALL_TARGETS = []


# ---- helpers of the stage files (kept here: rule files hold rules only) ----


def _source_of(name):
    return DATASETS.loc[DATASETS["name"] == name, "source"].iloc[0]


def dataset_h5ad(name):
    """The file a job reads for a dataset: the local .h5ad (local:), the data_fetch download
    (cellxgene:, https://) or the data_census_shards manifest (census:)."""
    from scsigmoid.data.sheet import is_local, local_path

    source = _source_of(name)
    if is_local(source):
        return str(local_path(source, DATA_DIR))
    if source.startswith("census:"):
        return f"{R}/data/raw/census/{name}/manifest.json"
    return f"{R}/data/raw/{name}.h5ad"


def pretrain_rows():
    """The sheet rows of the pretraining datasets, a parameter of the steps using them: editing
    another row (adding an eval dataset) leaves the vocabulary and the pretraining corpus be."""
    return DATASETS.loc[DATASETS["role"] == "pretrain"].to_dict("records")


def sheet_row_of(wildcards):
    return DATASETS.loc[DATASETS["name"] == wildcards.dataset].iloc[0].to_dict()


def remote_datasets():
    """Datasets that data_fetch downloads: cellxgene ids and http(s) URLs, placeholders included."""
    return [n for n, s in zip(DATASETS["name"], DATASETS["source"]) if s.startswith(("cellxgene:", "http"))]


def census_datasets():
    return [n for n, s in zip(DATASETS["name"], DATASETS["source"]) if s.startswith("census:")]


def wildcard_choice(names):
    """A wildcard constraint matching exactly the given names (never matching when empty)."""
    import re

    return "|".join(re.escape(n) for n in names) or "(?!x)x"


def eval_source(module):
    """A package module whose change should rerun the rule using it."""
    return f"src/scsigmoid/evaluate/{module}.py"


def evaluated_datasets() -> list[str]:
    """The eval datasets whose data check passed. data_stats is a checkpoint: a rule taking them
    waits for the checks (the dataset summary), then runs on those that passed."""
    summary = pd.read_csv(checkpoints.data_stats.get().output.summary)
    passed = set(summary.loc[summary["status"] == "ok", "dataset"])
    return [d for d in EVAL_DATASETS if d in passed]


def per_dataset(kind):
    """Input function: one result file of ``kind`` per eval dataset that passed its data check."""
    return lambda wildcards: [f"{R}/eval/{kind}/{dataset}.csv" for dataset in evaluated_datasets()]


def report_table(name, category):
    """The outputs (csv, md) of rule table_{name}, the CSV an item of the HTML report captioned by
    workflow/report/table_{name}.rst."""
    csv, md = table(name)
    return {"csv": report(csv, caption=f"../report/table_{name}.rst", category=category), "md": md}
