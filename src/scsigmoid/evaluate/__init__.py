"""Evaluation stage: model and baseline embeddings, scIB metrics, cell-type MMD, UMAP, the
attention-Jacobian theory check, the paper's tables and the replication scorecard.

Reads trainer outputs (embeddings, validation losses, attention scores) and the data stage's
corpora; never trains or changes a model.
"""
