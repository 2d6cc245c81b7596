"""save_figure: the same figure gives the same bytes on every run (no creation date)."""

import matplotlib.pyplot as plt

from scsigmoid.plots.style import save_figure


def _figure():
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1, 2], [2, 0, 1], label="a")
    ax.set_title("t")
    ax.legend()
    return fig


def test_saving_twice_gives_identical_bytes(tmp_path, monkeypatch):
    # matplotlib dates a PDF from SOURCE_DATE_EPOCH when set, else from the clock: two different
    # "times" stand in for two runs on different days
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    first = save_figure(_figure(), tmp_path / "a" / "fig")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    second = save_figure(_figure(), tmp_path / "b" / "fig")
    assert [p.suffix for p in first] == [".pdf", ".png"]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert b"CreationDate" not in first[0].read_bytes()


def test_different_figures_differ(tmp_path):
    fig = _figure()
    fig.axes[0].set_title("other")
    a = save_figure(_figure(), tmp_path / "a")
    b = save_figure(fig, tmp_path / "b")
    assert a[0].read_bytes() != b[0].read_bytes() and a[1].read_bytes() != b[1].read_bytes()
