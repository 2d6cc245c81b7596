"""The direct (non-Snakemake) entry point of workflow/scripts/bench_attention.py."""

import importlib.util
from pathlib import Path

import pandas as pd
import pytest
import torch

from scsigmoid.bench.harness import RESULT_COLUMNS

SCRIPT = Path(__file__).resolve().parents[2] / "workflow" / "scripts" / "bench_attention.py"


def load_script():
    spec = importlib.util.spec_from_file_location("bench_attention_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU path")
def test_refuses_cpu_without_flag(tmp_path):
    with pytest.raises(SystemExit, match="GPU-only"):
        load_script().main(["--out", str(tmp_path), "--impl", "eager_sigmoid"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="CPU smoke test")
def test_cpu_smoke_writes_one_part_per_head_dim_and_pass(tmp_path):
    load_script().main(["--out", str(tmp_path), "--head-dim", "8", "16", "--pass", "fwd",
                        "--tokens", "64", "--hidden", "32", "--seq-lens", "16", "32",
                        "--impl", "eager_sigmoid", "tritonsigmoid_dense",
                        "--warmup-ms", "1", "--rep-ms", "1", "--allow-cpu"])
    parts = sorted(p.name for p in tmp_path.glob("*.csv"))
    assert parts == ["attention_cpu_hd16_fwd.csv", "attention_cpu_hd8_fwd.csv"]
    df = pd.read_csv(tmp_path / "attention_cpu_hd8_fwd.csv")
    assert list(df.columns) == RESULT_COLUMNS
    eager = df[df["impl"] == "eager_sigmoid"]
    assert (eager["status"] == "ok").all() and (eager["tflops"] > 0).all()
    assert (df[df["impl"] == "tritonsigmoid_dense"]["status"] == "unavailable").all()


@pytest.mark.skipif(torch.cuda.is_available(), reason="CPU smoke test")
def test_rows_survive_a_run_cut_short(tmp_path, monkeypatch):
    """Rows go to a partial file as they are measured: a run killed mid-part keeps them."""
    import scsigmoid.bench.harness as harness

    real_measure, calls = harness._measure, []

    def measure_then_die(*args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt  # stands in for the lease's time limit
        calls.append(1)
        return real_measure(*args, **kwargs)

    monkeypatch.setattr(harness, "_measure", measure_then_die)
    with pytest.raises(KeyboardInterrupt):
        load_script().main(["--out", str(tmp_path), "--head-dim", "8", "--pass", "fwd",
                            "--tokens", "64", "--hidden", "32", "--seq-lens", "16", "32", "64",
                            "--impl", "eager_sigmoid", "--warmup-ms", "1", "--rep-ms", "1",
                            "--allow-cpu"])
    assert not (tmp_path / "attention_cpu_hd8_fwd.csv").exists()
    partial = pd.read_csv(tmp_path / "attention_cpu_hd8_fwd.partial.csv")
    assert list(partial.columns) == RESULT_COLUMNS
    assert (partial["status"] == "ok").sum() == 2


@pytest.mark.skipif(torch.cuda.is_available(), reason="CPU smoke test")
def test_unset_options_are_the_configuration_s(tmp_path):
    """No option given but the implementation: the grid, shapes and do_bench settings are those of
    the configuration's bench: section (here an overlay), not values of the script's own."""
    overlay = tmp_path / "bench.yaml"
    overlay.write_text("bench: {tokens_per_batch: 64, hidden: 32, seq_lens: [16, 32], paddings: [25],\n"
                       "        head_dims: [16], passes: [fwd], warmup_ms: 2, rep_ms: 3, seed: 7}\n")
    load_script().main(["--out", str(tmp_path), "--impl", "eager_sigmoid", "--allow-cpu",
                        "--configfile", str(overlay)])
    assert sorted(p.name for p in tmp_path.glob("*.csv")) == ["attention_cpu_hd16_fwd.csv"]
    df = pd.read_csv(tmp_path / "attention_cpu_hd16_fwd.csv")
    assert sorted(df["seq_len"]) == [16, 32] and set(df["padding_pct"]) == {25}
    assert set(df["warmup_ms"]) == {2} and set(df["rep_ms"]) == {3}
    assert list(df["batch"]) == [4, 2] and set(df["heads"]) == {2}  # 64 tokens / L, 32 hidden / 16


@pytest.mark.skipif(torch.cuda.is_available(), reason="CPU smoke test")
def test_a_resumed_part_measures_only_what_earlier_parts_lack(tmp_path, capsys):
    """--skip-done: points an earlier part measured at the same do_bench settings get no row and
    no time; other settings, failed points and a missing path (machine given back) do not count."""
    args = ["--head-dim", "8", "--pass", "fwd", "--tokens", "64", "--hidden", "32", "--seq-lens", "16", "32", "64", "--paddings", "0",
            "--impl", "eager_sigmoid", "--rep-ms", "1", "--allow-cpu"]
    first = tmp_path / "first"
    load_script().main(["--out", str(first), *args, "--warmup-ms", "1"])
    earlier = pd.read_csv(first / "attention_cpu_hd8_fwd.csv")
    earlier.loc[earlier["seq_len"] == 64, "status"] = "error"  # a failed point is measured again
    earlier.to_csv(first / "attention_cpu_hd8_fwd.partial.csv", index=False)
    (first / "attention_cpu_hd8_fwd.csv").unlink()
    load_script().main(["--out", str(tmp_path / "again"), *args, "--warmup-ms", "1",
                        "--skip-done", str(first), str(tmp_path / "gone")])
    again = pd.read_csv(tmp_path / "again" / "attention_cpu_hd8_fwd.csv")
    assert list(again["seq_len"]) == [64] and (again["status"] == "ok").all()
    assert "nothing at" in capsys.readouterr().out
    load_script().main(["--out", str(tmp_path / "other"), *args, "--warmup-ms", "2", "--skip-done", str(first)])
    assert sorted(pd.read_csv(tmp_path / "other" / "attention_cpu_hd8_fwd.csv")["seq_len"]) == [16, 32, 64]
