"""Replication suite for 'Better Models, Faster Training: Sigmoid Attention for single-cell
Foundation Models' (arXiv 2604.27124).

    snakemake --cores all          every figure and table (CPU machines render GPU stages
                                   from the committed CSVs in results/)
    snakemake fig2                 one figure
    snakemake -n                   the whole DAG

Stages (one rule file each, in DAG order): data -> kernels -> bench -> train -> evaluate -> paper.
"""

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "config/schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/kernels.smk"
include: "workflow/rules/bench.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/paper.smk"


rule all:
    default_target: True
    input:
        ALL_TARGETS,
