"""Stage 4: paired masked-gene pretraining (softmax vs sigmoid), throughput, stress test.

Training rules enter the DAG only when TRAIN_HERE (a GPU, or train.cpu for the tiny CI pair);
throughput and stress only with a GPU. Figures read {TRAIN_R} / {GPU_R}, so CPU machines render
them from the committed results. On a GPU machine without Snakemake the same functions run from
the same config file: `python -m scsigmoid.train.experiments {main|stress|lr_sweep} --config ...`
and `python -m scsigmoid.train.throughput measure --config ...` (gpu/h200_training.sh).
"""

TRAIN = config["train"]
TRAIN_STRESS = TRAIN["stress"]
CLUSTER = config["cluster"]  # Slurm resources of training jobs (config/paper.yaml)
# Several nodes: the Slurm plugin runs train_run in the batch script itself (mpi) and
# scsigmoid.launch starts one torchrun per node with srun.
TRAIN_NODES = CLUSTER["train_nodes"]
TRAIN_MULTINODE = {"mpi": "srun", "tasks": TRAIN_NODES} if TRAIN_NODES > 1 else {}
MODEL_SOURCES = sorted(str(p) for p in Path("src/scsigmoid/model").glob("*.py"))
TRAIN_SOURCES = MODEL_SOURCES + sorted(str(p) for p in Path("src/scsigmoid/train").glob("*.py"))
CORPUS_DIR = f"{R}/data/corpus"
RUN = "{size}_{context}_{attention}_s{seed}"
RUN_DIR = f"{R}/train/runs/{RUN}"
CKPT = f"{R}/checkpoints/{RUN}/last.pt"
THROUGHPUT_CSV = f"{GPU_R}/train/throughput_{DEVICE}.csv"
STRESS_CSV = f"{GPU_R}/train/stress_{DEVICE}.csv"
LR_SWEEP_CSV = f"{GPU_R}/train/lr_sweep_{DEVICE}.csv"

RUN_WILDCARDS = {"size": "tiny|small|160M|400M|600M|1\\.4B", "context": r"\d+",
                 "attention": "|".join(ATTENTIONS), "seed": r"\d+"}


if TRAIN_HERE:

    rule train_run:
        wildcard_constraints:
            **RUN_WILDCARDS,
        input:
            corpus=f"{CORPUS_DIR}/pretrain",
            sources=TRAIN_SOURCES + KERNEL_SOURCES,
        output:
            log=f"{RUN_DIR}/log.csv",
            summary=f"{RUN_DIR}/summary.json",
            ckpt=CKPT,
        params:
            config={"train": TRAIN, "evaluate": config["evaluate"]},
        resources:
            # Slurm (profiles/slurm): GPUs, nodes, memory, time of one training job; see docs/cluster.md
            gpu=TRAIN_NODES * CLUSTER["train_gpus_per_node"] if GPU else 0,
            nodes=TRAIN_NODES,
            tasks_per_gpu=0,
            mem_mb=CLUSTER["train_mem_mb_per_node"],
            runtime=CLUSTER["train_runtime_min"],
            **TRAIN_MULTINODE,
        threads: 2
        log:
            f"{R}/logs/train/{RUN}.log",
        conda:
            ENV
        script:
            "../scripts/train_run.py"

    rule train_validate:
        wildcard_constraints:
            **RUN_WILDCARDS,
        input:
            ckpt=CKPT,
            # the eval datasets that passed their data check (a failed one is listed, not blocking)
            corpora=lambda wc: [f"{CORPUS_DIR}/{name}" for name in ["pretrain"] + evaluated_datasets()],
            sources=TRAIN_SOURCES,
        output:
            f"{RUN_DIR}/val_loss.csv",
        params:
            datasets=lambda wc: evaluated_datasets(),
            seeds=config["evaluate"]["masking_seeds"],
            max_cells=TRAIN["val_max_cells"],
            batch_size=TRAIN["batch_size"],
        resources:
            gpu=1 if GPU else 0,
        threads: 2
        log:
            f"{R}/logs/train/validate_{RUN}.log",
        conda:
            ENV
        script:
            "../scripts/train_validate.py"

    rule train_scores:
        wildcard_constraints:
            **RUN_WILDCARDS,
        input:
            ckpt=CKPT,
            corpus=f"{CORPUS_DIR}/pretrain",
            sources=TRAIN_SOURCES,
        output:
            f"{RUN_DIR}/attention_scores.npz",
        resources:
            gpu=1 if GPU else 0,
        log:
            f"{R}/logs/train/scores_{RUN}.log",
        conda:
            ENV
        script:
            "../scripts/train_scores.py"


