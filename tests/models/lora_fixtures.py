"""Random LoRA adapters of the right shapes for any decoder config (tests only)."""

from __future__ import annotations

import numpy as np

from psionic.models.decoder import DecoderConfig
from psionic.models.lora_adapter import LoRAAdapter
from psionic.models.lora_config import AdapterConfig


def projection_shape(cfg: DecoderConfig, target: str) -> tuple[int, int]:
    """(out, in) of one projection."""
    q, kv, d, ff = cfg.n_heads * cfg.head_dim, cfg.n_kv_heads * cfg.head_dim, cfg.d_model, cfg.d_ff
    return {"q_proj": (q, d), "k_proj": (kv, d), "v_proj": (kv, d), "o_proj": (d, q),
            "gate_proj": (ff, d), "up_proj": (ff, d), "down_proj": (d, ff)}[target]


def random_adapter(cfg: DecoderConfig, config: AdapterConfig, seed: int, std: float = 0.2) -> LoRAAdapter:
    rng = np.random.default_rng(seed)
    weights = {}
    for layer in range(cfg.n_layers):
        for target in config.targets:
            out, inp = projection_shape(cfg, target)
            weights[(layer, target)] = (rng.normal(0, std, (config.rank, inp)).astype(np.float32),
                                        rng.normal(0, std, (out, config.rank)).astype(np.float32))
    return LoRAAdapter(config, weights)
