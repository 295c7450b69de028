"""Llama (SmolLM2 and friends): RMSNorm, SwiGLU, grouped-query attention.

GGUF conversion permutes Q/K rows so that RoPE rotates adjacent pairs.
"""

from psionic.models.decoder import DecoderConfig
from psionic.models.families import Family, MetadataSource, base_config, register_family


def config(src: MetadataSource) -> DecoderConfig:
    return base_config(src, rope_neox=False)


FAMILY = register_family(Family("llama", config, "Llama-style decoder (SmolLM2)"))