if BUNDLE:

    rule train_unpack_bundle:
        """One run's checkpoint from train.checkpoint_bundle, its parts checked against the
        bundle's manifest (bf16 weights: what a CPU machine embeds new datasets with)."""
        wildcard_constraints:
            **RUN_WILDCARDS,
        input:
            manifest=f"{BUNDLE}/manifest.json",
            parts=bundle_parts,
        output:
            f"{R}/checkpoints_bundle/{RUN}/last.pt",
        params:
            bundle=BUNDLE,
            run=RUN,
        threads: 1
        log:
            f"{R}/logs/train/unpack_{RUN}.log",
        conda:
            ENV
        script:
            "../scripts/train_unpack_bundle.py"


if CHECKPOINTS and not TRAIN_HERE:

    rule train_check_checkpoint:
        """A checkpoint this machine did not train (train.checkpoints, or unpacked from
        train.checkpoint_bundle) checked to be the run behind the committed embeddings before it
        embeds anything: a few cells of a committed dataset embedded again (check_checkpoint;
        other runs stop here with the reason; a run without committed embeddings is noted as
        unchecked)."""
        wildcard_constraints:
            **RUN_WILDCARDS,
        input:
            unpack(committed_reference),
            ckpt=f"{CHECKPOINTS}/{RUN}/last.pt",
        output:
            f"{R}/checkpoints_checked/{RUN}.json",
        params:
            batch_size=TRAIN["batch_size"],
        threads: 1
        log:
            f"{R}/logs/train/check_{RUN}.log",
        conda:
            ENV
        script:
            "../scripts/train_check_checkpoint.py"


if TRAIN_HERE or CHECKPOINTS:

    rule train_embed:
        """A dataset's cell embeddings from a run's checkpoint: trained here, or (where no training
        runs) from train.checkpoints for the datasets without committed embeddings."""
        wildcard_constraints:
            **RUN_WILDCARDS,
            **({} if TRAIN_HERE else {"dataset": wildcard_choice(UNEMBEDDED_DATASETS)}),
        input:
            ckpt=CKPT if TRAIN_HERE else f"{CHECKPOINTS}/{RUN}/last.pt",
            checked=[] if TRAIN_HERE else f"{R}/checkpoints_checked/{RUN}.json",
            corpus=f"{CORPUS_DIR}/{{dataset}}",
            sources=TRAIN_SOURCES,
        output:
            f"{R}/embed/{RUN}/{{dataset}}.npz",
        params:
            batch_size=TRAIN["batch_size"],
            views=config["evaluate"]["views"],
        resources:
            gpu=1 if GPU else 0,
        threads: 2
        log:
            f"{R}/logs/train/embed_{RUN}_{{dataset}}.log",
        conda:
            ENV
        script:
            "../scripts/train_embed.py"


