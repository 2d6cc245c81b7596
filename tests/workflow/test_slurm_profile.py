"""Static checks of the Slurm profile, the paper-scale overlay and the Slurm CI helpers.

The real Slurm run is .ci/slurm/run_slurm_test.sh (root, a few minutes); these tests only read
files and run the helpers on small made-up inputs.
"""

import copy
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "profiles" / "slurm" / "profile.yaml"
CI = REPO / ".ci" / "slurm"


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def load_ci_module(name: str):
    spec = importlib.util.spec_from_file_location(name, CI / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rules_in_workflow() -> dict[str, str]:
    """Rule name -> text of its block, for every `rule NAME:` / `use rule ... as NAME` in the .smk files."""
    blocks = {}
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        text = smk.read_text()
        starts = list(re.finditer(r"^\s*(?:rule (\w+):|use rule \w+ as (\w+))", text, re.M))
        for i, match in enumerate(starts):
            end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
            blocks[match.group(1) or match.group(2)] = text[match.start() : end]
    return blocks


def deep_merge(base: dict, overlay: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# --- profile ------------------------------------------------------------------------------------


def test_profile_selects_slurm_with_safe_run_settings():
    profile = load_yaml(PROFILE)
    assert profile["executor"] == "slurm"
    assert profile["jobs"] >= 1
    assert profile["latency-wait"] >= 30  # shared filesystems are slow to show outputs
    assert profile["keep-going"] is False
    assert profile["retries"] >= 1
    assert profile["slurm-logdir"]
    assert profile["slurm-keep-successful-logs"] is True


def test_default_resources_cover_partition_runtime_memory_cpus_but_no_gpu():
    defaults = load_yaml(PROFILE)["default-resources"]
    assert {"slurm_partition", "runtime", "mem_mb", "cpus_per_task"} <= defaults.keys()
    assert defaults["cpus_per_task"] == "threads"  # CPUs follow each rule's threads:
    assert not {"gpu", "gres", "gpu_model"} & defaults.keys()


def test_set_resources_name_existing_rules_only():
    rules = rules_in_workflow()
    unknown = sorted(set(load_yaml(PROFILE).get("set-resources", {})) - rules.keys())
    assert not unknown, f"profile set-resources names rules that do not exist: {unknown}"


def test_gpu_rules_go_to_the_gpu_partition_and_cpu_rules_do_not():
    overrides = load_yaml(PROFILE).get("set-resources", {})
    for name, block in rules_in_workflow().items():
        asks_gpu = (
            re.search(r"resources:\s*\n(?:[ \t]+(?:\w+\s*=|#).*\n)*?[ \t]+gpu\s*=", block)
            is not None
        )
        partition = overrides.get(name, {}).get("slurm_partition")
        if asks_gpu:
            assert partition == "gpu", (
                f"GPU rule {name} needs slurm_partition: gpu in set-resources"
            )
            assert overrides[name].get("cpus_per_task") == 0  # so that cpus_per_gpu applies
            assert overrides[name].get("cpus_per_gpu", 0) >= 1
        else:
            assert partition != "gpu", f"CPU rule {name} is sent to the GPU partition"


def test_profile_keys_are_snakemake_options():
    pytest.importorskip("snakemake_executor_plugin_slurm")
    help_text = subprocess.run(
        [sys.executable, "-m", "snakemake", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for key in load_yaml(PROFILE):
        assert f"--{key}" in help_text, f"profile key {key!r} is not a snakemake option"


# --- paper-scale overlay --------------------------------------------------------------------------


def test_paper_overlay_is_valid_and_paper_sized():
    base = load_yaml(REPO / "config" / "config.yaml")
    paper = load_yaml(REPO / "config" / "paper.yaml")
    merged = deep_merge(base, paper)
    jsonschema.validate(merged, load_yaml(REPO / "config" / "schema.yaml"))
    assert merged["gpu"] is True
    assert merged["datasets"] == "config/paper_datasets.tsv"
    assert merged["train"]["contexts"] == [2048, 4096, 8192]
    gpus = merged["cluster"]["train_nodes"] * merged["cluster"]["train_gpus_per_node"]
    assert gpus == 16 and merged["train"]["batch_size"] // gpus == 2  # Fig 3: 2 samples per GPU
    assert merged["evaluate"]["context"] == 4096


# --- CI helpers ------------------------------------------------------------------------------------

SNAKEMAKE_LOG = """\
Job 1 has been submitted with SLURM jobid 11 (log: .snakemake/slurm_logs/rule_a/11.log).
Job 2 has been submitted with SLURM jobid 12 (log: .snakemake/slurm_logs/rule_b/12.log).
localrule all:
    input: x
3 of 3 steps (100%) done
"""


def test_check_slurm_jobs_accepts_a_complete_run():
    check = load_ci_module("check_slurm_jobs")
    log = check.parse_snakemake_log(SNAKEMAKE_LOG)
    rows = check.parse_sacct("11|u|COMPLETED|0:0|1|rule_a\n12|u|COMPLETED|0:0|2|rule_b\n")
    assert log["jobs_run"] == 3 and log["local_jobs"] == ["all"]
    assert check.check(log, rows) == []


@pytest.mark.parametrize(
    "sacct, expected",
    [
        ("11|u|COMPLETED|0:0|1|rule_a\n12|u|FAILED|1:0|1|rule_b\n", "FAILED"),
        ("11|u|COMPLETED|0:0|1|rule_a\n", "not in sacct: 12"),
        (
            "11|u|COMPLETED|0:0|1|a\n12|u|COMPLETED|0:0|1|b\n13|u|COMPLETED|0:0|1|c\n",
            "not submitted",
        ),
    ],
)
def test_check_slurm_jobs_reports_failed_missing_and_foreign_jobs(sacct, expected):
    check = load_ci_module("check_slurm_jobs")
    problems = check.check(check.parse_snakemake_log(SNAKEMAKE_LOG), check.parse_sacct(sacct))
    assert any(expected in p for p in problems), problems


def test_check_slurm_jobs_notices_jobs_that_ran_outside_slurm():
    check = load_ci_module("check_slurm_jobs")
    log = check.parse_snakemake_log(SNAKEMAKE_LOG.replace("3 of 3", "4 of 4"))
    rows = check.parse_sacct("11|u|COMPLETED|0:0|1|a\n12|u|COMPLETED|0:0|1|b\n")
    assert any("3 non-local jobs ran but 2" in p for p in check.check(log, rows))


def test_check_slurm_jobs_rejects_unfinished_run():
    check = load_ci_module("check_slurm_jobs")
    log = check.parse_snakemake_log(SNAKEMAKE_LOG.replace("(100%) done", "(66%) done"))
    assert "did not finish" in check.check(log, [])[0]


def write_table(path: Path, frame: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def test_compare_outputs_ignores_timing_and_provenance_but_not_values(tmp_path):
    compare = load_ci_module("compare_outputs")
    row = {"run": "tiny_8_sigmoid", "loss": 2.5, "seconds": 1.0, "tflops": 3.0, "date": "d1"}
    write_table(tmp_path / "a" / "r" / "t.csv", pd.DataFrame([row]))
    write_table(
        tmp_path / "b" / "r" / "t.csv",
        pd.DataFrame([{**row, "seconds": 9.0, "tflops": 1.0, "date": "d2"}]),
    )
    (tmp_path / "a" / "f.png").write_bytes(b"one")
    (tmp_path / "b" / "f.png").write_bytes(b"two")  # figures: presence only
    assert compare.compare_trees(tmp_path / "a", tmp_path / "b") == ([], 1)

    write_table(tmp_path / "b" / "r" / "t.csv", pd.DataFrame([{**row, "loss": 2.6}]))
    problems, _ = compare.compare_trees(tmp_path / "a", tmp_path / "b")
    assert len(problems) == 1 and "'loss'" in problems[0]


def test_compare_outputs_judges_a_umap_by_its_neighbourhoods_not_its_coordinates(tmp_path):
    """UMAP moves points by whole units when its input changes in the last bit (CI saw 10-23):
    clusters moved and reflected with their members' neighbours kept pass; the same points with
    rows shuffled (each cell placed where another was) fail, and so does a changed cell id."""
    compare = load_ci_module("compare_outputs")
    rng = np.random.default_rng(0)
    centres = rng.uniform(-10, 10, size=(8, 2))
    label = np.repeat(np.arange(8), 40)
    xy = centres[label] + rng.normal(scale=0.5, size=(len(label), 2))
    table = pd.DataFrame({"cell_id": [f"c{i}" for i in range(len(label))], "embedding": "X_a",
                          "umap1": xy[:, 0], "umap2": xy[:, 1]})
    moved = rng.uniform(-10, 10, size=(8, 2))[label] - (xy - centres[label])  # new places, reflected
    write_table(tmp_path / "a" / "umap.csv", table)
    write_table(tmp_path / "b" / "umap.csv", table.assign(umap1=moved[:, 0], umap2=moved[:, 1]))
    assert np.abs(moved - xy).max() > 5
    assert compare.compare_trees(tmp_path / "a", tmp_path / "b") == ([], 1)

    shuffled = xy[rng.permutation(len(xy))]
    write_table(tmp_path / "b" / "umap.csv", table.assign(umap1=shuffled[:, 0], umap2=shuffled[:, 1]))
    problems, _ = compare.compare_trees(tmp_path / "a", tmp_path / "b")
    assert len(problems) == 1 and "nearest neighbours kept, below 0.3" in problems[0] and "X_a" in problems[0]

    write_table(tmp_path / "b" / "umap.csv", table.assign(cell_id=table["cell_id"][::-1].to_numpy()))
    problems, _ = compare.compare_trees(tmp_path / "a", tmp_path / "b")
    assert len(problems) == 1 and "'cell_id'" in problems[0]


def test_compare_outputs_allows_a_training_runs_last_bits_but_not_more(tmp_path):
    """A training run's log may differ in the last bits (CI saw 1e-5 relative on max-logit columns);
    a changed run (1e-3) still fails, and so does the same last-bit change in any other table."""
    compare = load_ci_module("compare_outputs")
    log = pd.DataFrame({"step": [1, 2], "loss": [9.6162, 9.5], "max_logit_l0": [0.1095, 0.1359]})
    write_table(tmp_path / "a" / "train" / "runs" / "r" / "log.csv", log)
    write_table(tmp_path / "a" / "eval" / "t.csv", log)
    drift = log.assign(max_logit_l0=log["max_logit_l0"] * (1 + 1e-5))
    write_table(tmp_path / "b" / "train" / "runs" / "r" / "log.csv", drift)
    write_table(tmp_path / "b" / "eval" / "t.csv", log)
    assert compare.compare_trees(tmp_path / "a", tmp_path / "b") == ([], 2)
    write_table(tmp_path / "b" / "eval" / "t.csv", drift)
    problems, _ = compare.compare_trees(tmp_path / "a", tmp_path / "b")
    assert len(problems) == 1 and problems[0].startswith("eval/t.csv")
    write_table(tmp_path / "b" / "eval" / "t.csv", log)
    write_table(tmp_path / "b" / "train" / "runs" / "r" / "log.csv", log.assign(loss=log["loss"] * (1 + 1e-3)))
    problems, _ = compare.compare_trees(tmp_path / "a", tmp_path / "b")
    assert len(problems) == 1 and "'loss'" in problems[0]


def test_compare_outputs_reports_missing_files_and_changed_text(tmp_path):
    compare = load_ci_module("compare_outputs")
    write_table(tmp_path / "a" / "t.tsv", pd.DataFrame({"cell_type": ["B", "T"]}))
    write_table(tmp_path / "b" / "t.tsv", pd.DataFrame({"cell_type": ["B", "NK"]}))
    (tmp_path / "a" / "only_here.csv").write_text("x\n1\n")
    problems, _ = compare.compare_trees(tmp_path / "a", tmp_path / "b")
    assert any("only in" in p and "only_here.csv" in p for p in problems)
    assert any("'cell_type' row 1" in p for p in problems)
    # a run of some targets only (--subset): the reference's other files are not differences, but
    # every file the subset run wrote is compared, and one the reference lacks is a difference
    problems, _ = compare.compare_trees(tmp_path / "a", tmp_path / "b", subset=True)
    assert not any("only_here.csv" in p for p in problems) and any("'cell_type' row 1" in p for p in problems)
    (tmp_path / "b" / "extra.csv").write_text("x\n1\n")
    problems, _ = compare.compare_trees(tmp_path / "a", tmp_path / "b", subset=True)
    assert any("only in" in p and "extra.csv" in p for p in problems)


def test_compare_outputs_reads_paths_into_each_run_relative_to_it(tmp_path):
    compare = load_ci_module("compare_outputs")
    for run, other in (("local", "x"), ("slurm/out", "x")):
        table = tmp_path / run / "figures" / "t.csv"
        table.parent.mkdir(parents=True)
        source = f"{(tmp_path / run).as_posix()}/results/mmd.csv"
        table.write_text(f"claim,source,note\n1,{source},{other}\n")
    assert compare.compare_trees(tmp_path / "local" / "figures",
                                 tmp_path / "slurm/out" / "figures") == ([], 1)
    (tmp_path / "slurm/out/figures/t.csv").write_text("claim,source,note\n1,elsewhere/mmd.csv,x\n")
    problems, _ = compare.compare_trees(tmp_path / "local" / "figures", tmp_path / "slurm/out" / "figures")
    assert problems and "source" in problems[0]


MD = """# Runs

Scale: tiny model. Measured by this workflow.

| run   | loss   | train_seconds   | commit   |
|-------|--------|-----------------|----------|
| s0    | {loss} | {seconds}       | {commit} |
"""


def test_compare_outputs_strict_reads_markdown_tables_but_not_their_provenance(tmp_path):
    compare = load_ci_module("compare_outputs")
    for run, seconds, commit in (("a", "1.5", "682d12a"), ("b", "93.25", "4ffd39c0c0c0")):
        write_table(tmp_path / run / "t.csv", pd.DataFrame({"x": [1]}))
        (tmp_path / run / "table_runs.md").write_text(MD.format(loss="2.5", seconds=seconds, commit=commit))
    assert compare.compare_trees(tmp_path / "a", tmp_path / "b", strict=True) == ([], 2)
    (tmp_path / "b" / "table_runs.md").write_text(MD.format(loss="2.6", seconds="1.5", commit="x"))
    assert compare.compare_trees(tmp_path / "a", tmp_path / "b") == ([], 1)  # Markdown: strict only
    problems, _ = compare.compare_trees(tmp_path / "a", tmp_path / "b", strict=True)
    assert problems == ["table_runs.md: line 6: 's0 | 2.5' vs 's0 | 2.6'"]
    (tmp_path / "b" / "table_runs.md").write_text(MD.format(loss="2.5", seconds="1.5", commit="x")
                                                  .replace("tiny model", "small model"))
    problems, _ = compare.compare_trees(tmp_path / "a", tmp_path / "b", strict=True)
    assert problems == ["table_runs.md: line 3: 'Scale: tiny model. Measured by this workflow.' vs "
                        "'Scale: small model. Measured by this workflow.'"]


def test_compare_outputs_strict_compares_arrays(tmp_path):
    compare = load_ci_module("compare_outputs")
    tokens = np.arange(12, dtype=np.int32)
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        np.save(tmp_path / run / "tokens.npy", tokens)
        np.savez(tmp_path / run / "emb.npz", mean=np.linspace(0, 1, 6).reshape(2, 3), cells=np.array([3, 4]))
    np.savez(tmp_path / "b" / "emb.npz", mean=np.linspace(0, 1, 6).reshape(2, 3) + 1e-12, cells=np.array([3, 4]))
    assert compare.compare_trees(tmp_path / "a", tmp_path / "b", strict=True) == ([], 2)  # within rtol
    np.save(tmp_path / "b" / "tokens.npy", np.where(tokens == 5, 6, tokens))
    np.savez(tmp_path / "b" / "emb.npz", mean=np.linspace(0, 1, 6).reshape(2, 3) + 1e-3, cells=np.array([3, 4]))
    problems, _ = compare.compare_trees(tmp_path / "a", tmp_path / "b", strict=True)
    assert problems == ["emb.npz: mean: max abs difference 0.001", "tokens.npy: array: 1 of 12 values differ"]


def test_compare_outputs_of_two_run_roots_fails_on_a_planted_difference(tmp_path, capsys):
    compare = load_ci_module("compare_outputs")
    for run in ("before", "after"):
        root = tmp_path / run
        write_table(root / "results" / "eval" / "scib.csv",
                    pd.DataFrame({"nmi": [0.61, 0.58], "commit": [run, run], "date": ["d1", "d2"]}))
        card = root / "figures" / "table_scorecard.csv"
        card.parent.mkdir(parents=True)
        card.write_text(f"part,source\nscib,{root.as_posix()}/results/eval/scib.csv\n")
    assert compare.main([str(tmp_path / "before"), str(tmp_path / "after"), "--strict"]) == 0
    assert "2 files in the first run, 2 tables, Markdown and arrays compared" in capsys.readouterr().out
    write_table(tmp_path / "after" / "results" / "eval" / "scib.csv",
                pd.DataFrame({"nmi": [0.61, 0.59], "commit": ["x", "x"], "date": ["d", "d"]}))
    assert compare.main([str(tmp_path / "before"), str(tmp_path / "after"), "--strict"]) == 1
    assert "DIFF: eval/scib.csv: column 'nmi': max abs difference 0.01" in capsys.readouterr().err
