"""Names of the main comparison's runs, one definition for the DAG and the package (torch-free,
so the Snakefile parses quickly)."""

from __future__ import annotations

from scsigmoid import ATTENTIONS


def run_name(size: str, context: int, attention: str, seed: int) -> str:
    """``{size}_{context}_{attention}_s{seed}``: both arms of a seed share init and data order."""
    return f"{size}_{context}_{attention}_s{seed}"


def main_runs(config: dict) -> list[dict]:
    """Every run of the main comparison: (size, context, attention, seed) for ``train.contexts``
    x ``train.seeds`` x the two attentions."""
    t = config["train"]
    return [{"size": t["size"], "context": int(c), "attention": a, "seed": int(s)}
            for c in t["contexts"] for s in t["seeds"] for a in ATTENTIONS]
