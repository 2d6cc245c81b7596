"""write_csv keeps a table's provenance when its values are unchanged (no churn in git), and
writes the new table, provenance included, when any value changed; markdown_table renders every
Markdown table of the suite."""

import subprocess

import numpy as np
import pandas as pd
import pytest

from scsigmoid.io import markdown_table, write_csv

OLD = {"device": "cpu", "torch": "2.13.0", "triton": "3.6.0", "commit": "aaaaaaaaaaaa",
       "date": "2026-01-01"}
NEW = {**OLD, "commit": "bbbbbbbbbbbb", "date": "2026-02-02"}


def table(loss=0.5, **prov):
    return pd.DataFrame({"dataset": ["a", "b"], "loss": [loss, 1.25], "n": [3, 4]}).assign(**prov)


def test_equal_values_keep_the_previous_file_byte_for_byte(tmp_path):
    path = tmp_path / "t.csv"
    write_csv(table(**OLD), path)
    before = path.read_bytes()
    write_csv(table(**NEW), path)
    assert path.read_bytes() == before
    assert pd.read_csv(path)["commit"].tolist() == ["aaaaaaaaaaaa"] * 2


@pytest.mark.parametrize("change", ["value", "row", "column"])
def test_changed_values_are_written_with_the_new_provenance(tmp_path, change):
    path = tmp_path / "t.csv"
    write_csv(table(**OLD), path)
    new = {"value": table(loss=0.50001, **NEW),
           "row": pd.concat([table(**NEW), table(**NEW).iloc[:1]]),
           "column": table(**NEW).assign(extra=1)}[change]
    write_csv(new, path)
    back = pd.read_csv(path)
    assert back["commit"].tolist() == ["bbbbbbbbbbbb"] * len(new)
    assert back["date"].tolist() == ["2026-02-02"] * len(new)
    assert back.shape == new.shape


def test_numbers_equal_to_float32_noise_are_the_same_values(tmp_path):
    """A recomputation that moves a score by float32 arithmetic's run-to-run noise (scib-metrics'
    Benchmarker: 0.2459163404296084 then 0.2459155163238681, relative 3.4e-6) is not a new result:
    the previous bytes stay; a change in the 4th digit is written with its provenance."""
    path = tmp_path / "t.csv"
    write_csv(table(loss=0.2459163404296084, **OLD), path)
    before = path.read_bytes()
    write_csv(table(loss=0.2459155163238681, **NEW), path)
    assert path.read_bytes() == before
    write_csv(table(loss=0.24594, **NEW), path)  # relative 1.1e-4
    assert pd.read_csv(path)["commit"].tolist() == ["bbbbbbbbbbbb"] * 2
    write_csv(table(**NEW).assign(dataset=["a", "c"]), path)  # text compares as written
    assert pd.read_csv(path)["dataset"].tolist() == ["a", "c"]


def test_a_change_hidden_among_provenance_columns_is_still_seen(tmp_path):
    path = tmp_path / "t.csv"
    write_csv(table(**OLD), path)
    write_csv(table(**NEW)[["commit", "dataset", "date", "loss", "n", "device", "torch", "triton"]]
              .assign(n=[3, 5]), path)
    assert pd.read_csv(path)["n"].tolist() == [3, 5]


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                   check=True, capture_output=True)


def test_a_removed_output_is_compared_with_its_committed_version(tmp_path):
    """Snakemake removes an output before its job runs: the committed version is the reference."""
    _git(tmp_path, "init", "-q")
    path = tmp_path / "figures" / "t.csv"
    write_csv(table(**OLD), path)
    committed = path.read_bytes()
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "results")
    path.unlink()
    write_csv(table(**NEW), path)
    assert path.read_bytes() == committed
    path.unlink()
    write_csv(table(loss=0.75, **NEW), path)
    assert pd.read_csv(path)["commit"].tolist() == ["bbbbbbbbbbbb"] * 2
    untracked = tmp_path / "figures" / "u.csv"  # no previous version anywhere: written as is
    write_csv(table(**NEW), untracked)
    assert pd.read_csv(untracked)["date"].tolist() == ["2026-02-02"] * 2


def test_markdown_table_formats_blanks_escapes_and_bolds():
    df = pd.DataFrame({"run": ["a|b", "c"], "loss": [0.123456, np.nan], "n": [3, 40]},
                      index=[7, 9])  # bold is matched by position, not by index label
    bold = pd.DataFrame({"loss": [True, True], "n": [False, True]})
    assert markdown_table(df, bold) == (
        "| run   | loss       | n      |\n"
        "|-------|------------|--------|\n"
        "| a\\|b  | **0.1235** | 3      |\n"
        "| c     |            | **40** |\n"
    )
    assert markdown_table(df[["loss"]], floatfmt="{:.1f}x").splitlines()[2] == "| 0.1x   |"


def test_volatile_columns_alone_do_not_make_a_new_table(tmp_path):
    path = tmp_path / "t.csv"
    write_csv(table(**OLD).assign(compile_s=1.0), path, volatile=("compile_s",))
    before = path.read_bytes()
    write_csv(table(**NEW).assign(compile_s=2.5), path, volatile=("compile_s",))
    assert path.read_bytes() == before  # only the host timing and provenance changed
    write_csv(table(**NEW).assign(compile_s=2.5), path)  # not declared volatile: a new table
    assert pd.read_csv(path)["compile_s"].tolist() == [2.5, 2.5]
