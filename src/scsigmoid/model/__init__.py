"""The single-cell encoder: model sizes, the one attention switch, embeddings."""

from scsigmoid.model.attention import Packed, Padded
from scsigmoid.model.encoder import SIZES, Encoder, ModelConfig, embed, size_table

__all__ = ["SIZES", "Encoder", "ModelConfig", "Packed", "Padded", "embed", "size_table"]
