"""The single-cell encoder: model sizes, the one attention switch, embeddings."""

from scsigmoid.model.encoder import SIZES, Encoder, ModelConfig, Packed, embed, size_table

__all__ = ["SIZES", "Encoder", "ModelConfig", "Packed", "embed", "size_table"]
