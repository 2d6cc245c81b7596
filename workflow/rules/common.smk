"""Shared definitions: output roots, the GPU switch, the dataset sheet, run names."""

import shutil
from pathlib import Path

import pandas as pd

R = config["results_dir"].rstrip("/")  # everything this run computes
FIG = config["figures_dir"].rstrip("/")  # rendered figures and tables
DATA_DIR = config["data_dir"].rstrip("/")  # local .h5ad sources
ENV = "../../envs/suite.yaml"  # relative to workflow/rules/


def _cuda_visible() -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:
        return False


def _gpu_switch(value) -> bool:
    """config['gpu'] may arrive as auto, True/False, or the strings 'true'/'false' (--config)."""
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


# Device tag of GPU results: measured here when GPU rules run, else the committed reference device.
DEVICE = _device_slug() if GPU else config["reference_device"]
# Where GPU-only results are read from: this run's results when the GPU rules run, else the
# committed results (which may differ from results_dir, e.g. in the CI test configuration).
GPU_R = R if GPU else config["gpu_results_dir"].rstrip("/")
# Training can be forced onto the CPU (tiny model, test configuration).
TRAIN_HERE = GPU or bool(config["train"].get("cpu", False))
TRAIN_R = R if TRAIN_HERE else GPU_R


def figure(name: str) -> list[str]:
    """The PDF and PNG of one figure."""
    return [f"{FIG}/{name}.pdf", f"{FIG}/{name}.png"]


def table(name: str) -> list[str]:
    """The CSV and Markdown of one table."""
    return [f"{FIG}/table_{name}.csv", f"{FIG}/table_{name}.md"]


def read_dataset_sheet(path: str) -> pd.DataFrame:
    from scsigmoid.data.sheet import read_sheet

    return read_sheet(path)


DATASETS = read_dataset_sheet(config["datasets"])
EVAL_DATASETS = DATASETS.loc[DATASETS["role"] == "eval", "name"].tolist()
PRETRAIN_DATASETS = DATASETS.loc[DATASETS["role"] == "pretrain", "name"].tolist()

ATTENTIONS = ["softmax", "sigmoid"]


def run_name(size: str, context: int, attention: str) -> str:
    return f"{size}_{context}_{attention}"


MAIN_RUNS = [
    run_name(config["train"]["size"], ctx, att)
    for ctx in config["train"]["contexts"]
    for att in ATTENTIONS
]
EMBED_RUNS = [
    run_name(config["train"]["size"], config["evaluate"]["context"], att) for att in ATTENTIONS
]

# Every figure and table of the paper, plus the replication scorecard. Stage files add to it.
ALL_TARGETS = []
