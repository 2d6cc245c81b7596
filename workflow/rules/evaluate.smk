"""Stage 5: evaluation of the trained models on the held-out datasets.

Per dataset: embeddings (PCA baseline + softmax/sigmoid mean and CLS views) in one h5ad, scIB bio
conservation (PCA 95%, Leiden NMI/ARI, silhouette label), scib-metrics' Benchmarker, cell-type
MMD; UMAP of the configured dataset; the attention-Jacobian theory check on real scores.
"""

EVAL = config["evaluate"]
EVAL_SEED = EVAL.get("seed", 0)


rule eval_embeddings:
    input:
        corpus=f"{R}/data/corpus/{{dataset}}",
        h5ad=eval_h5ad_input,
        embeddings=[f"{TRAIN_R}/embed/{run}/{{dataset}}.npz" for run in EMBED_RUNS],
        sources=eval_source("embeddings"),
    output:
        f"{R}/eval/embeddings/{{dataset}}.h5ad",
    params:
        source=eval_source_sheet,
        data_dir=DATA_DIR,
        attentions=[run.rsplit("_", 1)[1] for run in EMBED_RUNS],
        n_hvg=EVAL.get("baseline_hvg", 2000),
        n_pcs=EVAL.get("baseline_pcs", 50),
        seed=EVAL_SEED,
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
        sources=eval_source("scib"),
    output:
        f"{R}/eval/scib/{{dataset}}.csv",
    params:
        kind="scib",
        variance=EVAL.get("scib_variance", 0.95),
        seed=EVAL_SEED,
    threads: 2
    log:
        f"{R}/logs/eval_scib_{{dataset}}.log",
    conda:
        ENV
    script:
        "../scripts/eval_scores.py"


use rule eval_scib as eval_benchmarker with:
    output:
        f"{R}/eval/benchmarker/{{dataset}}.csv",
    params:
        kind="benchmarker",
        seed=EVAL_SEED,
    log:
        f"{R}/logs/eval_benchmarker_{{dataset}}.log",


use rule eval_scib as eval_mmd with:
    input:
        h5ad=rules.eval_embeddings.output[0],
        sources=eval_source("mmd"),
    output:
        f"{R}/eval/mmd/{{dataset}}.csv",
    params:
        kind="mmd",
        max_per_type=EVAL.get("mmd_max_per_type", 300),
        seed=EVAL_SEED,
    threads: 1
    log:
        f"{R}/logs/eval_mmd_{{dataset}}.log",


rule eval_umap:
    input:
        h5ad=rules.eval_embeddings.output[0],
        sources=eval_source("umap"),
    output:
        f"{R}/eval/umap/{{dataset}}.csv",
    params:
        umap_keys=[f"X_{run.rsplit('_', 1)[1]}_mean" for run in EMBED_RUNS],
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
        alpha_range=EVAL.get("jacobian_alphas", [0.1, 100.0, 16]),
        seed=EVAL_SEED,
    threads: 1
    log:
        f"{R}/logs/eval_jacobian.log",
    conda:
        ENV
    script:
        "../scripts/eval_jacobian.py"
