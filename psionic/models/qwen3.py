"""Qwen3: Qwen2 without QKV bias, with RMSNorm on each query and key head (QK-norm)."""

from psionic.models.decoder import DecoderConfig
from psionic.models.families import Family, MetadataSource, base_config, register_family


def config(src: MetadataSource) -> DecoderConfig:
    return base_config(src, rope_neox=True, qk_norm=True)


FAMILY = register_family(Family("qwen3", config, "Qwen3 decoder (QK-norm, NeoX RoPE)"))
