"""AdapterConfig validation (a corpus of bad values), canonical targets, scale, and the adapter digest."""

from __future__ import annotations

import numpy as np
import pytest

from psionic.core.errors import InvalidInput, TensorShapeMismatch
from psionic.models.lora_adapter import LoRAAdapter
from psionic.models.lora_config import ALL_TARGETS, AdapterConfig


@pytest.mark.parametrize("fields, words", [
    ({"rank": 0}, "rank"), ({"rank": -2}, "rank"), ({"rank": 2.5}, "rank"), ({"rank": True}, "rank"),
    ({"rank": 10**6}, "rank"), ({"alpha": 0}, "alpha"), ({"alpha": float("nan")}, "alpha"),
    ({"alpha": "16"}, "alpha"), ({"dropout": 1.0}, "dropout"), ({"dropout": -0.1}, "dropout"),
    ({"targets": ()}, "at least one"), ({"targets": ("q_proj", "q_proj")}, "repeat"),
    ({"targets": ("lm_head",)}, "unknown LoRA target"), ({"targets": ("embed_tokens",)}, "unknown"),
])
def test_bad_configs_are_refused(fields: dict, words: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidInput, match=words):
        AdapterConfig(**fields)


def test_targets_are_canonical_and_scale_follows_rslora() -> None:
    cfg = AdapterConfig(rank=16, alpha=8, targets=("down_proj", "q_proj"))
    assert cfg.targets == ("q_proj", "down_proj") and cfg.scale == 0.5
    assert AdapterConfig(rank=16, alpha=8, use_rslora=True).scale == 2.0
    assert AdapterConfig.from_record(cfg.to_record()) == cfg
    assert len(ALL_TARGETS) == 7
    with pytest.raises(InvalidInput, match="unknown adapter config fields"):
        AdapterConfig.from_record({**cfg.to_record(), "lora_magic": 1})


def _adapter(cfg: AdapterConfig, seed: int = 0) -> LoRAAdapter:
    rng = np.random.default_rng(seed)
    return LoRAAdapter(cfg, {(0, t): (rng.normal(size=(cfg.rank, 16)).astype(np.float32),
                                      rng.normal(size=(32, cfg.rank)).astype(np.float32)) for t in cfg.targets})


def test_digest_covers_config_and_every_weight() -> None:
    cfg = AdapterConfig(rank=2, alpha=4.0, targets=("q_proj", "v_proj"))
    first = _adapter(cfg)
    assert _adapter(cfg).digest == first.digest
    assert _adapter(cfg, seed=1).digest != first.digest
    assert _adapter(AdapterConfig(rank=2, alpha=5.0, targets=("q_proj", "v_proj"))).digest != first.digest
    nudged = {k: (a.copy(), b.copy()) for k, (a, b) in first.weights.items()}
    nudged[(0, "v_proj")][1][3, 1] = np.nextafter(nudged[(0, "v_proj")][1][3, 1], np.float32(np.inf))
    assert LoRAAdapter(cfg, nudged).digest != first.digest


def test_inconsistent_weights_are_refused() -> None:
    cfg = AdapterConfig(rank=2, targets=("q_proj",))
    with pytest.raises(TensorShapeMismatch, match="rank 2"):
        LoRAAdapter(cfg, {(0, "q_proj"): (np.zeros((3, 16), np.float32), np.zeros((8, 3), np.float32))})
    with pytest.raises(InvalidInput, match="does not target"):
        LoRAAdapter(cfg, {(0, "v_proj"): (np.zeros((2, 16), np.float32), np.zeros((8, 2), np.float32))})
    with pytest.raises(InvalidInput, match="at least one"):
        LoRAAdapter(cfg, {})
