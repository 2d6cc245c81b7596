"""Fig 3 from the long-format throughput CSV's gain table: projected GPU-hours hand-worked on the
fixture, the paper's gains beside ours, a clear error for an old-format table."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scsigmoid.plots.fig3_gpu_hours import gpu_hours, plot_fig3

FIXTURES = Path(__file__).parent / "fixtures"


def test_gpu_hours_hand_worked():
    table = gpu_hours(pd.read_csv(FIXTURES / "gains.csv")).set_index(["size", "context", "workload", "arm"])
    sig = table.loc[("1.4B", 2048, "full_context", "sigmoid")]
    # 131.6M cells x (32,000 / 18) tokens per cell / 102,000 tokens/s / 3600 s
    assert sig["gpu_hours"] == pytest.approx(637.1338658920358)
    assert sig["hours_16gpu"] == pytest.approx(637.1338658920358 / 16)
    soft = table.loc[("1.4B", 2048, "full_context", "softmax")]
    assert soft["gpu_hours"] == pytest.approx(649.8765432098766)  # 100,000 tokens/s
    assert (sig["gain_lo"], sig["gain_hi"]) == pytest.approx((0.015, 0.025))  # median 2 % +- IQR 0.5 %
    assert sig["paper_gain"] == pytest.approx(0.021) and np.isnan(soft["paper_gain"])
    assert np.isnan(table.loc[("160M", 2048, "corpus", "sigmoid"), "paper_gain"])
    assert table.loc[("160M", 2048, "corpus", "softmax"), "gpu_hours"] == pytest.approx(
        131.6e6 * 80 / 300000 / 3600)  # 32,000 tokens over 400 cells


def test_fig3_renders_with_its_scale_on_the_face(tmp_path):
    long = pd.read_csv(FIXTURES / "throughput_long.csv")
    table = plot_fig3(pd.read_csv(FIXTURES / "gains.csv"), tmp_path / "fig3", long=long,
                      definition="throughput gain = sigmoid tokens/s ÷ softmax tokens/s − 1")
    for ext in ("pdf", "png"):
        assert (tmp_path / f"fig3.{ext}").stat().st_size > 1000
    assert set(table["workload"]) == {"full_context", "corpus"}


def test_fig3_face_names_the_sizes_measured_with_compiled_blocks():
    from scsigmoid.plots.fig3_gpu_hours import _workload_line

    gains = pd.read_csv(FIXTURES / "gains.csv")
    gains["compile"] = gains["size"] == "1.4B"
    line = _workload_line("full_context", gains, None)
    assert "blocks compiled: 1.4B" in line and "eager: 160M" in line
    gains["compile"] = (gains["size"] == "1.4B") & (gains["context"] == 2048)  # a size with both
    line = _workload_line("full_context", gains, None)
    assert "blocks compiled: 1.4B (2K)" in line and "eager: 160M, 1.4B (4K)" in line, line


def test_fig3_face_states_the_clocks_and_refuses_to_hide_mixed_rate_statistics():
    from scsigmoid.plots.fig3_gpu_hours import _device_text

    long = pd.DataFrame({"device": "NVIDIA H200", "status": ["ok", "ok", "oom"],
                         "sm_clock_mhz_median": [1695.0, 1830.0, 1000.0], "power_capped_share": [1.0, 0.5, 0.0],
                         "rate_basis": ["round_total", "round_total", "median_step"]})
    text = _device_text(long)
    assert text == " on NVIDIA H200 (SM clock 1695–1830 MHz, median per round; power cap binding in 75% of clock samples)"
    long.loc[1, "rate_basis"] = "median_step"
    assert "MIXED rate statistics: median_step, round_total" in _device_text(long)
    assert _device_text(None) == ""


def test_fig3_face_names_the_commits_behind_its_points():
    from scsigmoid.plots.fig3_gpu_hours import _commit_text

    rows = [("aaa", "160M", "full_context", c) for c in (2048, 4096, 8192)] + [("aaa", "1.4B", "corpus", 2048)]
    rows += [("bbb", "1.4B", "full_context", 8192), ("bbb", "1.4B", "full_context", 4096)]
    long = pd.DataFrame(rows * 2, columns=["commit", "size", "workload", "context"]).assign(status="ok")
    assert _commit_text(long) == "code that ran: aaa (4 points); bbb (1.4B full_context 8K, 1.4B full_context 4K)"
    assert _commit_text(long[long["commit"] == "aaa"]) == ""  # one commit: nothing to tell apart
    long.loc[long["commit"] == "bbb", "status"] = "oom"
    assert _commit_text(long) == ""  # only measured points count


def test_old_format_is_a_clear_error(tmp_path):
    old = pd.DataFrame({"size": ["160M"], "context": [2048], "attention": ["sigmoid"], "samples_per_s": [1.0]})
    with pytest.raises(ValueError, match="gain_table"):
        gpu_hours(old)


def test_fig3_draws_a_variant_arm_with_its_own_label(tmp_path, monkeypatch):
    """An opt-in kernel-variant arm (sigmoid_fma) gets bars, a gain line and a legend entry of its own."""
    from scsigmoid.plots import fig3_gpu_hours as f3

    gains = pd.read_csv(FIXTURES / "gains.csv")
    fma = gains[(gains["arm"] == "sigmoid") & (gains["size"] == "1.4B")].assign(arm="sigmoid_fma")
    fma["tokens_per_s_median"] *= 1.01
    figures = []
    monkeypatch.setattr(f3, "save_figure", lambda fig, stem: figures.append(fig))
    table = f3.plot_fig3(pd.concat([gains, fma], ignore_index=True), tmp_path / "fig3",
                         long=pd.read_csv(FIXTURES / "throughput_long.csv"))
    assert (table.loc[table["arm"] == "sigmoid_fma", "paper_gain"].notna()).all()
    (fig,) = figures
    legend = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert "sigmoid (ours, FMA-pipe sigmoid variant)" in legend
    panel = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    assert any(t.endswith("(ours, FMA variant)") for t in panel)
