"""Stage 1: datasets -> gene vocabulary + TEDDY-G gene medians -> token corpora -> Fig 1 and the
dataset table. Everything runs on the CPU from the dataset sheet (default: the offline bundle)."""

DATA = config["data"]
DATA_SOURCES = [
    "src/scsigmoid/data/build.py",
    "src/scsigmoid/data/census.py",
    "src/scsigmoid/data/checks.py",
    "src/scsigmoid/data/corpus.py",
    "src/scsigmoid/data/gene_aliases.py",
    "src/scsigmoid/data/genes.py",
    "src/scsigmoid/data/sheet.py",
    "src/scsigmoid/data/tokenise.py",
]
GENE_MAPS = DATA["gene_maps"] or f"{DATA_DIR}/gene_maps"  # null: the data bundle's
GENE_ALIASES = DATA["gene_aliases"] or ""  # "" = map no previous/alias symbols
FROZEN_VOCAB = DATA["vocab"] or ""  # "" = vocabulary built from the pretrain datasets
CORPUS_DATASETS = EVAL_DATASETS  # extras can be tokenised on demand: {R}/data/corpus/<name>
CHECKED_DATASETS = [n for n in DATASETS["name"] if n not in PRETRAIN_DATASETS]
MAP_PARAMS = dict(
    data_dir=lambda wildcards: DATA_DIR,
    gene_maps=GENE_MAPS,
    max_unmapped_fraction=DATA["max_unmapped_fraction"],
)
TOKENISE_PARAMS = dict(
    **MAP_PARAMS,
    max_len=DATA["max_len"],
    unseen=DATA["unseen_genes"],
)
EVAL_TOKENISE_PARAMS = dict(
    **TOKENISE_PARAMS,
    missing_labels=DATA["missing_labels"],
    row=sheet_row_of,  # this dataset's sheet row: editing it re-runs its check and corpus
)
# Inputs shared by every step that maps genes (a change of either re-runs them)
MAP_INPUTS = dict(
    src=DATA_SOURCES,
    gene_aliases=[GENE_ALIASES] if GENE_ALIASES else [],
)


rule data_fetch:
    output:
        f"{R}/data/raw/{{dataset}}.h5ad",
    wildcard_constraints:
        dataset=wildcard_choice(remote_datasets()),
    params:
        source=lambda wc: DATASETS.loc[DATASETS["name"] == wc.dataset, "source"].iloc[0],
        sheet=config["datasets"],
        data_dir=lambda wildcards: DATA_DIR,
    log:
        f"{R}/logs/data/fetch_{{dataset}}.log",
    retries: 2
    conda:
        ENV
    script:
        "../scripts/data_fetch.py"


rule data_census_shards:
    output:
        f"{R}/data/raw/census/{{dataset}}/manifest.json",
    wildcard_constraints:
        dataset=wildcard_choice(census_datasets()),
    params:
        source=lambda wc: DATASETS.loc[DATASETS["name"] == wc.dataset, "source"].iloc[0],
        species=lambda wc: DATASETS.loc[DATASETS["name"] == wc.dataset, "species"].iloc[0],
        shard_cells=DATA["census_shard_cells"],
    log:
        f"{R}/logs/data/census_shards_{{dataset}}.log",
    retries: 2
    conda:
        ENV
    script:
        "../scripts/data_census_shards.py"


rule data_vocab:
    """Vocabulary and gene medians from the pretrain datasets only (or the frozen vocabulary
    data.vocab), so that adding an eval dataset changes neither."""
    input:
        h5ad=[dataset_h5ad(n) for n in PRETRAIN_DATASETS],
        frozen=[FROZEN_VOCAB] if FROZEN_VOCAB else [],
        **MAP_INPUTS,
    output:
        vocab=f"{R}/data/vocab.tsv",
        medians=f"{R}/data/gene_medians.tsv",
    params:
        **MAP_PARAMS,
        datasets=PRETRAIN_DATASETS,
        pretrain_rows=pretrain_rows(),
    log:
        f"{R}/logs/data/vocab.log",
    threads: 1
    conda:
        ENV
    script:
        "../scripts/data_vocab.py"


rule data_pretrain_corpus:
    input:
        vocab=rules.data_vocab.output.vocab,
        medians=rules.data_vocab.output.medians,
        h5ad=[dataset_h5ad(n) for n in PRETRAIN_DATASETS],
        **MAP_INPUTS,
    output:
        directory(f"{R}/data/corpus/pretrain"),
    params:
        **TOKENISE_PARAMS,
        datasets=PRETRAIN_DATASETS,
        pretrain_rows=pretrain_rows(),
        val_fraction=DATA["val_fraction"],
        seed=DATA["seed"],
    log:
        f"{R}/logs/data/pretrain_corpus.log",
    conda:
        ENV
    script:
        "../scripts/data_pretrain_corpus.py"


