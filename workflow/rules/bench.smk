"""Stage 3: attention kernel microbenchmarks (GPU) and the figures/table drawn from them.

bench_attention runs one (head_dim, pass) part on the GPU (each part well under 10 minutes on
an H200); bench_merge concatenates the parts. Without a GPU only the figure rules run, reading
the committed {GPU_R}/bench/attention_{BENCH_DEVICE}.csv (config bench_reference_device).
"""

BENCH = config["bench"]
BENCH_CSV = f"{GPU_R}/bench/attention_{BENCH_DEVICE}.csv"
BENCH_SOURCES = sorted(str(p) for p in Path("src/scsigmoid/bench").glob("*.py"))
KERNEL_GRID_SOURCES = [
    "src/scsigmoid/plots/kernel_grid.py",
    "src/scsigmoid/plots/style.py",
    "src/scsigmoid/bench/timing.py",
    "src/scsigmoid/bench/reference.py",
]
FLASHSIGMOID_REF = "reference/flashsigmoid_h200.csv"
FIG2_REPORTED = "reference/fig2_reported_h100.csv"


if GPU:

    rule bench_attention:
        input:
            kernel=KERNEL_SOURCES,
            bench=BENCH_SOURCES,
        output:
            f"{R}/bench/parts/attention_{DEVICE}_hd{{head_dim}}_{{pass}}.csv",
        wildcard_constraints:
            head_dim=r"\d+",
            **{"pass": "fwd|bwd"},
        resources:
            gpu=1,
        log:
            f"{R}/logs/bench_attention_{DEVICE}_hd{{head_dim}}_{{pass}}.log",
        conda:
            ENV
        script:
            "../scripts/bench_attention.py"

    rule bench_merge:
        input:
            parts=expand(
                f"{R}/bench/parts/attention_{DEVICE}_hd{{head_dim}}_{{pass}}.csv",
                head_dim=BENCH["head_dims"],
                **{"pass": BENCH["passes"]},
            ),
            sources=BENCH_SOURCES,
        output:
            f"{R}/bench/attention_{DEVICE}.csv",
        log:
            f"{R}/logs/bench_merge_{DEVICE}.log",
        conda:
            ENV
        script:
            "../scripts/bench_merge.py"


rule fig2:
    input:
        results=BENCH_CSV,
        reported=FIG2_REPORTED,
        flashsigmoid=FLASHSIGMOID_REF,
        sources=KERNEL_GRID_SOURCES + ["src/scsigmoid/plots/fig2_tflops.py"],
    output:
        **report_figure("fig2", "Kernels"),
    params:
        timing=BENCH["figure_timing"],
    log:
        f"{R}/logs/fig2.log",
    conda:
        ENV
    script:
        "../scripts/fig2.py"


rule fig8:
    input:
        results=BENCH_CSV,
        flashsigmoid=FLASHSIGMOID_REF,
        sources=KERNEL_GRID_SOURCES + ["src/scsigmoid/plots/fig8_latency.py"],
    output:
        **report_figure("fig8", "Kernels"),
    params:
        timing=BENCH["figure_timing"],
    log:
        f"{R}/logs/fig8.log",
    conda:
        ENV
    script:
        "../scripts/fig8.py"


rule table_speedup:
    input:
        results=BENCH_CSV,
        flashsigmoid=FLASHSIGMOID_REF,
        sources=["src/scsigmoid/bench/speedup.py", "src/scsigmoid/bench/timing.py",
                 "src/scsigmoid/bench/reference.py"],
    output:
        **report_table("speedup", "Kernels"),
    params:
        timing=BENCH["figure_timing"],
    log:
        f"{R}/logs/table_speedup.log",
    conda:
        ENV
    script:
        "../scripts/table_speedup.py"


ALL_TARGETS.extend(figure("fig2") + figure("fig8") + table("speedup"))
