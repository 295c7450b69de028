"""Adapters installed in a model's bank: each segment of a flat batch gets its own adapter's delta
(the same logits as that adapter attached alone), segments without one get the base, and every row
is bit-identical to running its sequence alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from psionic.core.errors import InvalidInput
from psionic.models.decoder import Segment
from psionic.models.kv_cache import KVCache
from psionic.models.loader import load_model
from psionic.models.lora import attach_adapter
from psionic.models.lora_bank import AdapterBank
from psionic.models.lora_config import ALL_TARGETS, AdapterConfig

from .lora_fixtures import random_adapter
from .synthetic import VOCAB, hf_model, write_family_gguf

pytest.importorskip("torch")


@pytest.fixture(scope="module", params=["llama", "gemma3"])
def gguf_path(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    family = request.param
    path = tmp_path_factory.mktemp("bank") / f"{family}.gguf"
    layers, window = (2, None) if family == "llama" else (6, 8)
    write_family_gguf(path, family, hf_model(family, layers, window), quant="q8_0")
    return path


def logits(model, cfg, seqs: list[tuple[np.ndarray, str | None]]) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    segments = [Segment(KVCache(cfg.n_layers, cfg.n_kv_heads, cfg.head_dim, len(ids)), 0, len(ids), key)
                for ids, key in seqs]
    ids = np.concatenate([s for s, _ in seqs])
    out = model(ids, segments, logit_rows=np.arange(len(ids)))
    bounds = np.cumsum([0] + [len(s) for s, _ in seqs])
    return [out[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def test_mixed_batch_rows_equal_each_adapter_alone(gguf_path: Path) -> None:
    loaded = load_model(str(gguf_path))
    cfg = loaded.config
    one = random_adapter(cfg, AdapterConfig(rank=4, alpha=8.0, targets=("q_proj", "v_proj")), seed=1)
    two = random_adapter(cfg, AdapterConfig(rank=8, alpha=8.0, targets=ALL_TARGETS), seed=2)
    bank = AdapterBank.of(loaded.model)
    k1, k2 = bank.add(one), bank.add(two)
    assert AdapterBank.of(loaded.model) is bank and bank.add(one) == k1 == one.digest
    rng = np.random.default_rng(0)
    seqs = [(rng.integers(0, VOCAB, n), key) for n, key in ((7, k1), (5, None), (9, k2), (3, k1), (4, None))]
    batched = logits(loaded.model, cfg, seqs)
    for (ids, key), got in zip(seqs, batched, strict=True):
        assert np.array_equal(logits(loaded.model, cfg, [(ids, key)])[0], got)
    assert not np.allclose(batched[0], logits(loaded.model, cfg, [(seqs[0][0], None)])[0], atol=1e-3)

    # Each adapter's rows are what that adapter attached on its own (the training layers) computes.
    for adapter, index in ((one, 0), (two, 2)):
        alone = load_model(str(gguf_path))
        attach_adapter(alone.model, adapter)
        np.testing.assert_allclose(batched[index], logits(alone.model, cfg, [(seqs[index][0], None)])[0],
                                   rtol=1e-5, atol=1e-5)
    base = load_model(str(gguf_path))
    assert np.array_equal(batched[1], logits(base.model, cfg, [(seqs[1][0], None)])[0])


def test_bank_refusals(gguf_path: Path) -> None:
    loaded = load_model(str(gguf_path))
    adapter = random_adapter(loaded.config, AdapterConfig(rank=2, targets=("q_proj",)), seed=0)
    bank = AdapterBank.of(loaded.model)
    with pytest.raises(InvalidInput, match="no adapter"):
        bank.require(adapter.digest)
    training = load_model(str(gguf_path))
    attach_adapter(training.model, adapter)
    with pytest.raises(InvalidInput, match="being trained"):
        AdapterBank.of(training.model).add(adapter)
