"""Qwen2: the Llama block with biases on Q/K/V and RoPE over halves (NeoX)."""

from psionic.models.decoder import DecoderConfig
from psionic.models.families import Family, MetadataSource, base_config, register_family


def config(src: MetadataSource) -> DecoderConfig:
    return base_config(src, rope_neox=True)


FAMILY = register_family(Family("qwen2", config, "Qwen2 decoder (QKV bias, NeoX RoPE)"))
