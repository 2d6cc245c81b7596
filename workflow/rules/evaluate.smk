"""Stage 5: evaluation of the trained models on the held-out datasets.

Per dataset: embeddings (the data stage's PCA baseline + softmax/sigmoid mean and CLS views of every
training seed) in one h5ad, scIB bio conservation (PCA 95%, Leiden NMI/ARI, silhouette label) with the embedding
diagnostics and a cell bootstrap, scib-metrics' Benchmarker, cell-type MMD with a cell bootstrap;
UMAP of the configured dataset (first seed); the attention-Jacobian theory check on real scores.
"""

EVAL = config["evaluate"]
EVAL_SEED = EVAL["seed"]
EVAL_BOOT = EVAL["bootstrap"]  # replicates of the cell bootstrap (0: none)


rule eval_embeddings:
    input:
        baseline=rules.data_pca_baseline.output[0],  # the one PCA baseline (scale-aware)
        embeddings=lambda wc: [embedding_npz(run, wc.dataset) for run in embed_runs_of(wc.dataset)],
        sources=eval_source("embeddings"),
    output:
        f"{R}/eval/embeddings/{{dataset}}.h5ad",
    params:
        runs=lambda wc: embed_runs_of(wc.dataset),
        views=EVAL["views"],
    threads: 1
    log:
        f"{R}/logs/eval_embeddings_{{dataset}}.log",
    conda:
        ENV
    script:
        "../scripts/eval_embeddings.py"


rule eval_scib:
    input:
        h5ad=rules.eval_embeddings.output[0],
        sources=[eval_source("scib"), eval_source("tables")],
    output:
        scores=f"{R}/eval/scib/{{dataset}}.csv",
        bootstrap=f"{R}/eval/scib_bootstrap/{{dataset}}.csv",
    params:
        variance=EVAL["scib_variance"],
        n_boot=EVAL_BOOT,
        seed=EVAL_SEED,
    threads: 2
    log:
        f"{R}/logs/eval_scib_{{dataset}}.log",
    conda:
        ENV
    script:
        "../scripts/eval_scib.py"


rule eval_benchmarker:
    input:
        h5ad=rules.eval_embeddings.output[0],
        sources=[eval_source("scib"), eval_source("tables")],
    output:
        f"{R}/eval/benchmarker/{{dataset}}.csv",
    # one for the local scheduler: JAX takes the cores it finds whatever this says, and two
    # Benchmarker jobs side by side on 2 CPU cores finished in 127 s where one after the other took
    # 232 s (cold compile caches, the .test configuration, 2026-12-07: their compilations are mostly
    # single-threaded); a Slurm job gets its CPUs from profiles/slurm (cpus_per_task: 2)
    threads: 1
    log:
        f"{R}/logs/eval_benchmarker_{{dataset}}.log",
    conda:
        ENV
    script:
        "../scripts/eval_benchmarker.py"


rule eval_mmd:
    input:
        h5ad=rules.eval_embeddings.output[0],
        sources=[eval_source("mmd"), eval_source("tables")],
    output:
        scores=f"{R}/eval/mmd/{{dataset}}.csv",
        bootstrap=f"{R}/eval/mmd_bootstrap/{{dataset}}.csv",
    params:
        max_per_type=EVAL["mmd_max_per_type"],
        n_boot=EVAL_BOOT,
        seed=EVAL_SEED,
    threads: 1
    log:
        f"{R}/logs/eval_mmd_{{dataset}}.log",
    conda:
        ENV
    script:
        "../scripts/eval_mmd.py"


rule eval_umap:
    input:
        h5ad=rules.eval_embeddings.output[0],
        sources=eval_source("umap"),
    output:
        f"{R}/eval/umap/{{dataset}}.csv",
    params:
        attentions=ATTENTIONS,
        shown_seed=SEEDS[0],  # one seed's embeddings are drawn
        seed=EVAL_SEED,
    threads: 2
    log:
        f"{R}/logs/eval_umap_{{dataset}}.log",
    conda:
        ENV
    script:
        "../scripts/eval_umap.py"


rule eval_jacobian:
    input:
        scores=[f"{TRAIN_R}/train/runs/{run}/attention_scores.npz" for run in EMBED_RUNS],
        sources=eval_source("jacobian"),
    output:
        f"{R}/eval/jacobian.csv",
    params:
        runs=EMBED_RUNS,
        alpha_range=EVAL["jacobian_alphas"],
        seed=EVAL_SEED,
    threads: 1
    log:
        f"{R}/logs/eval_jacobian.log",
    conda:
        ENV
    script:
        "../scripts/eval_jacobian.py"
