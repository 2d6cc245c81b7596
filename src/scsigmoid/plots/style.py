"""Shared plot style: one colour per attention implementation (softmax in reds, sigmoid in
blues), readable labels, and save_figure() writing the PDF and PNG atomically and reproducibly
(the same figure gives the same bytes on every run: no creation date in the files)."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from scsigmoid.io import atomic_path  # noqa: E402

SOFTMAX_COLOR = "#c0392b"  # softmax = red
SIGMOID_COLOR = "#1f5fa8"  # sigmoid = blue

# implementation -> (label, colour); sigmoid kernels in blues, softmax kernels in reds/oranges
IMPLEMENTATIONS: dict[str, tuple[str, str]] = {
    "ours_dense": ("Ours (dense)", "#08306b"),
    "ours_padded": ("Ours (padded)", "#2171b5"),
    "ours_varlen": ("Ours (varlen)", "#4292c6"),
    "ours_dense_trainbias": ("Ours (dense, b=-log n)", "#6baed6"),
    "ours_dense_causal": ("Ours (dense, causal)", "#9ecae1"),
    "tritonsigmoid_dense": ("TritonSigmoid", "#17becf"),
    "tritonsigmoid_padded": ("TritonSigmoid (padded)", "#0e8c99"),
    "flashsigmoid": ("FlashSigmoid", "#6a51a3"),
    "flashsigmoid_ref": ("FlashSigmoid (H200, external ref.)", "#6a51a3"),
    "eager_sigmoid": ("Standard attention (eager sigmoid)", "#7f7f7f"),
    "fa2_dense": ("FlashAttention-2 (torch SDPA)", "#c0392b"),
    "fa2_varlen": ("FlashAttention-2 varlen (torch)", "#e6550d"),
    "flash_attn_dense": ("flash-attn 2 (package)", "#a50f15"),
    "flash_attn_varlen": ("flash-attn 2 varlen (package)", "#fd8d3c"),
    "cudnn_sdpa": ("cuDNN attention (torch SDPA)", "#8c2d04"),
}
FALLBACK_COLOR = "#333333"


def label(impl: str) -> str:
    return IMPLEMENTATIONS.get(impl, (impl, FALLBACK_COLOR))[0]


def color(impl: str) -> str:
    return IMPLEMENTATIONS.get(impl, (impl, FALLBACK_COLOR))[1]


def apply_style() -> None:
    plt.rcParams.update({
        "font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8, "legend.fontsize": 7,
        "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
        "grid.alpha": 0.3, "savefig.dpi": 200, "pdf.fonttype": 42,
    })


#: Metadata per format that keeps a file's bytes a function of the figure alone: matplotlib
#: stamps PDFs with the time of writing (CreationDate); PNGs carry only the matplotlib version
#: ("Software"), which is fixed for an environment.
REPRODUCIBLE_METADATA: dict[str, dict] = {"pdf": {"CreationDate": None}, "png": {}}


def save_figure(fig, stem: str | os.PathLike) -> list[Path]:
    """Write ``stem``.pdf and ``stem``.png atomically and close the figure. Saving the same
    figure again gives byte-identical files, so re-rendering unchanged results leaves the
    committed figures untouched."""
    stem = Path(stem)
    paths = [stem.with_name(stem.name + ext) for ext in (".pdf", ".png")]
    for path in paths:
        fmt = path.suffix[1:]
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, bbox_inches="tight", metadata=REPRODUCIBLE_METADATA[fmt])
    plt.close(fig)
    return paths