if GPU:

    rule train_throughput:
        input:
            corpus=f"{CORPUS_DIR}/pretrain",
            sources=TRAIN_SOURCES + KERNEL_SOURCES,
        output:
            f"{R}/train/throughput_{DEVICE}.csv",
        params:
            throughput=TRAIN["throughput"],
            device=DEVICE,
        resources:
            gpu=1,
        log:
            f"{R}/logs/train/throughput_{DEVICE}.log",
        conda:
            ENV
        script:
            "../scripts/train_throughput.py"

    rule train_stress:
        input:
            corpus=f"{CORPUS_DIR}/pretrain",
            sources=TRAIN_SOURCES + KERNEL_SOURCES,
        output:
            f"{R}/train/stress_{DEVICE}.csv",
        params:
            config={"train": TRAIN},
            work_dir=f"{R}/train/stress",
        resources:
            gpu=1,
        log:
            f"{R}/logs/train/stress_{DEVICE}.log",
        conda:
            ENV
        script:
            "../scripts/train_stress.py"

    rule train_lr_sweep:
        input:
            corpus=f"{CORPUS_DIR}/pretrain",
            sources=TRAIN_SOURCES + KERNEL_SOURCES,
        output:
            f"{R}/train/lr_sweep_{DEVICE}.csv",
        params:
            config={"train": TRAIN},
            work_dir=f"{R}/train/lr_sweep",
        resources:
            gpu=1,
        log:
            f"{R}/logs/train/lr_sweep_{DEVICE}.log",
        conda:
            ENV
        script:
            "../scripts/train_lr_sweep.py"


rule fig3:
    input:
        throughput=THROUGHPUT_CSV,
        # the throughput protocol's gain_table and GAIN_DEFINITION (scsigmoid.train.throughput) are
        # read too: the one definition of "faster"
        sources=["src/scsigmoid/plots/fig3_gpu_hours.py", "src/scsigmoid/plots/style.py"],
    output:
        **report_figure("fig3", "Training"),
    log:
        f"{R}/logs/fig3.log",
    conda:
        ENV
    script:
        "../scripts/fig3.py"


rule fig4_loss:
    input:
        logs=[f"{TRAIN_R}/train/runs/{run}/log.csv" for run in MAIN_RUNS],
        runs=table("runs")[0],
        sources=["src/scsigmoid/plots/fig4_loss.py", "src/scsigmoid/plots/style.py",
                 "src/scsigmoid/evaluate/scale.py"],
    output:
        **report_figure("fig4_loss", "Training"),
    params:
        contexts=config["train"]["contexts"],
    log:
        f"{R}/logs/fig4_loss.log",
    conda:
        ENV
    script:
        "../scripts/fig4_loss.py"


rule fig6:
    input:
        stress=STRESS_CSV,
        # the LR sweep panel is drawn when a sweep was measured (always, when GPU rules run)
        lr_sweep=[LR_SWEEP_CSV] if GPU or Path(LR_SWEEP_CSV).exists() else [],
        lengths=rules.data_stats.output.lengths,  # the cell lengths the stress test trained on
        sources=["src/scsigmoid/plots/fig6_stress.py", "src/scsigmoid/plots/style.py",
                 "src/scsigmoid/evaluate/scale.py"],
    output:
        **report_figure("fig6", "Training"),
    log:
        f"{R}/logs/fig6.log",
    conda:
        ENV
    script:
        "../scripts/fig6.py"


rule table_architecture:
    input:
        meta=f"{CORPUS_DIR}/pretrain",
        sources=MODEL_SOURCES + ["src/scsigmoid/train/tables.py"],
    output:
        **report_table("architecture", "Training"),
    params:
        max_len=max(max(TRAIN["contexts"]), TRAIN_STRESS["context"]),
    log:
        f"{R}/logs/table_architecture.log",
    conda:
        ENV
    script:
        "../scripts/table_architecture.py"


rule table_hyperparameters:
    input:
        sources=["src/scsigmoid/train/tables.py", "src/scsigmoid/train/trainer.py",
                 "src/scsigmoid/train/sweep.py"],
    output:
        **report_table("hyperparameters", "Training"),
    params:
        train=TRAIN,
    log:
        f"{R}/logs/table_hyperparameters.log",
    conda:
        ENV
    script:
        "../scripts/table_hyperparameters.py"


ALL_TARGETS.extend(
    figure("fig3")
    + figure("fig4_loss")
    + figure("fig6")
    + table("architecture")
    + table("hyperparameters")
)