rule data_check:
    """Is an eval/extra dataset usable? Always writes {status: ok|failed, reason} and, when ok, its
    statistics: the summary tables list failed datasets instead of stopping; data_tokenise then
    fails with the reason."""
    input:
        vocab=rules.data_vocab.output.vocab,
        medians=rules.data_vocab.output.medians,
        h5ad=lambda wc: dataset_h5ad(wc.dataset),
        pretrain=rules.data_pretrain_corpus.output[0],
        **MAP_INPUTS,
    output:
        f"{R}/data/check/{{dataset}}.json",
    wildcard_constraints:
        dataset=wildcard_choice(CHECKED_DATASETS),
    params:
        **EVAL_TOKENISE_PARAMS,
        max_barcode_overlap=DATA["max_barcode_overlap"],
    log:
        f"{R}/logs/data/check_{{dataset}}.log",
    conda:
        ENV
    script:
        "../scripts/data_check.py"


rule data_tokenise:
    """Tokenise one eval/extra dataset against the pretraining vocabulary; a dataset whose check
    failed stops here with the check's reason (file and cause)."""
    input:
        check=rules.data_check.output[0],
        vocab=rules.data_vocab.output.vocab,
        medians=rules.data_vocab.output.medians,
        h5ad=lambda wc: dataset_h5ad(wc.dataset),
        **MAP_INPUTS,
    output:
        directory(f"{R}/data/corpus/{{dataset}}"),
    wildcard_constraints:
        dataset=wildcard_choice(CHECKED_DATASETS),
    params:
        **EVAL_TOKENISE_PARAMS,
    log:
        f"{R}/logs/data/tokenise_{{dataset}}.log",
    conda:
        ENV
    script:
        "../scripts/data_tokenise.py"


checkpoint data_stats:
    """Length table and dataset summary: the pretraining corpus, and each eval dataset's data check
    (its statistics, or the reason it failed), so one bad eval dataset never blocks them. A
    checkpoint: the evaluation tables and the scorecard take the eval datasets whose check passed
    (evaluated_datasets) and list the others with the reason."""
    input:
        pretrain=rules.data_pretrain_corpus.output[0],
        checks=[f"{R}/data/check/{n}.json" for n in CORPUS_DATASETS],
        src=DATA_SOURCES,
    output:
        lengths=f"{R}/data/lengths.csv",
        summary=f"{R}/data/dataset_summary.csv",
    params:
        sheet=config["datasets"],
    log:
        f"{R}/logs/data/stats.log",
    conda:
        ENV
    script:
        "../scripts/data_stats.py"


rule fig1:
    input:
        lengths=rules.data_stats.output.lengths,
        src=["src/scsigmoid/plots/fig1_lengths.py", "src/scsigmoid/plots/style.py"],
    output:
        **report_figure("fig1", "Data"),
    log:
        f"{R}/logs/fig1.log",
    conda:
        ENV
    script:
        "../scripts/fig1.py"


rule table_datasets:
    input:
        summary=rules.data_stats.output.summary,
        src="src/scsigmoid/plots/table_datasets.py",
    output:
        **report_table("datasets", "Data"),
    log:
        f"{R}/logs/table_datasets.log",
    conda:
        ENV
    script:
        "../scripts/table_datasets.py"


ALL_TARGETS += figure("fig1") + table("datasets")


# ---- model-free PCA baseline of every eval dataset (CPU; `snakemake baselines`) ----


rule data_pca_baseline:
    """log1p CP10k (through the sheet's scale), HVG, PCs on the cells of the dataset's corpus."""
    input:
        corpus=f"{R}/data/corpus/{{dataset}}",
        h5ad=lambda wc: dataset_h5ad(wc.dataset),
        src=DATA_SOURCES + ["src/scsigmoid/evaluate/embeddings.py"],
    output:
        f"{R}/data/baseline/{{dataset}}.h5ad",
    wildcard_constraints:
        dataset=wildcard_choice(CHECKED_DATASETS),
    params:
        row=sheet_row_of,
        n_hvg=config["evaluate"]["baseline_hvg"],
        n_pcs=config["evaluate"]["baseline_pcs"],
        seed=config["evaluate"]["seed"],
    threads: 1
    log:
        f"{R}/logs/data/pca_baseline_{{dataset}}.log",
    conda:
        ENV
    script:
        "../scripts/data_pca_baseline.py"


rule data_baseline_scib:
    """scIB bio conservation of the PCA baseline alone (the scib table's protocol)."""
    input:
        h5ad=rules.data_pca_baseline.output[0],
        sources=["src/scsigmoid/evaluate/scib.py"],
    output:
        scores=f"{R}/eval/baseline/{{dataset}}.csv",
        bootstrap=f"{R}/eval/baseline_bootstrap/{{dataset}}.csv",
    wildcard_constraints:
        dataset=wildcard_choice(CHECKED_DATASETS),
    params:
        variance=config["evaluate"]["scib_variance"],
        n_boot=0,  # the baseline alone: nothing is compared, so no cell bootstrap (header-only file)
        seed=config["evaluate"]["seed"],
    threads: 2
    log:
        f"{R}/logs/data/baseline_scib_{{dataset}}.log",
    conda:
        ENV
    script:
        "../scripts/eval_scib.py"  # eval_scib's scoring, on the baseline alone


rule baselines:
    """PCA baseline scores of every eval dataset; needs no model (a dataset that failed its data
    check stops in data_tokenise with the reason: run with -k to get the others)."""
    input:
        [f"{R}/eval/baseline/{n}.csv" for n in EVAL_DATASETS],
