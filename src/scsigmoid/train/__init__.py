"""Paired masked-gene pretraining: batching/masking, the trainer, validation loss, experiments."""
