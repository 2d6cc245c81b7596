"""The evaluation figures render from small synthetic CSVs (plots read CSVs, never models)."""

import numpy as np
import pandas as pd
import pytest

from scsigmoid.plots.fig4_validation import plot_fig4_validation
from scsigmoid.plots.fig5_scib import plot_fig5_scib
from scsigmoid.plots.fig7_umap import plot_fig7_umap
from scsigmoid.plots.fig9_jacobian import plot_fig9_jacobian


def _check(paths):
    assert [p.suffix for p in paths] == [".pdf", ".png"]
    for p in paths:
        assert p.stat().st_size > 1000


def test_fig4(tmp_path):
    rows = [{"dataset": f"d{i}", "size": "s", "context": c, "attention": a, "n_seeds": 3,
             "loss_mean": 3 + i * 0.1, "loss_lo": 2.95 + i * 0.1, "loss_hi": 3.05 + i * 0.1 if i else np.nan}
            for i in range(6) for c in (2048, 4096) for a in ("softmax", "sigmoid")]
    pd.DataFrame(rows).to_csv(tmp_path / "t.csv", index=False)
    _check(plot_fig4_validation(tmp_path / "t.csv", tmp_path / "fig4", scale="tiny model, 3 seeds"))


def test_fig5(tmp_path):
    rows = [{"dataset": f"d{i}", "model": m, "view": v, "n_seeds": 3, "n_pcs_median": 12,
             **{f"{k}_{s}": base + d for k, base in (("nmi", 0.5), ("ari", 0.4), ("silhouette_label", 0.55),
                                                    ("bio_conservation", 0.48))
                for s, d in (("mean", 0.0), ("lo", -0.02), ("hi", 0.02))}}
            for i in range(6) for m in ("softmax", "sigmoid") for v in ("mean", "cls")]
    pd.DataFrame(rows).to_csv(tmp_path / "s.csv", index=False)
    _check(plot_fig5_scib(tmp_path / "s.csv", tmp_path / "fig5", scale="tiny model, 3 seeds"))


def test_fig7(tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"cell_id": np.arange(40).astype(str), "label": rng.choice(["T", "B"], 40),
                       "embedding": ["X_softmax_mean"] * 20 + ["X_sigmoid_mean"] * 20,
                       "umap1": rng.normal(size=40), "umap2": rng.normal(size=40)})
    df.to_csv(tmp_path / "u.csv", index=False)
    _check(plot_fig7_umap(tmp_path / "u.csv", tmp_path / "fig7", title="toy"))


def test_fig9(tmp_path):
    alphas = np.logspace(-1, 2, 5)
    df = pd.DataFrame({"run": "r", "source": "layer0", "alpha": alphas, "softmax_norm_median": 0.1,
                       "softmax_norm_max": 0.4, "sigmoid_norm_median": 0.2, "sigmoid_norm_max": 0.25,
                       "softmax_offdiag_share": 0.3})
    df.to_csv(tmp_path / "j.csv", index=False)
    _check(plot_fig9_jacobian(tmp_path / "j.csv", tmp_path / "fig9", scale="tiny model"))


def test_missing_csv_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        plot_fig5_scib(tmp_path / "absent.csv", tmp_path / "x")
