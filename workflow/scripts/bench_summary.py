"""A short table of what one GPU benchmark call measured (the last thing gpu/h200_bench.sh prints).

    python workflow/scripts/bench_summary.py WORK_DIR
reads WORK_DIR/parts/**/*.csv (final or .partial; a folder per part), WORK_DIR/first_call_*.csv, WORK_DIR/diag.csv.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

SHOWN = ["ours_dense", "ours_padded", "ours_varlen", "tritonsigmoid_dense", "tritonsigmoid_padded",
         "cudnn_sdpa", "fa2_dense", "fa2_varlen", "eager_sigmoid"]


def parts_table(work: Path) -> list[str]:
    files = sorted((work / "parts").rglob("*.csv"))
    if not files:
        return ["parts: none written"]
    df = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    lines = []
    for (hd, pass_), part in df.groupby(["head_dim", "pass"]):
        counts = part["status"].value_counts().to_dict()
        lines.append(f"hd{hd} {pass_}: {len(part)} rows {counts}")
        ok = part[part["status"] == "ok"]
        for (impl, pad), rows in ok.groupby(["impl", "padding_pct"]):
            if impl not in SHOWN:
                continue
            tf = rows.set_index("seq_len")["tflops"].sort_index()
            lines.append(f"  {impl:22s} pad{pad:<2d} TFLOPS " + " ".join(f"{L}:{v:.0f}" for L, v in tf.items()))
    return lines


def first_call_table(work: Path) -> list[str]:
    files = sorted(work.glob("first_call_*.csv"))
    lines = []
    for f in files:
        for _, r in pd.read_csv(f).iterrows():
            lines.append(f"first call {r['mode']:5s}: fwd {r['first_fwd_s']:.1f} s, bwd {r['first_bwd_s']:.1f} s, "
                         f"{r['compiled_kernels']} kernels compiled, cold cache {r['cache_was_empty']}, "
                         f"rel. error {r.get('rel_error', float('nan')):.2g}")
    return lines or ["first call: no rows"]


def diag_table(work: Path) -> list[str]:
    path = work / "diag.csv"
    if not path.exists():
        return ["diag: no rows"]
    df = pd.read_csv(path)
    ok = df[df["status"] == "ok"]
    lines = ["diag (median over rounds, ms): point | before do_bench/graph/host | after do_bench/graph/host"]
    for (impl, hd, pass_, L), rows in ok.groupby(["impl", "head_dim", "pass", "seq_len"], sort=False):
        cells = []
        for mode in ("before", "after"):
            m = rows[rows["mode"] == mode][["ms_median", "ms_graph", "host_ms"]].median()
            cells.append("/".join(f"{v:.3f}" for v in m))
        lines.append(f"  {impl} hd{hd} {pass_} L{L} | {cells[0]} | {cells[1]}")
    bad = df[df["status"] != "ok"]
    if len(bad):
        lines.append(f"  {len(bad)} diag rows failed: {bad['reason'].iloc[0][:120]}")
    return lines


def main(work: Path) -> None:
    for line in first_call_table(work) + diag_table(work) + parts_table(work):
        print(line)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
