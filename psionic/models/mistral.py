"""Mistral: the Llama block, with an optional sliding window on every layer."""

from psionic.models.decoder import DecoderConfig
from psionic.models.families import Family, MetadataSource, base_config, register_family


def config(src: MetadataSource) -> DecoderConfig:
    base = base_config(src, rope_neox=False)
    window = src.meta("mistral.attention.sliding_window")
    if not window:
        return base
    return base_config(
        src, rope_neox=False, sliding_window=int(window), sliding_layers=(True,) * base.n_layers
    )


FAMILY = register_family(Family("mistral", config, "Mistral decoder (Llama block, sliding window)"))
