"""Stage 1: datasets -> gene vocabulary + TEDDY-G gene medians -> token corpora -> Fig 1 and the
dataset table. Everything runs on the CPU from the dataset sheet (default: the offline bundle)."""

DATA = config["data"]
DATA_SOURCES = [
    "src/scsigmoid/data/build.py",
    "src/scsigmoid/data/census.py",
    "src/scsigmoid/data/corpus.py",
    "src/scsigmoid/data/genes.py",
    "src/scsigmoid/data/sheet.py",
    "src/scsigmoid/data/tokenise.py",
]
GENE_MAPS = DATA.get("gene_maps", f"{DATA_DIR}/gene_maps")
CORPUS_DATASETS = EVAL_DATASETS  # extras can be tokenised on demand: {R}/data/corpus/<name>
VOCAB_DATASETS = PRETRAIN_DATASETS + EVAL_DATASETS
TOKENISE_PARAMS = dict(
    sheet=config["datasets"],
    data_dir=lambda wildcards: DATA_DIR,
    gene_maps=GENE_MAPS,
    max_len=DATA.get("max_len"),
    unseen=DATA.get("unseen_genes", "drop"),
    max_unmapped_fraction=DATA.get("max_unmapped_fraction", 0.5),
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
        shard_cells=DATA.get("census_shard_cells", 200000),
    log:
        f"{R}/logs/data/census_shards_{{dataset}}.log",
    retries: 2
    conda:
        ENV
    script:
        "../scripts/data_census_shards.py"


rule data_vocab:
    input:
        sheet=config["datasets"],
        h5ad=[dataset_h5ad(n) for n in VOCAB_DATASETS],
        src=DATA_SOURCES,
    output:
        vocab=f"{R}/data/vocab.tsv",
        medians=f"{R}/data/gene_medians.tsv",
        coverage=f"{R}/data/gene_coverage.csv",
    params:
        datasets=VOCAB_DATASETS,
        data_dir=lambda wildcards: DATA_DIR,
        gene_maps=GENE_MAPS,
        max_unmapped_fraction=DATA.get("max_unmapped_fraction", 0.5),
    log:
        f"{R}/logs/data/vocab.log",
    threads: 1
    conda:
        ENV
    script:
        "../scripts/data_vocab.py"


rule data_tokenise:
    input:
        vocab=rules.data_vocab.output.vocab,
        medians=rules.data_vocab.output.medians,
        h5ad=lambda wc: dataset_h5ad(wc.dataset),
        src=DATA_SOURCES,
    output:
        directory(f"{R}/data/corpus/{{dataset}}"),
    wildcard_constraints:
        dataset="|".join(n for n in DATASETS["name"] if n != "pretrain"),
    params:
        **TOKENISE_PARAMS,
    log:
        f"{R}/logs/data/tokenise_{{dataset}}.log",
    conda:
        ENV
    script:
        "../scripts/data_tokenise.py"


rule data_pretrain_corpus:
    input:
        vocab=rules.data_vocab.output.vocab,
        medians=rules.data_vocab.output.medians,
        h5ad=[dataset_h5ad(n) for n in VOCAB_DATASETS],
        src=DATA_SOURCES,
    output:
        directory(f"{R}/data/corpus/pretrain"),
    params:
        **TOKENISE_PARAMS,
        datasets=VOCAB_DATASETS,
        val_fraction=DATA.get("val_fraction", 0.05),
        seed=DATA.get("seed", 0),
        max_barcode_overlap=DATA.get("max_barcode_overlap", 0.2),
    log:
        f"{R}/logs/data/pretrain_corpus.log",
    conda:
        ENV
    script:
        "../scripts/data_pretrain_corpus.py"


rule data_stats:
    input:
        corpora=[f"{R}/data/corpus/{n}" for n in ["pretrain"] + CORPUS_DATASETS],
        coverage=rules.data_vocab.output.coverage,
        src=DATA_SOURCES,
    output:
        lengths=f"{R}/data/lengths.csv",
        summary=f"{R}/data/dataset_summary.csv",
    params:
        names=["pretrain"] + CORPUS_DATASETS,
        sheet=config["datasets"],
    log:
        f"{R}/logs/data/stats.log",
    conda:
        ENV
    script:
        "../scripts/data_stats.py"


rule data_plot_fig1:
    input:
        lengths=rules.data_stats.output.lengths,
        src=["src/scsigmoid/plots/fig1_lengths.py", "src/scsigmoid/plots/style.py"],
    output:
        pdf=report(f"{FIG}/fig1_lengths.pdf", caption="../report/fig1.rst", category="Data"),
        png=report(f"{FIG}/fig1_lengths.png", caption="../report/fig1.rst", category="Data"),
    log:
        f"{R}/logs/data/fig1.log",
    conda:
        ENV
    script:
        "../scripts/data_fig1.py"


rule data_table_datasets:
    input:
        summary=rules.data_stats.output.summary,
        src="src/scsigmoid/plots/table_datasets.py",
    output:
        csv=report_table("datasets", "Data"),
        md=f"{FIG}/table_datasets.md",
    log:
        f"{R}/logs/data/table_datasets.log",
    conda:
        ENV
    script:
        "../scripts/data_table.py"


rule fig1:
    input:
        figure("fig1_lengths"),


rule table_datasets:
    input:
        table("datasets"),


ALL_TARGETS += figure("fig1_lengths") + table("datasets")
