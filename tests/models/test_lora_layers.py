"""The training layers: dropout acts in training mode only, every target family attaches, a model
is adapted once, and an adapter comes out (and goes back in) as a copy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import psionic.array as pa
from psionic.core.errors import InvalidInput
from psionic.models.loader import load_model
from psionic.models.lora import (
    LoRALinear,
    adapted_layers,
    adapter_from_model,
    attach_adapter,
    attach_lora,
    next_token_loss,
)
from psionic.models.lora_config import ALL_TARGETS, AdapterConfig
from psionic.nn.layers import Linear

from .synthetic import VOCAB, hf_model, write_family_gguf

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def gguf_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("layers") / "llama.gguf"
    write_family_gguf(path, "llama", hf_model("llama", 2, None))
    return path


def test_dropout_only_in_training_mode() -> None:
    rng = np.random.default_rng(0)
    lora = LoRALinear(Linear(np.zeros((16, 32), np.float32)), rank=4, alpha=4.0, rng=rng, dropout=0.5)
    lora.lora_b.data[...] = 1.0
    x = pa.tensor(np.ones((3, 32), np.float32))
    lora.eval()
    first, second = lora(x).numpy(), lora(x).numpy()
    assert np.array_equal(first, second)
    np.testing.assert_allclose(first, lora(np.ones((3, 32), np.float32)), rtol=1e-5, atol=1e-5)
    lora.train()
    a, b = lora(x).numpy(), lora(x).numpy()
    assert not np.array_equal(a, b) and not np.array_equal(a, first)
    # Inverted dropout: the mean over many masks approaches the deterministic output.
    mean = np.mean([lora(x).numpy() for _ in range(300)], axis=0)
    np.testing.assert_allclose(mean, first, rtol=0.1)


def test_all_targets_attach_and_train(gguf_path: Path) -> None:
    loaded = load_model(str(gguf_path))
    config = AdapterConfig(rank=2, alpha=4.0, dropout=0.1, targets=ALL_TARGETS)
    layers = attach_lora(loaded.model, config=config, seed=0)
    assert len(layers) == 7 * loaded.config.n_layers
    assert set(adapted_layers(loaded.model)) == {(i, t) for i in range(loaded.config.n_layers) for t in ALL_TARGETS}
    assert len(loaded.model.trainable_parameters()) == 2 * len(layers)
    loaded.model.train()
    ids = np.random.default_rng(0).integers(0, VOCAB, 9)
    next_token_loss(loaded.model, ids).backward()
    assert all(p.grad is not None for p in loaded.model.trainable_parameters())
    with pytest.raises(InvalidInput, match="no plain linear projection"):
        attach_lora(loaded.model, config=config)


def test_adapter_out_and_back_in_is_a_copy(gguf_path: Path) -> None:
    loaded = load_model(str(gguf_path))
    with pytest.raises(InvalidInput, match="no LoRA config"):
        adapter_from_model(loaded.model)
    attach_lora(loaded.model, rank=2, targets=("k_proj", "down_proj"), seed=1)
    for p in loaded.model.trainable_parameters():
        p.data[...] = np.random.default_rng(2).normal(size=p.shape).astype(np.float32)
    adapter = adapter_from_model(loaded.model)
    digest = adapter.digest
    for p in loaded.model.trainable_parameters():
        p.data[...] = 0.0
    assert adapter_from_model(loaded.model).digest != digest and adapter.digest == digest
    fresh = load_model(str(gguf_path))
    attach_adapter(fresh.model, adapter)
    assert adapter_from_model(fresh.model).digest == digest
