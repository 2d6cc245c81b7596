"""Our kernel's variants side by side (issue #16, PERF.md "v2 candidates"): one process per variant.

    python workflow/scripts/bench_variants.py run --variant tma --out DIR --checks CHECKS.csv \
        [--head-dim 64 128] [--pass fwd bwd] [--seq-lens 1024 4096 16384] [--padded-head-dims 64] \
        [--impl ours_dense ours_padded] [--warmup-ms 100] [--rep-ms 250]
    python workflow/scripts/bench_variants.py summary CSV_OR_DIR [...]
    python workflow/scripts/bench_variants.py decide CSV_OR_DIR [...] [--checks variant_checks.csv]
    python workflow/scripts/bench_variants.py collect DIR --out attention_<gpu>_variants.csv
    python workflow/scripts/bench_variants.py decide-diag DIAG.csv [...]
    python workflow/scripts/bench_variants.py graph-gap DIAG.csv [...]
    python workflow/scripts/bench_variants.py power DIAG.csv [...]

``run``: (1) switches sigattn to the variant (``default``, ``tma``, ``fma``, ``tma_fma``, ...:
sigattn.triton_kernels.variant_env) with full autotuning over the variant's own lists; (2) checks
every entry of those lists for each head dim against the fp32 reference with the benchmark's own
correctness gate (scsigmoid.bench.check.check_adapter) at the shortest timed L's shape (16 x 1024
tokens for L = 1K; dense and, where padded points are timed, 25% padded: the checked kernels are
the ones compiled for those points): forward entries one by one, then dQ and dK/dV entries in rounds (the
i-th of each list together) forced through triton_kernels.FORCED_CONFIGS. An entry that fails is
removed from its list before anything is timed (the autotuner cannot choose it; a failed round
removes both of its entries); a kernel left without entries leaves our implementations of that
head dim untimed. The checks go to ``--checks``. (3) times the implementations with
bench_attention.run_parts (rows appended as measured; the harness's gate runs first for each).
Rows of a non-default variant are named ``ours_dense_tma`` etc. Other implementations
(TritonSigmoid, cuDNN) run without the config check. The harness's gate runs at the config
check's shape too (a shape of its own would compile every autotune entry once more).

Repeats: a call may run its processes several times, arms alternated (gpu/h200_kernel_variants.sh
``REPEATS``); the parts of repeat k live under a folder ``rep<k>`` and their rows carry ``repeat``
= k (rows from no such folder: repeat 1). One repeat times each point once, in one process, so its
p20/p80 say nothing of how much a fresh process (its own autotune choice, clocks) moves; the
repeats do.

``collect``: the parts of each repeat merged (harness.merge_parts: a point twice in one repeat is
an error) and stacked into one CSV with a ``repeat`` column.

``summary``: TFLOPS per implementation and point (the median over repeats), each variant of ours
against ``ours_*`` (the default), our best against TritonSigmoid and cuDNN, and our padded against
our dense rows, from the parts (final or ``.partial``); with several repeats the ratios to the
baselines and padded ÷ dense are the median of the repeats' ratios, with their lowest and highest.

``decide``: the pre-registered rules for what the default (per-pass) variant launches
(``RULES``, kernels/PERF.md "Session 14", "Session 15") and issue #16's targets for the default
against the baselines (``TARGETS``), each judged on the parts: at every point of the rule (its
pass and head dims, its layouts where timed, its lengths: L >= a shortest length, or a range lo <=
L < hi) the candidate's speed-up over the base, base median ÷ candidate median, with the range
the timings allow (base p20 ÷ candidate p80 to base p80 ÷ candidate p20). With several repeats
a point's ratio is the median of the repeats' ratios (each repeat's candidate against the same
repeat's base) and its range runs from the lowest repeat's low end to the highest repeat's high
end. A point *meets* the threshold
when the ratio reaches it and the candidate is not slower even at the range's low end (for a
threshold below 1, when the low end reaches the threshold itself), *misses* it when even the
range's high end is below it, and is *unsure* otherwise. Where the rows hold several repeats, a
point meets only if it was timed in every one of them and in at least MEET_REPEATS (a repeat cut
short must not leave the point judged on the repeats that happened to finish; three repeats
are the project's bar for a verdict). The rule is ``met`` when every point
meets it, ``not met`` when a point misses it or an entry of the candidate failed the config check
(``--checks``), ``inconclusive`` otherwise (unsure or missing points).

``decide-diag``: the rules of ``DIAG_RULES`` judged on bench_diag.py rows (gpu/launch_diag.sh: a
process an arm and round; ``round`` is the repeat) twice, on do_bench and on CUDA-graph replays of
the same calls, each as ``decide`` judges; a rule is met only where met on both timings. A rule may
take its range from the repeats' ratios of medians instead of the single calls' p20/p80
(``spread="repeats"``: at least MIN_REPEATS repeats; a point meets where its median ratio reaches
the threshold and no repeat has the candidate slower than the base). Rows timed with bench_diag's
``--scratch fixed`` (a diagnostic arm) are left out of the rules: they judge our launch path as
users run it.

``graph-gap``: a graph replay's time over the same call's do_bench time (bench_diag rows), per arm,
point, descriptor scratch and graph order: the median over rounds with its lowest and highest,
and the median SM clocks of both timings where the rows have them (gpu/README item 15). A
description, no rule.

``power``: whether each arm and point ran power-bound (bench_diag's power columns, timed with a
do_bench window of 2 s or more: NVML's power is a one-second average), by a rule that can say
inconclusive (``power_verdict``), with its clock, power and energy a call; and each of our variants
over the default at the same point (time, clock, energy). Where both are power-bound, time follows
energy a call, not issue rate: a kernel that issues better but spends the same energy is no faster
(gpu/README item 19, kernels/PERF.md "Session 32").
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

from scsigmoid.bench.energy import call_energy_mj

sys.path.insert(0, str(Path(__file__).parent))
from bench_attention import part_path, run_parts  # noqa: E402

CHECK_COLUMNS = ["variant", "head_dim", "kernel", "config", "pass", "padding_pct", "passed", "reason"]
BASELINES = ("tritonsigmoid", "cudnn_sdpa")


def _config_text(config) -> str:
    return ",".join(map(str, config))


def check_shape(tokens: int, hidden: int, seq_lens, head_dim: int):
    """The shape of the config check and of the harness's gate: the shortest timed L's points."""
    from scsigmoid.bench.check import CheckShape
    from scsigmoid.bench.protocol import derive_shape

    shape = derive_shape(tokens, hidden, min(seq_lens), head_dim)
    return CheckShape(batch=shape.batch, seq_len=shape.seq_len, heads=shape.heads)


def _check_forced(forced: dict, pass_: str, head_dim: int, adapters, shape, device: str,
                  dtype) -> tuple[bool, list[dict]]:
    """The gate for each (padding, adapter) with the given kernels' configs forced; a check whose
    launches did not take every forced config (e.g. a fall-back to pointer loads) fails."""
    from sigattn import triton_kernels as tk

    from scsigmoid.bench.check import check_adapter

    tk.FORCED_CONFIGS.clear()
    tk.FORCED_CONFIGS.update(forced)
    results = []
    try:
        for padding, adapter in adapters:
            tk.LAST_CONFIG.clear()
            try:
                ok, reason = check_adapter(adapter, head_dim, padding, pass_, device=device, dtype=dtype,
                                           shape=shape)
            except Exception as exc:  # a config that does not compile or launch
                ok, reason = False, f"{type(exc).__name__}: {exc}".replace("\n", " ")[:300]
            launched = {(c["kernel"], c["config"]) for c in tk.LAST_CONFIG.values() if c["source"] == "forced"}
            missing = [k for k, c in forced.items() if (k, tuple(c)) not in launched]
            if missing and ok:
                ok, reason = False, f"forced {missing} did not launch (launched {sorted(launched)})"
            results.append({"pass": pass_, "padding_pct": padding, "passed": ok, "reason": reason})
    finally:
        tk.FORCED_CONFIGS.clear()
    return all(r["passed"] for r in results), results


def _launch_shape(kernel: str, head_dim: int, shape):
    """The check's shape for a kernel: ``shape`` where the default launches that kernel at it,
    else as many tokens in sequences of a length where it does. Under "tuned" the Gluon kernels
    run over ranges of lengths (triton_kernels.TUNED_WSP, TUNED_WS_FROM: forwards; TUNED_WSB: the
    backward's, triton_kernels.backward_spans): a Gluon kernel outside its range is checked at the
    range's first length, a Triton kernel of the same pass inside one of them at the length halved
    until it is outside all."""
    from sigattn import triton_kernels as tk

    if not tk.TUNED:
        return shape
    cls = tk.head_dim_class(head_dim)
    since = lambda table: (table[cls], float("inf")) if cls in table else None  # noqa: E731
    spans = ({"fwd_wsp": tk.TUNED_WSP.get(cls), "fwd_ws": since(tk.TUNED_WS_FROM)} if kernel.startswith("fwd")
             else tk.backward_spans(head_dim))
    inside = lambda length, span: span is not None and span[0] <= length < span[1]  # noqa: E731
    if kernel in spans:
        if spans[kernel] is None or inside(shape.seq_len, spans[kernel]):
            return shape
        length = spans[kernel][0]
    else:  # a Triton kernel
        length = shape.seq_len
        while length > 16 and any(inside(length, span) for span in spans.values()):
            length //= 2
        if length == shape.seq_len:
            return shape
    return replace(shape, batch=max(1, shape.batch * shape.seq_len // length), seq_len=length)


def check_configs(variant: str, head_dims, padded_head_dims, shapes: dict, device: str, dtype,
                  log=print, passes=("fwd", "bwd")) -> list[dict]:
    """Check every autotune entry of the variant (module doc) at shapes[head_dim]; prune the
    failing ones in place. The dQ and dK/dV entries only where the backward is timed (the
    forward's are checked always: a backward point runs the forward too)."""
    from sigattn import triton_kernels as tk

    from scsigmoid.bench.adapters import OursDense, OursPadded

    rows = []
    for hd in head_dims:
        shape = shapes[hd]
        adapters = [(0, OursDense())] + ([(25, OursPadded())] if hd in padded_head_dims else [])
        forwards, backward = tk.pass_kernels("fwd", hd), tk.pass_kernels("bwd", hd)
        lists = {k: tk.TUNE_TABLE[k][tk.head_dim_class(hd)] for k in (*forwards, *backward)}
        for fwd in forwards:
            fwd_shape = _launch_shape(fwd, hd, shape)
            for config in list(lists[fwd]):
                ok, results = _check_forced({fwd: config}, "fwd", hd, adapters, fwd_shape, device, dtype)
                rows += [{"variant": variant, "head_dim": hd, "kernel": fwd, "config": _config_text(config), **r}
                         for r in results]
                if not ok:
                    lists[fwd].remove(config)
        # the backward's kernels by the shape each launches at (the Gluon backward's from its length)
        groups: dict = {}
        for k in backward:
            groups.setdefault(_launch_shape(k, hd, shape), []).append(k)
        bad = {k: [] for k in backward}
        for bwd_shape, kernels in groups.items():
            n_rounds = max(len(lists[k]) for k in kernels) if all(lists[f] for f in forwards) and "bwd" in passes else 0
            for i in range(n_rounds):
                forced = {k: lists[k][i % len(lists[k])] for k in kernels}
                ok, results = _check_forced(forced, "bwd", hd, adapters, bwd_shape, device, dtype)
                for k, config in forced.items():
                    rows += [{"variant": variant, "head_dim": hd, "kernel": k, "config": _config_text(config), **r}
                             for r in results]
                    if not ok:
                        bad[k].append(config)
        for k, configs in bad.items():
            for config in dict.fromkeys(configs):
                lists[k].remove(config)
        failed = [r for r in rows if r["head_dim"] == hd and not r["passed"]]
        log(f"[variant check] {variant} hd{hd}: {sum(r['head_dim'] == hd for r in rows)} checks, "
            f"{len(failed)} failed; kept " + ", ".join(f"{k}: {len(v)}" for k, v in lists.items()))
    return rows


def run(args, bench: dict) -> None:
    import torch
    from sigattn import triton_kernels as tk

    from scsigmoid.bench.harness import BenchConfig
    from scsigmoid.io import write_csv
    from scsigmoid.provenance import device_slug, provenance

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not args.allow_cpu:
        sys.exit("bench_variants: no CUDA GPU visible; the variant check and timing are GPU-only "
                 "(--allow-cpu: a smoke test under the Triton interpreter).")
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    tk.select_variant(args.variant)
    tk.TUNING = "full"  # every variant autotuned over its own (checked) lists
    print(f"variant {args.variant}: " + ", ".join(f"{p} hd{hd} (TMA, sigmoid) = {tk.pass_variant(p, hd)}"
                                                  for p in ("fwd", "bwd") for hd in args.head_dim)
          + ", fused backward at hd " + str([hd for hd in args.head_dim if tk.fused_backward(hd)])
          + f"; suffix={tk.variant_suffix()!r}", flush=True)
    impls = args.impl
    head_dims = list(args.head_dim)
    shapes = {hd: check_shape(args.tokens, args.hidden, args.seq_lens, hd) for hd in head_dims}
    if any(i.startswith("ours_") for i in impls):
        start = time.perf_counter()
        rows = check_configs(args.variant, head_dims, args.padded_head_dims, shapes, device, dtype,
                             passes=args.passes)
        write_csv(pd.DataFrame(rows, columns=CHECK_COLUMNS).assign(**provenance()), args.checks)
        print(f"wrote {args.checks} ({time.perf_counter() - start:.0f} s)", flush=True)
        empty = {hd for hd in head_dims for p in ("fwd", "bwd") for k in tk.pass_kernels(p, hd)
                 if not tk.TUNE_TABLE[k][tk.head_dim_class(hd)]}
        if empty:
            print(f"variant {args.variant}: no entry of some kernel passed at head dims {sorted(empty)}; "
                  "ours is not timed there (see the checks)", flush=True)
    else:
        empty = set()
    args.out.mkdir(parents=True, exist_ok=True)
    slug = device_slug()
    for hd in head_dims:
        hd_impls = [i for i in impls if not (hd in empty and i.startswith("ours_"))]
        if not hd_impls:
            continue
        cfg = BenchConfig.from_config(bench, tokens_per_batch=args.tokens, hidden=args.hidden,
                                      seq_lens=tuple(args.seq_lens),
                                      paddings=(0, 25) if hd in args.padded_head_dims else (0,),
                                      warmup_ms=args.warmup_ms, rep_ms=args.rep_ms)
        # the harness's gate at the config check's shape: no kernels compiled for a shape not timed
        run_parts(cfg, [hd], args.passes, {(hd, p): part_path(args.out, slug, hd, p) for p in args.passes},
                  impls=hd_impls, allow_cpu=args.allow_cpu, check_shape=shapes[hd])


# ----------------------------------------------------------------------------------------------
# Summary
# ----------------------------------------------------------------------------------------------

REPEAT_DIR = re.compile(r"rep(\d+)$")


def _repeat_of(path: Path) -> int:
    """The repeat a part belongs to: the ``rep<k>`` folder on its path (none: 1)."""
    for parent in path.parents:
        m = REPEAT_DIR.match(parent.name)
        if m:
            return int(m[1])
    return 1


def _part_files(paths) -> list[Path]:
    files = []
    for p in map(Path, paths):
        if not p.exists():
            raise ValueError(f"{p}: no such part CSV or folder of parts")
        files += sorted(p.rglob("attention_*.csv")) if p.is_dir() else [p]
    return files


def read_parts(paths) -> pd.DataFrame:
    """The rows of the parts (or of collected CSVs), each with its ``repeat``."""
    frames = []
    for f in _part_files(paths):
        df = pd.read_csv(f, dtype={"commit": str, "config": str})
        frames.append(df if "repeat" in df else df.assign(repeat=_repeat_of(f)))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def collect(paths) -> tuple[pd.DataFrame, list[str]]:
    """One table of every repeat's merged parts (``repeat`` column), and the merge's notes."""
    from bench_merge import merge_named

    from scsigmoid.bench.harness import POINT_KEY

    by_repeat: dict[int, list[Path]] = {}
    for f in _part_files(paths):
        by_repeat.setdefault(_repeat_of(f), []).append(f)
    if not by_repeat:
        raise ValueError(f"no attention_*.csv parts under {', '.join(map(str, paths))}")
    frames, notes = [], []
    for k, files in sorted(by_repeat.items()):
        merged, part_notes = merge_named(files)
        notes += part_notes
        frames.append(merged.assign(repeat=k))
    table = pd.concat(frames, ignore_index=True)
    return table.sort_values([*POINT_KEY, "repeat"], kind="stable").reset_index(drop=True), notes


def _default_of(impl: str, impls) -> str | None:
    """ours_dense_tma_fma -> ours_dense (the default variant's row), if that impl was measured."""
    for base in sorted((i for i in impls if i.startswith("ours_")), key=len, reverse=True):
        if impl != base and impl.startswith(base + "_"):
            return base
    return None


def _spread(ratios: pd.DataFrame) -> str:
    """' / '-joined ratios, one a length: the median over the repeats (rows), with [lowest-highest]
    when there are several."""
    cells = []
    for L in ratios.columns:
        r = ratios[L].dropna()
        if r.empty:
            cells.append("-")
        elif len(r) == 1:
            cells.append(f"{r.iloc[0]:.2f}")
        else:
            cells.append(f"{r.median():.2f} [{r.min():.2f}-{r.max():.2f}]")
    return " / ".join(cells)


def summary_lines(df: pd.DataFrame) -> list[str]:
    if df.empty:
        return ["no rows"]
    if "repeat" not in df:
        df = df.assign(repeat=1)
    ok = df[df["status"] == "ok"]
    repeats = sorted(ok["repeat"].unique())
    lines = [f"{len(repeats)} repeats (arms alternated): TFLOPS the median over repeats, ratios to the baselines "
             "the median of the repeats' ratios [lowest-highest]"] if len(repeats) > 1 else []
    for (hd, pass_, pad), part in ok.groupby(["head_dim", "pass", "padding_pct"]):
        tf = part.pivot_table(index="impl", columns="seq_len", values="tflops", aggfunc="median")
        lengths = list(tf.columns)
        lines.append(f"hd{hd} {pass_} pad{pad}: TFLOPS at L = {' / '.join(map(str, lengths))}")
        ours = [i for i in tf.index if i.startswith("ours_")]
        for impl in ours + [i for i in tf.index if not i.startswith("ours_")]:
            cells = " / ".join("-" if pd.isna(v) else f"{v:.0f}" for v in tf.loc[impl])
            base = _default_of(impl, tf.index)
            ratio = ""
            if base is not None:
                ratio = "  x" + " / ".join("-" if pd.isna(r) else f"{r:.2f}" for r in tf.loc[impl] / tf.loc[base])
                ratio += f" vs {base}"
            lines.append(f"  {impl:26s} {cells}{ratio}")
        if ours:
            # per repeat: the best of ours over that repeat's baseline row
            by_rep = part.pivot_table(index=["repeat", "impl"], columns="seq_len", values="tflops", aggfunc="first")
            best = by_rep[by_rep.index.get_level_values("impl").isin(ours)].groupby(level="repeat").max()
            for name in tf.index:
                if name.startswith(BASELINES):
                    base_rows = by_rep.xs(name, level="impl").reindex(best.index)
                    lines.append(f"  best of ours / {name}: {_spread(best / base_rows)}")
    # padded ÷ dense of each of our variants timed in both layouts (issues #15/#16: >= 0.9 / 0.95)
    for (hd, pass_), part in ok[ok["impl"].astype(str).str.startswith("ours_padded")].groupby(["head_dim", "pass"]):
        for padded_impl in sorted(part["impl"].unique()):
            dense_impl = padded_impl.replace("ours_padded", "ours_dense", 1)
            both = ok[(ok["head_dim"] == hd) & (ok["pass"] == pass_)]
            tf = both.pivot_table(index=["repeat", "impl"], columns="seq_len", values="tflops", aggfunc="first")
            impls = tf.index.get_level_values("impl")
            if dense_impl not in impls:
                continue
            ratio = tf[impls == padded_impl].droplevel("impl") / tf[impls == dense_impl].droplevel("impl")
            lines.append(f"hd{hd} {pass_} {padded_impl} / {dense_impl} (TFLOPS of real tokens) at L = "
                         f"{' / '.join(map(str, ratio.columns))}: {_spread(ratio)}")
    not_tma = ok["impl"].astype(str).str.contains("_tma") & ~ok["config"].fillna("").astype(str).str.contains("_tma@")
    for _, r in ok[not_tma].iterrows():
        lines.append(f"warning: {r['impl']} hd{r['head_dim']} {r['pass']} L{r['seq_len']} ran {r['config']!r}, "
                     "not the TMA kernels")
    bad = df[~df["status"].isin(["ok", "unsupported"])].assign(reason=lambda d: d["reason"].astype(str).str[:120])
    for (impl, status, reason), rows in bad.groupby(["impl", "status", "reason"], sort=False):
        points = ", ".join(f"hd{r['head_dim']} {r['pass']} pad{r['padding_pct']} L{r['seq_len']}"
                           for _, r in rows.head(3).iterrows()) + (f" and {len(rows) - 3} more" if len(rows) > 3 else "")
        lines.append(f"not ok: {impl} {status} ({points}): {reason}")
    return lines


# ----------------------------------------------------------------------------------------------
# Decision rules
# ----------------------------------------------------------------------------------------------

#: (name, pass, head dims, candidate variant, base variant, threshold, shortest L): what the
#: default per-pass variant (triton_kernels.TUNED_VARIANTS) launches is switched to the candidate
#: where its rule is met. Written before the call that decides them (kernels/PERF.md "Session 14").
# Judged by session 15's call (results/bench/variants_s15/summary.txt, kernels/PERF.md "Session 15"):
# tma_mixed for the hd64 backward's tma: not met; mixed for the hd128 backward: not met; halley
# for the forward's fma: inconclusive; bf16x2 for halley: inconclusive; tma_bf16x2: not met.
# Judged by session 17's calls (an H100: no H200 came; results/bench/variants_s17_h100_{fwd,bwd}/,
# PERF.md "Session 17"): bf16x2 for the default's forward, hd64 and hd128: met (so the default's
# forward is bf16x2 since 1c1066426c84); halley: inconclusive again; bf16x2 for halley:
# inconclusive; every fused-backward rule: not met (tma_fused hd64 0.85x at 1K, 1.01x / 1.07x
# dense 4K / 16K; fused hd128 0.84-0.94x). For the next call (pre-registered in session 17): the
# forward switch was judged on an H100, so an H200 call judges it again against the FMA-pipe
# forward it replaced, the same bar; not met there, TUNED_VARIANTS' forward goes back to fma.
# Session 19 (an H100 again, results/bench/variants_s19_h100_*): no call timed fma, so these
# rules wait for the H200; TARGETS judged over three repeats (kernels/PERF.md "Session 19").
# Session 22 (two H100 calls, three repeats each, results/bench/variants_s22_h100_ws{,_fma}/):
# the Gluon forward over the default: not met at hd64 (0.66-0.94x) nor hd128 (0.93-0.95x at 1K,
# 1.04-1.05x at 4K "unsure", 1.11x at 16K); #16's forward targets with it at hd128: met; bf16x2
# over fma: met at hd64, inconclusive at hd128 (on H100 rows). Written after those calls and
# before the call that judges it: the Gluon forward at hd128 from L = 8K on (a length switch of
# the default's forward: the 1K-4K points above stay the Triton forward's), judged on fresh
# repeats at L = 8K and 16K, dense and padded (kernels/PERF.md "Session 22").
# Since the default takes the Gluon forward at hd128 from 8K on, the bf16x2-over-fma rules compare
# the Triton forward's two sigmoids as single variants (bf16x2 is what the default's Triton forward
# launches; until session 22 the candidate was "default", the same kernel at every L then).
RULES = [
    ("forward hd64: the default's bf16x2 stays over fma (H200)", "fwd", (64,), "bf16x2", "fma", 1.05, 4096),
    ("forward hd128: the default's bf16x2 stays over fma (H200)", "fwd", (128,), "bf16x2", "fma", 1.05, 4096),
    # session 21, written before its first GPU run: the warp-specialised Gluon forward becomes the
    # default's forward at a head dim where it is >= 1.05x the default at every L >= 1K, dense
    # and padded; and whether it would meet #16's forward targets where the default does not
    # (their base since session 22: "bf16x2", the Triton forward the default launched at every L
    # when they were judged; the default itself now launches the Gluon one at hd128 from 8K on)
    ("forward hd64: the Gluon forward (ws_bf16x2) over the default", "fwd", (64,), "ws_bf16x2", "bf16x2", 1.05, 1024),
    ("forward hd128: the Gluon forward (ws_bf16x2) over the default", "fwd", (128,), "ws_bf16x2", "bf16x2", 1.05,
     1024),
    *((f"#16 fwd hd{hd} with the Gluon forward: >= 1.1x TritonSigmoid", "fwd", (hd,), "ws_bf16x2", "tritonsigmoid",
       1.1, 1024) for hd in (64, 128)),
    ("#16 fwd hd128 with the Gluon forward: >= 0.85x cuDNN softmax", "fwd", (128,), "ws_bf16x2", "cudnn_sdpa", 0.85,
     4096, ("dense",)),
    ("forward hd128, L >= 8K: the Gluon forward (ws_bf16x2) over the default", "fwd", (128,), "ws_bf16x2", "bf16x2",
     1.05, 8192),
    # session 22, written before any GPU run of it: the persistent Gluon forward (wsp_bf16x2)
    # becomes the default's forward at a head dim where it is >= 1.05x the Triton forward at every
    # L >= 1K (dense and padded), and, at hd128, replaces the Gluon forward from 8K on only where
    # it is not slower than it there (kernels/PERF.md "Session 22", the prediction)
    *((f"forward hd{hd}: the persistent Gluon forward (wsp_bf16x2) over the Triton forward", "fwd", (hd,),
       "wsp_bf16x2", "bf16x2", 1.05, 1024) for hd in (64, 128)),
    ("forward hd128, L >= 8K: the persistent Gluon forward over the Gluon forward", "fwd", (128,), "wsp_bf16x2",
     "ws_bf16x2", 1.0, 8192),
    # session 24, written after its first call (the rule above not met: hd128 1.06-1.12x the Triton
    # forward at L = 1K and 4K, dense and padded, 0.99x padded at 16K) and judged on a second: the
    # persistent form becomes the default's forward at hd128 for 1K <= L < 8K (triton_kernels.TUNED_WSP);
    # judged inconclusive there (kernels/PERF.md "Session 24"), so TUNED_WSP stays empty.
    # Session 25: judged again, unchanged, on v1.7 (4- and 5-slot entries whose K and V shared a
    # slot's barriers; written before its first GPU run): inconclusive again, the entries removed
    # since (kernels/PERF.md "Session 25")
    ("forward hd128, 1K <= L < 8K: the persistent Gluon forward over the Triton forward", "fwd", (128,),
     "wsp_bf16x2", "bf16x2", 1.05, (1024, 8192)),
    # session 25, written after its first call (v1.7: the per-sequence Gluon forward at hd128 1.085x
    # [1.038, 1.146] dense and 1.070x [1.006, 1.158] padded the Triton forward at L = 4K, 0.93-1.02x
    # at 1K-2K) and judged on a fresh call: the default takes the Gluon forward at hd128 from L = 4K
    # on (triton_kernels.TUNED_WS_FROM 8192 -> 4096) if it is >= 1.05x the Triton forward at every
    # L >= 4K, dense and padded (kernels/PERF.md "Session 25"). Judged in session 26 on an H100:
    # inconclusive (padded 4K 1.057x [0.858, 1.297], one jittery repeat), TUNED_WS_FROM unchanged
    ("forward hd128, L >= 4K: the Gluon forward (ws_bf16x2) over the Triton forward", "fwd", (128,), "ws_bf16x2",
     "bf16x2", 1.05, 4096),
    # Session 26: a warp-specialised Gluon dQ kernel (v1.8, variant word "wsdq") had three rules
    # written before its first GPU run (its backward >= 1.03x the default's at every L >= 1K, hd128
    # and hd64, and #16's hd128 backward target with it). Judged on an H100 at hd128: not met
    # (0.92-1.00x; its 4-warp entries wrong, NaN, so failed checks too), the kernel and its rules
    # removed (kernels/PERF.md "Session 26", results/bench/variants_s26_h100_wsdq/).
    # Session 29, written before the first GPU run of the "qreg" variant (Q in the forward, Q and dO in
    # the dQ kernel kept in registers as their wgmmas' A operand; kernels/PERF.md "Session 29", the
    # prediction): the default takes qreg in a pass at a head dim where it is >= 1.03x the default at
    # every L the rule names, dense and padded (the backward at L >= 1K; the forward where the default
    # launches the Triton forward: hd64 at L >= 1K, hd128 at 1K <= L < 8K); and #16's targets with it.
    ("backward hd128: Q and dO in registers (qreg) over the default", "bwd", (128,), "qreg", "default", 1.03, 1024),
    ("backward hd64: Q and dO in registers (tma_qreg) over the default", "bwd", (64,), "tma_qreg", "default", 1.03,
     1024),
    ("forward hd128, 1K <= L < 8K: Q in registers (qreg_bf16x2) over the default", "fwd", (128,), "qreg_bf16x2",
     "default", 1.03, (1024, 8192)),
    ("forward hd64: Q in registers (qreg_bf16x2) over the default", "fwd", (64,), "qreg_bf16x2", "default", 1.03,
     1024),
    ("#16 bwd hd128 with qreg: >= 1.1x TritonSigmoid", "bwd", (128,), "qreg", "tritonsigmoid", 1.1, 1024),
    # Judged in session 29 on one point (an H100, hd128 dense 4K, three repeats,
    # results/bench/variants_s29_h100_qreg/): the backward's qreg rule not met (x0.964, every repeat
    # slower). Written after that and before any run of kvreg (replacing the qreg_kvreg rules written
    # with qreg, which the dQ kernel's loss would decide): the dK/dV kernel's K and V in registers alone
    ("backward hd128: K and V in registers (kvreg) over the default", "bwd", (128,), "kvreg", "default", 1.03, 1024),
    ("#16 bwd hd128 with kvreg: >= 1.1x TritonSigmoid", "bwd", (128,), "kvreg", "tritonsigmoid", 1.1, 1024),
    ("#16 fwd hd128 with qreg_bf16x2, 4K <= L < 8K: >= 0.85x cuDNN softmax", "fwd", (128,), "qreg_bf16x2",
     "cudnn_sdpa", 0.85, (4096, 8192), ("dense",)),
    # Judged in session 31 (an H100, three repeats, results/bench/variants_s31_h100_regs/): kvreg and
    # qreg_bf16x2 not met. Written in session 31 before any run of v1.10 (the TMA lists at hd128 given
    # the pointer kernels' measured tiles; kernels/PERF.md "Session 31", the prediction): the default
    # takes `tma` for the hd128 backward where it is >= 1.03x the default at every L >= 1K, dense and
    # padded; and #16's hd128 backward target with it.
    ("backward hd128: descriptors (tma) with the pointer kernels' tiles over the default", "bwd", (128,), "tma",
     "default", 1.03, 1024),
    ("#16 bwd hd128 with tma: >= 1.1x TritonSigmoid", "bwd", (128,), "tma", "tritonsigmoid", 1.1, 1024),
    # Judged in session 32 (an H100, results/bench/variants_s32_h100_item18/): not met. Written in
    # session 33 before any GPU run of v1.11, the warp-specialised Gluon backward (variant word "wsb":
    # five matmuls a tile pair in one kernel, dQ by atomics; kernels/PERF.md "Session 33", the
    # prediction): the default takes it for the backward at a head dim where it is >= 1.05x the
    # default at every L >= 1K, dense and padded; and #16's backward targets with it. Judged in
    # session 33 on an H100 (results/bench/variants_s33_h100_wsb/): not met, 0.55-0.78x the default.
    # Kept, unchanged, for v1.12 (the same variant word: dQ by `red` instead of `atom`), written
    # before any GPU run of it (kernels/PERF.md "Session 33", its prediction: most likely not met).
    *((f"backward hd{hd}: the Gluon backward (wsb) over the default", "bwd", (hd,), "wsb", "default", 1.05, 1024)
      for hd in (128, 64)),
    *((f"#16 bwd hd{hd} with wsb: >= 1.1x TritonSigmoid", "bwd", (hd,), "wsb", "tritonsigmoid", 1.1, 1024)
      for hd in (128, 64)),
    # Session 34, written before any GPU run of v1.13 (variant word "wsbt": the same kernel adding
    # each tile's dQ by one TMA reduction from shared memory, issued a tile later; kernels/PERF.md
    # "Session 34", the prediction): the default takes it for the backward at hd128 where it is
    # >= 1.05x the default at every L >= 1K, dense and padded; whether the TMA reductions beat
    # `red` (>= 1.03x wsb, dense); and #16's hd128 backward target with it. Judged in session 34 on
    # an H100 (results/bench/variants_s34_h100_wsbt/, dense): not met at 1K (x0.97; 1.18 / 1.29 at
    # 4K / 16K); over wsb met (x1.12-1.32); #16's not met at 1K (x1.02).
    ("backward hd128: the Gluon backward, dQ by TMA reductions (wsbt), over the default", "bwd", (128,), "wsbt",
     "default", 1.05, 1024),
    ("backward hd128: dQ by TMA reductions (wsbt) over dQ by red (wsb)", "bwd", (128,), "wsbt", "wsb", 1.03, 1024,
     ("dense",)),
    ("#16 bwd hd128 with wsbt: >= 1.1x TritonSigmoid", "bwd", (128,), "wsbt", "tritonsigmoid", 1.1, 1024),
    # Session 34, written after its first call (an H100, results/bench/variants_s34_h100_wsbt/, dense
    # only: wsbt 0.97x the default at 1K, 1.19x at 4K, 1.29x at 16K) and judged on a second: the
    # default takes wsbt for the hd128 backward from L = 4K on where it is >= 1.05x the default at
    # every L >= 4K, dense and padded. Judged in session 34 on the same H100
    # (results/bench/variants_s34_h100_wsbt_from4k/): met (dense x1.21 / 1.29, padded x1.21 / 1.27),
    # so the default takes it there (triton_kernels.TUNED_WSB).
    ("backward hd128, L >= 4K: dQ by TMA reductions (wsbt) over the default", "bwd", (128,), "wsbt", "default",
     1.05, 4096),
    # Session 34, written before any run at L = 2K (gpu/README item 24): the default's switch moves
    # to 2K (TUNED_WSB: wsbt from 2048) if wsbt is >= 1.05x the default there, dense and padded.
    ("backward hd128, 2K <= L < 4K: dQ by TMA reductions (wsbt) over the default", "bwd", (128,), "wsbt",
     "default", 1.05, (2048, 4096)),
    # Session 35, written before any run of dQ's one-pass epilogue (triton_kernels.dq_from_accumulator;
    # kernels/PERF.md "Session 35", the prediction: 1.03-1.09x at 1K): the switch moves to 1K
    # (TUNED_WSB: wsbt from 1024) if wsbt is >= 1.05x the default there, dense and padded.
    ("backward hd128, 1K <= L < 2K: dQ by TMA reductions (wsbt) over the default", "bwd", (128,), "wsbt",
     "default", 1.05, (1024, 2048)),
    # Session 35, written before any GPU run of v1.14 (variant word "wsbp": wsbt's persistent form,
    # one program an SM over (key block, sequence, head) items; kernels/PERF.md "Session 35", its
    # prediction): the default takes it at hd128 from 1K if it is >= 1.05x the default there, dense
    # and padded; in place of wsbt from 2K on if it is at least wsbt's speed there (>= 1.0x, every
    # repeat); and #16's hd128 backward target with it. Judged in session 35 on an H100
    # (results/bench/variants_s35_h100_wsbp/): not met (dense x1.134 at 1K, padded x0.99: its static
    # schedule); kept, unchanged, for v1.15 (the same variant word, its items handed out by a
    # counter), written before any GPU run of it. Judged in session 36 on an H100
    # (results/bench/variants_s36_h100_item27/): 1K met (x1.14 dense, x1.09 padded), 2K met (x1.02 /
    # 1.04 wsbt), #16's met (x1.18 / 1.28 TritonSigmoid dense, x1.18 / 1.32 padded at 1K / 2K); at
    # 4K-16K (variants_s36_h100_wsbp_long/) over wsbt inconclusive (x0.98-1.02), so the default
    # takes wsbp from 1K to 4K and keeps wsbt from 4K (triton_kernels.TUNED_WSB).
    ("backward hd128, 1K <= L < 2K: the persistent Gluon backward (wsbp) over the default", "bwd", (128,), "wsbp",
     "default", 1.05, (1024, 2048)),
    ("backward hd128, L >= 2K: the persistent Gluon backward (wsbp) over the per-sequence one (wsbt)", "bwd",
     (128,), "wsbp", "wsbt", 1.0, 2048),
    ("#16 bwd hd128 with wsbp: >= 1.1x TritonSigmoid", "bwd", (128,), "wsbp", "tritonsigmoid", 1.1, 1024),
]


#: Rules judged on bench_diag.py's rows (gpu/launch_diag.sh: one process an arm and repeat, arms
#: alternated) on two timings, each by judge(): do_bench (the protocol) and CUDA-graph replays of
#: the same calls (the GPU time without the host's launch path); met only where met on both, not
#: met where not met on either (decide_diag_lines). Items as RULES', with an optional 8th (the
#: layouts) and 9th (judge()'s spread, default "p20p80").
DIAG_RULES = [
    # Session 27, gpu/README item 14, written before its first call: the default takes the Gluon
    # forward at hd128 from L = 4K on (triton_kernels.TUNED_WS_FROM 8192 -> 4096) if it is >= 1.05x
    # the Triton forward at every L >= 4K, dense and padded (session 26: 1.10x in ncu kernel time at
    # 4K in both layouts; do_bench inconclusive on one jittery padded repeat). Judged on that call
    # (an H100, 3 repeats): inconclusive; graph met, do_bench's padded 4K range [0.952, 1.267]
    # although each repeat gave x1.06-1.09: both arms' padded rows had p20-p80 spreads of 6-19 %
    # of their median under do_bench (kernels/PERF.md "Session 27"). Judged again in the second
    # call (an H200, 5 rounds): inconclusive (graph dense 4K x1.040, unsure).
    ("forward hd128, L >= 4K: the Gluon forward (ws_bf16x2) over the Triton forward, do_bench and graph", "fwd",
     (128,), "ws_bf16x2", "bf16x2", 1.05, 4096),
    # Session 27, written after that call and before the next: the same switch judged with the
    # range of the repeats' ratios of medians (spread "repeats", >= MIN_REPEATS repeats) in place
    # of the single calls' p20-p80, since the p20-p80 of a padded point measures how single calls
    # scatter (in both arms alike), not how well its median is known. Judged in session 27's
    # second call (an H200): not met (graph dense 4K x1.040 [1.025, 1.046], every round below
    # 1.05; do_bench met everywhere), so TUNED_WS_FROM stays 8K.
    ("forward hd128, L >= 4K: the Gluon forward over the Triton forward, repeats' range", "fwd", (128,),
     "ws_bf16x2", "bf16x2", 1.05, 4096, ("dense", "padded"), "repeats"),
    # #16's forward target with the Gluon forward at hd128 (what the default would launch from 4K
    # on), dense as in TARGETS, judged the same way; met in that call (x0.93-0.99 do_bench,
    # x0.88-0.95 graph)
    ("#16 fwd hd128 with the Gluon forward: >= 0.85x cuDNN softmax, repeats' range", "fwd", (128,), "ws_bf16x2",
     "cudnn_sdpa", 0.85, 4096, ("dense",), "repeats"),
]
#: bench_diag's columns that stand for judge()'s ms_median / ms_p20 / ms_p80 in each timing.
DIAG_TIMINGS = {"do_bench": ("ms_median", "ms_p20", "ms_p80"),
                "graph": ("ms_graph", "ms_graph_p20", "ms_graph_p80")}


def diag_timing(diag: pd.DataFrame, timing: str) -> pd.DataFrame:
    """bench_diag rows (current path) as judge() reads them under one timing: ``round`` is the
    repeat, the timing's columns the medians and spreads."""
    rows = diag[diag["mode"] == "after"] if "mode" in diag else diag
    median, p20, p80 = DIAG_TIMINGS[timing]
    out = rows.drop(columns=["ms_median", "ms_p20", "ms_p80", "repeat"], errors="ignore").rename(
        columns={"round": "repeat"})
    return out.assign(ms_median=rows[median], ms_p20=rows[p20], ms_p80=rows[p80])


def decide_diag_lines(diag: pd.DataFrame, rules=DIAG_RULES) -> list[str]:
    """Each rule judged on both timings of bench_diag rows, then its verdict: met where met on
    both, not met where not met on either, else inconclusive. Rows of a fixed-scratch arm
    (``scratch`` column "fixed") are not judged."""
    if "scratch" in diag:
        diag = diag[diag["scratch"].fillna("torch") != "fixed"]
    devices = sorted(diag["device"].dropna().astype(str).unique()) if "device" in diag else []
    lines = [f"rules judged on bench_diag rows of: {', '.join(devices) or 'an unnamed device'}, "
             f"{diag['round'].nunique()} repeat(s), timings {' and '.join(DIAG_TIMINGS)}"]
    for name, pass_, head_dims, candidate, base, threshold, lengths, *rest in rules:
        verdicts, detail = {}, []
        for timing in DIAG_TIMINGS:
            verdict, points = judge(diag_timing(diag, timing), pass_, head_dims, candidate, base, threshold,
                                    lengths, 0, *rest)
            verdicts[timing] = verdict
            detail += [f"  {timing}: {verdict}", *(f"  {p}" for p in points)]
        states = set(verdicts.values())
        overall = ("met" if states == {"met"} else "not met" if any(v.startswith("not met") for v in states)
                   else "inconclusive")
        lines += [f"rule {name} (>= x{threshold} at {_span_text(lengths)}): {overall}", *detail]
    return lines


def graph_gap_lines(diag: pd.DataFrame) -> list[str]:
    """ms_graph ÷ ms_median of each bench_diag row that has both, by arm (variant, scratch), point
    and graph order: the median over rounds [lowest, highest] and the rounds counted."""
    rows = diag[(diag["status"] == "ok") & diag["ms_graph"].notna() & diag["ms_median"].notna()].copy()
    if rows.empty:
        return ["graph-gap: no row has both a do_bench and a graph time"]
    for column, default in (("scratch", "torch"), ("graph_order", "after")):
        rows[column] = rows[column].fillna(default) if column in rows else default
    rows["gap"] = rows["ms_graph"] / rows["ms_median"]
    lines = ["graph replay ÷ do_bench (median over rounds [lowest, highest], rounds)"]
    keys = ["variant", "scratch", "impl", "padding_pct", "seq_len", "graph_order"]
    for key, group in rows.groupby(keys, sort=True):
        text = " ".join(f"{k}={v}" for k, v in zip(keys, key, strict=True))
        clocks = ""
        if {"sm_mhz", "sm_mhz_graph"} <= set(group) and group[["sm_mhz", "sm_mhz_graph"]].notna().all(axis=None):
            clocks = f", SM {group['sm_mhz'].median():.0f} / {group['sm_mhz_graph'].median():.0f} MHz"
        lines.append(f"  {text}: x{group['gap'].median():.3f} [{group['gap'].min():.3f}, {group['gap'].max():.3f}]"
                     f" n={len(group)}{clocks}")
    return lines


#: Whether a timed call ran power-bound (power_lines): in every round the clocks held down by a
#: power reason in >= POWER_BOUND_SHARE of the samples and the board's power >= POWER_BOUND_DRAW of
#: its limit; not power-bound: capped in <= POWER_FREE_SHARE of the samples in every round.
POWER_BOUND_SHARE, POWER_BOUND_DRAW, POWER_FREE_SHARE = 0.9, 0.95, 0.1


def power_verdict(group: pd.DataFrame) -> str:
    """power-bound / not power-bound / inconclusive / not measured, for one arm and point's rounds."""
    rows = group.dropna(subset=["power_w", "power_capped", "power_limit_w"]) \
        if {"power_w", "power_capped", "power_limit_w"} <= set(group) else group.iloc[:0]
    if rows.empty or len(rows) < len(group):
        return "not measured" if rows.empty else f"inconclusive ({len(group) - len(rows)} round(s) without power)"
    if ((rows["power_capped"] >= POWER_BOUND_SHARE) & (rows["power_w"] >= POWER_BOUND_DRAW * rows["power_limit_w"])).all():
        return "power-bound"
    if (rows["power_capped"] <= POWER_FREE_SHARE).all():
        return "not power-bound"
    return "inconclusive"


def power_lines(diag: pd.DataFrame) -> list[str]:
    """Per arm (variant, impl) and point, over rounds (medians): time a call, SM clock, board power,
    capped share, energy a call (power x time) and the power verdict; then each of our variants
    against the default at the same point: time, clock and energy ratios. Where two arms are
    power-bound, time follows energy a call, not issue rate."""
    rows = diag[diag["status"] == "ok"].copy()
    if "mode" in rows:
        rows = rows[rows["mode"] == "after"]
    if rows.empty:
        return ["power: no ok rows"]
    for column in ("power_w", "power_capped", "power_limit_w", "sm_mhz"):
        if column not in rows:
            rows[column] = float("nan")
    rows["energy_mj"] = call_energy_mj(rows)
    devices = sorted(rows["device"].dropna().astype(str).unique()) if "device" in rows else []
    lines = [f"power while do_bench ran ({', '.join(devices) or 'an unnamed device'}; medians over rounds): "
             f"power-bound = capped in >= {POWER_BOUND_SHARE:.0%} of the samples and >= {POWER_BOUND_DRAW:.0%} "
             "of the limit in every round"]
    keys = ["variant", "impl", "head_dim", "pass", "padding_pct", "seq_len"]
    med = {}
    for key, group in rows.groupby(keys, sort=True):
        m = group[["ms_median", "sm_mhz", "power_w", "power_capped", "power_limit_w", "energy_mj"]].median()
        med[key] = m
        lines.append(f"  {key[1]}{'' if key[0] == 'default' else ' (' + key[0] + ')'} hd{key[2]} {key[3]} "
                     f"pad{key[4]} L{key[5]}: {m['ms_median']:.3f} ms, SM {m['sm_mhz']:.0f} MHz, "
                     f"{m['power_w']:.0f} / {m['power_limit_w']:.0f} W, capped {m['power_capped']:.0%}, "
                     f"{m['energy_mj']:.0f} mJ a call, n={len(group)}: {power_verdict(group)}")
    for key, m in med.items():
        variant, impl = key[0], key[1]
        base_impl = impl.removesuffix(f"_{variant}")  # ours_dense_tma's default row: ours_dense
        base = med.get(("default", base_impl, *key[2:]))
        if variant == "default" or base is None:
            continue
        lines.append(f"  {key[0]} / default, {key[1]} hd{key[2]} {key[3]} pad{key[4]} L{key[5]}: time "
                     f"x{m['ms_median'] / base['ms_median']:.3f}, SM clock x{m['sm_mhz'] / base['sm_mhz']:.3f}, "
                     f"energy a call x{m['energy_mj'] / base['energy_mj']:.3f}")
    return lines


#: Issue #16's targets for what the default launches, judged against the baselines of the same
#: call (and repeat) by the same test as RULES; not a switch of the default, a verdict on the issue.
#: An 8th item names the layouts judged (default: dense and padded).
TARGETS = [
    (f"#16 {pass_} hd{hd}: the default >= 1.1x TritonSigmoid", pass_, (hd,), "default", "tritonsigmoid", 1.1, 1024)
    for pass_ in ("fwd", "bwd") for hd in (64, 128)
] + [("#16 fwd hd128: the default >= 0.85x cuDNN softmax", "fwd", (128,), "default", "cudnn_sdpa", 0.85, 4096,
      ("dense",))]

#: The baselines a rule may name as its base, and their benchmark row name in a layout.
_BASELINE_IMPL = {"tritonsigmoid": "tritonsigmoid_{layout}", "cudnn_sdpa": "cudnn_sdpa"}


def _impl_of(layout: str, variant: str) -> str:
    """The benchmark row name of our kernel's ``variant`` in a layout (ours_dense,
    ours_padded_tma_mixed), or of a baseline (tritonsigmoid_padded, cudnn_sdpa)."""
    if variant in _BASELINE_IMPL:
        return _BASELINE_IMPL[variant].format(layout=layout)
    return f"ours_{layout}" + ("" if variant == "default" else f"_{variant}")


def _span(lengths) -> tuple[float, float]:
    """A rule's lengths: L >= an int, or lo <= L < hi for a (lo, hi) pair."""
    return (lengths, float("inf")) if isinstance(lengths, int) else tuple(lengths)


def _span_text(lengths) -> str:
    lo, hi = _span(lengths)
    return f"L >= {lo}" if hi == float("inf") else f"{lo} <= L < {hi}"


#: judge()'s range of a point: "p20p80" (the lowest base p20 / candidate p80 to the highest base
#: p80 / candidate p20 over the repeats: the spread of single calls) or "repeats" (the lowest to
#: the highest repeat's ratio of medians: how far the measurement of the median moved between
#: processes; needs MIN_REPEATS repeats, else the point is unsure).
SPREADS = ("p20p80", "repeats")
MIN_REPEATS = 5
#: with repeats in the rows: the fewest a point needs to *meet* a rule (it also needs every repeat
#: the rows hold). A single-call table (one repeat) is judged on its p20/p80 as before; decide_lines
#: heads its verdicts with that
MEET_REPEATS = 3


def judge(df: pd.DataFrame, pass_: str, head_dims, candidate: str, base: str, threshold: float,
          lengths=0, failed_checks: int = 0, layouts=("dense", "padded"),
          spread: str = "p20p80") -> tuple[str, list[str]]:
    """(verdict, one line a point) of one rule on benchmark rows (see the module docstring);
    ``lengths`` the rule's: an int (L >= it) or a (lo, hi) pair (lo <= L < hi); ``spread`` a
    point's range (SPREADS)."""
    if spread not in SPREADS:
        raise ValueError(f"spread {spread!r}: expected one of {SPREADS}")
    if "repeat" not in df:
        df = df.assign(repeat=1)
    lo, hi = _span(lengths)
    ok = df[(df["status"] == "ok") & (df["pass"] == pass_) & df["head_dim"].isin(head_dims)
            & (df["seq_len"] >= lo) & (df["seq_len"] < hi)]
    point = ["head_dim", "padding_pct", "seq_len"]
    n_repeats = df["repeat"].nunique()
    untimed = [v for v in (candidate, base) if not ok["impl"].isin([_impl_of(la, v) for la in layouts]).any()]
    if untimed:  # a rule about a variant this call did not time: no point lines
        return f"inconclusive (not timed here: {' and '.join(untimed)})", []
    lines, states = [], []
    for layout in layouts:
        padded = ok["padding_pct"] > 0
        rows = ok[padded] if layout == "padded" else ok[~padded]
        base_rows = rows[rows["impl"] == _impl_of(layout, base)]
        cand_rows = rows[rows["impl"] == _impl_of(layout, candidate)]
        pairs = base_rows.merge(cand_rows, on=[*point, "repeat"], suffixes=("_b", "_c"))
        for hd, pad, L in sorted(set(map(tuple, pd.concat([base_rows, cand_rows])[point].to_numpy().tolist()))):
            where = f"hd{hd} {layout} L{L}"
            mine = pairs[(pairs["head_dim"] == hd) & (pairs["padding_pct"] == pad) & (pairs["seq_len"] == L)]
            if mine.empty:
                absent = [_impl_of(layout, v) for v, r in ((candidate, cand_rows), (base, base_rows))
                          if not ((r["head_dim"] == hd) & (r["padding_pct"] == pad) & (r["seq_len"] == L)).any()]
                states.append("missing")
                lines.append(f"  {where}: {' and '.join(absent) or 'no repeat with both'} not measured")
                continue
            ratios = mine["ms_median_b"] / mine["ms_median_c"]
            ratio = float(ratios.median())
            if spread == "repeats":
                low, high = float(ratios.min()), float(ratios.max())
            else:
                low = float((mine["ms_p20_b"] / mine["ms_p80_c"]).min())
                high = float((mine["ms_p80_b"] / mine["ms_p20_c"]).max())
            state = ("meets" if ratio >= threshold and low >= min(threshold, 1.0)
                     else "misses" if high < threshold else "unsure")
            if spread == "repeats" and len(mine) < MIN_REPEATS and state != "misses":
                state = "unsure"  # too few repeats to say how far the median moves
            if n_repeats > 1 and state == "meets" and len(mine) < max(n_repeats, MEET_REPEATS):
                state = "unsure"  # a cut repeat, or too few: not a verdict's worth of repeats
            states.append(state)
            each = f" ({len(mine)} repeats: {' '.join(f'x{r:.3f}' for r in ratios)})" if len(mine) > 1 else ""
            lines.append(f"  {where}: x{ratio:.3f} [{low:.3f}, {high:.3f}] {state}{each}")
    if failed_checks:
        return f"not met ({failed_checks} config checks of {candidate} failed)", lines
    if not states:
        return "inconclusive (no point measured for both)", lines
    if "misses" in states:
        return "not met", lines
    if all(s == "meets" for s in states):
        return "met", lines
    return "inconclusive", lines


def decide_lines(df: pd.DataFrame, checks: pd.DataFrame | None = None, rules=RULES, targets=TARGETS) -> list[str]:
    # the GPU first: a rule written for one GPU is judged on whatever rows came back
    devices = sorted(df["device"].dropna().astype(str).unique()) if "device" in df else []
    lines = [f"rules judged on rows of: {', '.join(devices) or 'an unnamed device'}"]
    repeats = df["repeat"].nunique() if "repeat" in df else 1
    if repeats > 1:
        lines.append(f"{repeats} repeats: a point's ratio is the median of the repeats' ratios, its range the "
                     "lowest to the highest repeat's p20/p80 range")
    else:
        lines.append(f"1 repeat: each point one call and its p20/p80 range, a reading short of the "
                     f"{MEET_REPEATS} repeats a verdict needs")
    for kind, items in (("rule", rules), ("target", targets)):
        for name, pass_, head_dims, candidate, base, threshold, lengths, *layouts in items:
            failed = 0
            if checks is not None and not checks.empty:
                mine = checks[(checks["variant"] == candidate) & checks["head_dim"].isin(head_dims)
                              & (checks["pass"] == pass_)]
                failed = int((~mine["passed"].astype(bool)).sum())
            verdict, points = judge(df, pass_, head_dims, candidate, base, threshold, lengths, failed,
                                    *layouts)
            lines += [f"{kind} {name} (>= x{threshold} at {_span_text(lengths)}): {verdict}", *points]
    return lines


def main(argv=None) -> None:
    from scsigmoid.config import config_parser

    config, p = config_parser(argv, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench = config["bench"]  # the protocol's values are the configuration's (config/config.yaml, bench:)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="check and time one variant")
    r.add_argument("--variant", required=True, help="default, tma, fma, tma_fma, ...")
    r.add_argument("--out", required=True, type=Path, help="directory for the CSV parts")
    r.add_argument("--checks", required=True, type=Path, help="CSV of the config checks")
    r.add_argument("--head-dim", type=int, nargs="+", default=[64, 128])
    r.add_argument("--pass", dest="passes", nargs="+", choices=["fwd", "bwd"], default=["fwd", "bwd"])
    r.add_argument("--seq-lens", type=int, nargs="+", default=[1024, 4096, 16384],
                   help="this call's points (a subset of bench.seq_lens, to fit one command)")
    r.add_argument("--padded-head-dims", type=int, nargs="*", default=[64],
                   help="head dims that also get the 25%%-padded points")
    r.add_argument("--impl", nargs="+", default=["ours_dense", "ours_padded"])
    r.add_argument("--tokens", type=int, default=bench["tokens_per_batch"])
    r.add_argument("--hidden", type=int, default=bench["hidden"])
    r.add_argument("--warmup-ms", type=float, default=bench["warmup_ms"])
    r.add_argument("--rep-ms", type=float, default=bench["rep_ms"])
    r.add_argument("--allow-cpu", action="store_true", help="smoke test on the CPU (Triton interpreter)")
    s = sub.add_parser("summary", help="print TFLOPS and ratios of the parts")
    s.add_argument("paths", nargs="+", help="part CSVs or folders holding them")
    d = sub.add_parser("decide", help="judge the pre-registered rules (RULES) on the parts")
    d.add_argument("paths", nargs="+", help="part CSVs or folders holding them")
    d.add_argument("--checks", type=Path, help="the call's variant_checks.csv (a failed entry fails its rule)")
    g = sub.add_parser("decide-diag", help="judge DIAG_RULES on bench_diag.py CSVs, do_bench and graph timings")
    g.add_argument("paths", nargs="+", type=Path, help="bench_diag CSVs (one a process; round = repeat)")
    gg = sub.add_parser("graph-gap", help="graph replay ÷ do_bench of bench_diag.py CSVs, per arm and point")
    gg.add_argument("paths", nargs="+", type=Path, help="bench_diag CSVs")
    pw = sub.add_parser("power", help="clock, power, energy a call and the power verdict of bench_diag.py CSVs")
    pw.add_argument("paths", nargs="+", type=Path, help="bench_diag CSVs")
    c = sub.add_parser("collect", help="every repeat's parts merged into one CSV with a repeat column")
    c.add_argument("paths", nargs="+", help="part CSVs or folders holding them (repeat k under rep<k>/)")
    c.add_argument("--out", required=True, type=Path)
    args = p.parse_args(argv)
    if args.command == "run":
        run(args, bench)
        return
    try:
        report(args)
    except ValueError as err:
        sys.exit(f"bench_variants {args.command}: {err}")


def report(args) -> None:
    """collect / summary / decide (a bad path or a repeated point: ValueError)."""
    if args.command == "collect":
        from scsigmoid.io import write_csv

        table, notes = collect(args.paths)
        for note in notes:
            print(note)
        write_csv(table, args.out)
        print(f"wrote {args.out}: {len(table)} rows, {(table['status'] == 'ok').sum()} ok, "
              f"{table['repeat'].nunique()} repeat(s)")
    elif args.command in ("decide-diag", "graph-gap", "power"):
        missing = [str(p) for p in args.paths if not p.is_file()]
        if missing:
            raise ValueError(f"no such bench_diag CSV: {', '.join(missing)}")
        diag = pd.concat([pd.read_csv(p) for p in args.paths], ignore_index=True)
        lines = {"decide-diag": decide_diag_lines, "graph-gap": graph_gap_lines, "power": power_lines}[args.command]
        print("\n".join(lines(diag)))
    elif args.command == "summary":
        print("\n".join(summary_lines(read_parts(args.paths))))
    else:
        checks = pd.read_csv(args.checks) if args.checks and args.checks.is_file() else None
        print("\n".join(decide_lines(read_parts(args.paths), checks)))


if __name__ == "__main__":
    main()
