"""Check that every job of a Snakemake run went through Slurm and completed there.

    python .ci/slurm/check_slurm_jobs.py --snakemake-log slurm.log --sacct sacct.txt

The Snakemake log gives the number of jobs it ran (``N of N steps (100%) done``), the local
ones among them (``localrule NAME:`` blocks, run on the submitting host) and the Slurm job id of
each submission. The sacct file is the
output of ``sacct -X -n -P -o JobID,JobName,State,ExitCode,AllocCPUS,Comment`` over the run's time window.
Passes when the submitted ids equal the ids sacct lists, every one COMPLETED with exit 0:0, and
their number equals the number of non-local jobs.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

LOCALRULE_BLOCK = re.compile(r"^localrule (\w+):$")
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+)")
STEPS_DONE = re.compile(r"(\d+) of (\d+) steps \(100%\) done")


def parse_snakemake_log(text: str) -> dict:
    """Jobs run (None if the run did not finish), local rule names, submitted Slurm ids."""
    lines = text.splitlines()
    done = STEPS_DONE.findall(text)
    return {
        "jobs_run": int(done[-1][1]) if done else None,
        "local_jobs": [m.group(1) for line in lines if (m := LOCALRULE_BLOCK.match(line.strip()))],
        "submitted_ids": [m.group(1) for line in lines if (m := SUBMITTED.search(line))],
    }


def parse_sacct(text: str) -> list[dict]:
    """Rows of ``sacct -X -n -P -o JobID,JobName,State,ExitCode,AllocCPUS,Comment``."""
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) != 6:
            raise ValueError(
                f"sacct line {line!r}: expected JobID|JobName|State|ExitCode|AllocCPUS|Comment."
            )
        rows.append(
            {
                "id": fields[0],
                "name": fields[1],
                "state": fields[2],
                "exit": fields[3],
                "cpus": fields[4],
                "comment": fields[5],
            }
        )
    return rows


def check(log: dict, sacct_rows: list[dict]) -> list[str]:
    """Problems found (empty when the run is good)."""
    problems = []
    if log["jobs_run"] is None:
        return ["the Snakemake log has no '(100%) done' line: the run did not finish."]
    cluster_jobs = log["jobs_run"] - len(log["local_jobs"])
    if cluster_jobs <= 0:
        problems.append("the Snakemake log shows no non-local job: nothing ran through Slurm.")
    submitted = set(log["submitted_ids"])
    if len(submitted) != cluster_jobs or len(log["submitted_ids"]) != cluster_jobs:
        problems.append(
            f"{cluster_jobs} non-local jobs ran but {len(log['submitted_ids'])} Slurm submissions "
            f"({len(submitted)} distinct ids) were logged."
        )
    listed = {row["id"]: row for row in sacct_rows}
    if missing := sorted(submitted - listed.keys(), key=int):
        problems.append(f"submitted but not in sacct: {', '.join(missing)}.")
    if extra := sorted(listed.keys() - submitted, key=int):
        problems.append(f"in sacct but not submitted by this run: {', '.join(extra)}.")
    for row in sacct_rows:
        if row["state"] != "COMPLETED" or row["exit"] != "0:0":
            problems.append(
                f"Slurm job {row['id']} ({row['comment'] or row['name']}): state {row['state']}, "
                f"exit {row['exit']}; expected COMPLETED 0:0."
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snakemake-log", type=Path, required=True)
    parser.add_argument("--sacct", type=Path, required=True)
    args = parser.parse_args(argv)
    for path in (args.snakemake_log, args.sacct):
        if not path.is_file():
            parser.error(f"{path} does not exist.")
    log = parse_snakemake_log(args.snakemake_log.read_text())
    rows = parse_sacct(args.sacct.read_text())
    problems = check(log, rows)
    for row in rows:
        print(
            f"  slurm job {row['id']:>6}  {row['state']:<10} {row['exit']:<5} cpus={row['cpus']:<3} {row['comment']}"
        )
    print(
        f"{log['jobs_run']} jobs run, {len(log['submitted_ids'])} submitted to Slurm, {len(rows)} in sacct, "
        f"{len(log['local_jobs'])} local ({', '.join(sorted(set(log['local_jobs']))) or '-'})"
    )
    for problem in problems:
        print("PROBLEM:", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
