"""Fig 2 / Fig 8 / kernel grid from the SYNTHETIC fixture table (tests/bench/fixtures)."""

from pathlib import Path

import pandas as pd
import pytest

from scsigmoid.plots.fig2_tflops import plot_fig2
from scsigmoid.plots.fig8_latency import plot_fig8
from scsigmoid.plots.kernel_grid import draw_kernel_grid, metric_band, with_flashsigmoid_reference

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "bench" / "fixtures" / "attention_synthetic.csv"
REPORTED = ROOT / "reference" / "fig2_reported_h100.csv"
FLASHSIGMOID = ROOT / "reference" / "flashsigmoid_h200.csv"


def legend_labels(fig):
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def test_fig2_and_fig8_files(tmp_path):
    for paths in (plot_fig2(FIXTURE, REPORTED, FLASHSIGMOID, tmp_path / "fig2_tflops"),
                  plot_fig8(FIXTURE, FLASHSIGMOID, tmp_path / "fig8_latency")):
        assert [p.suffix for p in paths] == [".pdf", ".png"]
        assert all(p.stat().st_size > 10_000 for p in paths)
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_grid_series_and_exclusions():
    data = with_flashsigmoid_reference(pd.read_csv(FIXTURE), pd.read_csv(FLASHSIGMOID))
    fig = draw_kernel_grid(data, "tflops", reported=pd.read_csv(REPORTED))
    labels = legend_labels(fig)
    assert "FlashSigmoid (H200, external ref.)" in labels
    assert "Standard attention (eager sigmoid)" in labels
    assert any("paper, H100" in label for label in labels)
    assert len(fig.axes) == 8
    latency = draw_kernel_grid(data, "ms", exclude=("eager_sigmoid",))
    assert "Standard attention (eager sigmoid)" not in legend_labels(latency)
    assert not any("paper" in label for label in legend_labels(latency))


def test_reference_not_used_when_flashsigmoid_measured():
    measured = pd.read_csv(FIXTURE)
    fs = measured["impl"] == "flashsigmoid"
    measured.loc[fs & (measured["padding_pct"] == 0), ["status", "ms_median", "tflops"]] = ["ok", 1.0, 300.0]
    data = with_flashsigmoid_reference(measured, pd.read_csv(FLASHSIGMOID))
    assert "flashsigmoid_ref" not in set(data["impl"])


def test_metric_band_tflops_from_time_quantiles():
    df = pd.DataFrame({"tflops": [100.0], "ms_median": [2.0], "ms_p20": [1.0], "ms_p80": [4.0]})
    value, low, high = metric_band(df, "tflops")
    assert (value[0], low[0], high[0]) == (100.0, 50.0, 200.0)
    with pytest.raises(ValueError, match="metric"):
        metric_band(df, "watts")


def test_missing_columns_named():
    with pytest.raises(ValueError, match="lacks columns"):
        draw_kernel_grid(pd.DataFrame({"impl": ["x"]}), "ms")


def test_panel_notes_say_why_ours_is_missing():
    data = pd.read_csv(FIXTURE)
    ours = data["impl"].str.startswith("ours") & (data["head_dim"] == 64) & (data["pass"] == "bwd")
    data.loc[ours & (data["padding_pct"] == 0), ["status", "tflops", "ms_median"]] = ["not_measured", None, None]
    data.loc[ours & (data["padding_pct"] == 25), ["status", "tflops", "ms_median"]] = ["error", None, None]
    fig = draw_kernel_grid(data, "tflops")
    notes = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "ours not measured on this device" in notes and "no successful run of ours" in notes


def test_mixed_timing_settings_refused_unless_chosen():
    data = pd.read_csv(FIXTURE)
    old = data["impl"].str.startswith("tritonsigmoid")
    data.loc[old, ["warmup_ms", "rep_ms"]] = [25.0, 100.0]
    with pytest.raises(ValueError, match="mix do_bench timing settings"):
        draw_kernel_grid(data, "tflops")
    only_paper = draw_kernel_grid(data, "tflops", timing="100/250")
    assert "TritonSigmoid" not in legend_labels(only_paper)
    assert "points measured with other settings left out" in only_paper._suptitle.get_text()
    mixed = draw_kernel_grid(data, "tflops", timing="mixed")
    assert "TritonSigmoid" in legend_labels(mixed)
    title = mixed._suptitle.get_text()
    assert "mixed: 100/250 ms" in title and "25/100 ms" in title and "white-filled" in title
    white = [line for ax in mixed.axes for line in ax.lines if line.get_markerfacecolor() == "white"]
    assert len(white) == 8  # one TritonSigmoid series a panel: dense at 0%, padded at 25% padding


def test_table_without_timing_columns_is_refused():
    with pytest.raises(ValueError, match="re-merge the parts"):
        draw_kernel_grid(pd.read_csv(FIXTURE).drop(columns=["warmup_ms", "rep_ms"]), "ms")


def test_face_names_each_commit_of_ours_when_they_differ():
    """A table merged from several calls: the title names each commit our points ran, with where."""
    data = pd.read_csv(FIXTURE).assign(commit="aaaaaaaaaaaa")
    one = draw_kernel_grid(data, "tflops")._suptitle.get_text()
    assert "commit" not in one and "aaaaaaaaaaaa" not in one
    ours_ok = data["impl"].str.startswith("ours") & (data["status"] == "ok")
    data.loc[ours_ok & (data["head_dim"] == 128), "commit"] = "bbbbbbbbbbbb"
    data.loc[~data["impl"].str.startswith("ours"), "commit"] = "cccccccccccc"  # baselines: not named
    title = draw_kernel_grid(data, "tflops")._suptitle.get_text().replace("\n", " ")
    n64, n128 = (int((ours_ok & (data["head_dim"] == hd)).sum()) for hd in (64, 128))
    assert n64 and n128
    assert f"aaaaaaaaaaaa ({n64} points: hd64 bwd, hd64 fwd)" in title
    assert f"bbbbbbbbbbbb ({n128} points: hd128 bwd, hd128 fwd)" in title
    assert "cccccccccccc" not in title
