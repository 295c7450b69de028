"""One LoRA training step on SmolLM2 with its quantized weights frozen: the Tensor forward
equals the inference forward, adapter gradients match finite differences, only the adapters
move, and an AdamW step lowers the loss on its batch."""

from __future__ import annotations

import numpy as np
import pytest

from psionic.models.decoder import Segment
from psionic.models.kv_cache import KVCache
from psionic.models.loader import load_model
from psionic.models.lora import attach_lora, decoder_logits, next_token_loss
from psionic.nn.optim import AdamW

IDS = np.array([504, 3575, 282, 4649, 314, 7042, 30])  # "The capital of France is Paris."


@pytest.fixture(scope="module")
def adapted():  # type: ignore[no-untyped-def]
    loaded = load_model("smollm2-135m-instruct")
    model = loaded.model
    cfg = model.config
    cache = KVCache(cfg.n_layers, cfg.n_kv_heads, cfg.head_dim, 16)
    reference = model(IDS, [Segment(cache, 0, len(IDS))], logit_rows=np.arange(len(IDS)))
    np.testing.assert_allclose(decoder_logits(model, IDS).numpy(), reference, atol=2e-4, rtol=1e-4)
    adapters = attach_lora(model, rank=4, alpha=8.0, seed=0)
    rng = np.random.default_rng(1)
    for a in adapters:  # B starts at zero; make it nonzero so A gets a gradient too
        a.lora_b.data[...] = rng.normal(0.0, 0.02, a.lora_b.shape).astype(np.float32)
    return model, adapters


def _loss(model) -> float:  # type: ignore[no-untyped-def]
    return float(next_token_loss(model, IDS).item())


def _check_entries(model, adapters, picks: list[tuple[int, str]]) -> None:  # type: ignore[no-untyped-def]
    """Each picked adapter's largest gradient entry against a central difference of the loss."""
    for index, which in picks:
        param = getattr(adapters[index], which)
        grad = param.grad.numpy()
        at = np.unravel_index(np.argmax(np.abs(grad)), grad.shape)
        eps = 1e-2
        keep = float(param.data[at])
        param.data[at] = keep + eps
        plus = _loss(model)
        param.data[at] = keep - eps
        minus = _loss(model)
        param.data[at] = keep
        numeric = (plus - minus) / (2 * eps)
        assert grad[at] == pytest.approx(numeric, rel=3e-2, abs=1e-4), (index, which, at)


def test_one_training_step(adapted) -> None:  # type: ignore[no-untyped-def]
    """Gradients reach only the adapters and match finite differences; one AdamW step moves
    only the adapters and lowers the loss on its batch."""
    model, adapters = adapted
    trainable = model.trainable_parameters()
    assert len(trainable) == 2 * len(adapters) and len(adapters) == 2 * model.config.n_layers
    frozen = {name: np.array(p.data, copy=True) for name, p in model.named_parameters()
              if isinstance(p.data, np.ndarray) and not p.requires_grad}
    model.zero_grad()
    loss = next_token_loss(model, IDS)
    loss.backward()
    assert all(p.grad is None for p in model.parameters() if not p.requires_grad)
    _check_entries(model, adapters, [(0, "lora_a"), (len(adapters) - 1, "lora_b")])
    opt = AdamW(trainable, lr=1e-3, weight_decay=0.0)
    opt.step()
    assert _loss(model) < loss.item()
    for name, p in model.named_parameters():
        if name in frozen:
            np.testing.assert_array_equal(p.data, frozen[name], err_msg=name)


@pytest.mark.slow
def test_more_adapter_gradients_match_finite_differences(adapted) -> None:  # type: ignore[no-untyped-def]
    model, adapters = adapted
    model.zero_grad()
    next_token_loss(model, IDS).backward()
    _check_entries(model, adapters, [(i, w) for i in (1, 17, 31, 46) for w in ("lora_a", "lora_b")])


@pytest.mark.slow
def test_adapted_model_still_serves_through_the_inference_path(adapted) -> None:  # type: ignore[no-untyped-def]
    model, _ = adapted
    cfg = model.config
    cache = KVCache(cfg.n_layers, cfg.n_kv_heads, cfg.head_dim, 16)
    served = model(IDS, [Segment(cache, 0, len(IDS))], logit_rows=np.arange(len(IDS)))
    np.testing.assert_allclose(decoder_logits(model, IDS).numpy(), served, atol=2e-4, rtol=1e-4)
