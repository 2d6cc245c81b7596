"""Stage 2: compile, autotune and self-check our Triton sigmoid-attention kernel.

kernel_compile: on a GPU this autotunes the configured shapes; on a CPU it runs the same kernels
under Triton's interpreter at tiny shapes. Either way the JSON records the device, versions,
chosen configs, compile time and the error against the reference.
kernel_resources: every autotune config compiled for the configured SM (sm_90) with Triton's own
ptxas, on any machine: registers, spills, shared memory, SASS op counts, the main loop's
instructions per score; kernel_resources_ws the Gluon forward's; kernel_resources_tritonsigmoid the
same for the authors' forward.
"""

KERNEL_DEVICE = DEVICE if GPU else "cpu"


rule kernel_compile:
    input:
        sources=KERNEL_SOURCES,
    output:
        f"{R}/kernels/compile_{KERNEL_DEVICE}.json",
    params:
        shapes=config["kernel"]["compile_shapes"],
        gpu=GPU,
    resources:
        gpu=1 if GPU else 0,
    log:
        f"{R}/logs/kernel_compile_{KERNEL_DEVICE}.log",
    conda:
        ENV
    script:
        "../scripts/kernel_compile.py"


ALL_TARGETS.append(f"{R}/kernels/compile_{KERNEL_DEVICE}.json")


KERNEL_RESOURCES = config["kernel"]["resources"]


rule kernel_resources:
    input:
        sources=KERNEL_SOURCES,
    output:
        f"{R}/kernels/resources_sm{KERNEL_RESOURCES['arch']}.csv",
    params:
        module="sigattn.resources",
        args=[
            "--arch", KERNEL_RESOURCES["arch"],
            "--head-dims", *KERNEL_RESOURCES["head_dims"],
            "--sigmoid", *KERNEL_RESOURCES["sigmoids"],
            *(["--limit", KERNEL_RESOURCES["limit"]] if KERNEL_RESOURCES["limit"] else []),
        ],
    log:
        f"{R}/logs/kernel_resources_sm{KERNEL_RESOURCES['arch']}.log",
    conda:
        ENV
    script:
        "../scripts/kernel_resources.py"


ALL_TARGETS.append(f"{R}/kernels/resources_sm{KERNEL_RESOURCES['arch']}.csv")


# The warp-specialised Gluon forward (SIGATTN_WS=1, kernels/PERF.md "Session 21") beside the Triton
# forward, both with the bf16x2 sigmoid the comparison times: registers, shared memory, SASS counts
rule kernel_resources_ws:
    input:
        sources=KERNEL_SOURCES,
    output:
        f"{R}/kernels/resources_sm{KERNEL_RESOURCES['arch']}_ws.csv",
    params:
        module="sigattn.resources",
        args=["--arch", KERNEL_RESOURCES["arch"], "--kernels", "fwd_ws", "fwd_wsp", "fwd", "--head-dims", 64, 128,
              "--sigmoid", "bf16x2"],
    log:
        f"{R}/logs/kernel_resources_sm{KERNEL_RESOURCES['arch']}_ws.log",
    conda:
        ENV
    script:
        "../scripts/kernel_resources.py"


ALL_TARGETS.append(f"{R}/kernels/resources_sm{KERNEL_RESOURCES['arch']}_ws.csv")


# The authors' TritonSigmoid kernels (forward, dQ, dK/dV), compiled the same way (their main loops
# beside ours, PERF.md "Session 13" and "Session 14"). Needs the gpu-baselines extra (triton-sigmoid), so it is built on request only:
# snakemake results/kernels/tritonsigmoid_sm90.csv
rule kernel_resources_tritonsigmoid:
    input:
        sources=[*KERNEL_SOURCES, "src/scsigmoid/bench/sass.py"],
    output:
        f"{R}/kernels/tritonsigmoid_sm{KERNEL_RESOURCES['arch']}.csv",
    params:
        module="scsigmoid.bench.sass",
        args=["--arch", KERNEL_RESOURCES["arch"], "--head-dims", 64, 128],
    log:
        f"{R}/logs/kernel_resources_tritonsigmoid_sm{KERNEL_RESOURCES['arch']}.log",
    conda:
        ENV
    script:
        "../scripts/kernel_resources.py"
