"""Gemma 3: sandwich norms, QK-norm, GELU, scaled embeddings, sliding and global layers.

Five of every six layers attend within a sliding window with RoPE base 10000;
every sixth is global with the file's RoPE base. Embeddings are multiplied by
sqrt(d_model). GGUF stores the norm weights with Gemma's +1 already applied.
"""

import math

from psionic.models.decoder import DecoderConfig
from psionic.models.families import Family, MetadataSource, base_config, register_family

SLIDING_PATTERN = 6
SLIDING_ROPE_BASE = 10000.0


def config(src: MetadataSource) -> DecoderConfig:
    n_layers = int(src.require("gemma3.block_count"))
    d_model = int(src.require("gemma3.embedding_length"))
    window = src.meta("gemma3.attention.sliding_window")
    return base_config(
        src,
        rope_neox=True,
        activation="gelu_tanh",
        qk_norm=True,
        sandwich_norm=True,
        embed_scale=math.sqrt(d_model),
        sliding_window=int(window) if window else None,
        sliding_layers=tuple((i + 1) % SLIDING_PATTERN != 0 for i in range(n_layers)) if window else (),
        rope_base_sliding=SLIDING_ROPE_BASE,
        final_logit_softcap=src.meta("gemma3.final_logit_softcapping"),
    )


FAMILY = register_family(Family("gemma3", config, "Gemma 3 decoder (sliding/global layers)"))
