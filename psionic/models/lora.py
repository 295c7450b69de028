from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from psionic.array import Tensor
from psionic.core.errors import InvalidInput
from psionic.models.decoder import DecoderModel
from psionic.models.lora_adapter import Key, LoRAAdapter
from psionic.models.lora_config import DEFAULT_TARGETS, TARGETS, AdapterConfig
from psionic.models.lora_delta import LoRAWeights
from psionic.nn import tensor_ops as T
from psionic.nn.layers import Linear
from psionic.nn.losses import cross_entropy
from psionic.nn.module import Module, Parameter

__all__ = [
    "DEFAULT_TARGETS", "AdapterConfig", "LoRAAdapter", "LoRALinear", "adapter_from_model",
    "adapted_layers", "attach_adapter", "attach_lora", "decoder_logits", "next_token_loss",
]


class LoRALinear(Module):
    """A frozen ``Linear`` plus a trainable low-rank update of rank ``rank``.

    A starts uniform in +-1/sqrt(in_features) (PEFT's default), B at zero, so
    a fresh adapter leaves the model unchanged. ``scale`` defaults to alpha / rank.
    """

    def __init__(self, base: Linear, rank: int, alpha: float, rng: np.random.Generator,
                 dropout: float = 0.0, scale: float | None = None) -> None:
        super().__init__()
        out_features, in_features = base.weight.shape
        self.base = base
        bound = 1.0 / np.sqrt(in_features)
        self.lora_a = Parameter(rng.uniform(-bound, bound, (rank, in_features)).astype(np.float32))
        self.lora_b = Parameter(np.zeros((out_features, rank), np.float32))
        self.scale = alpha / rank if scale is None else scale
        self.dropout = dropout
        self.rng = rng  # dropout masks, drawn in training mode only

    def forward(self, x: np.ndarray) -> np.ndarray:
        y = self.base(x)
        if isinstance(x, Tensor):
            h = T.dropout(x, self.dropout, self.rng) if self.training and self.dropout > 0 else x
            down = T.linear(h, self.lora_a.tensor)
            return y + T.linear(down, self.lora_b.tensor) * self.scale
        weights = LoRAWeights.create(self.lora_a.data, self.lora_b.data, self.scale)
        return y + weights.delta(x)


def _projection_owner(model: DecoderModel, layer: int, target: str) -> Module:
    return getattr(model.layers[layer], TARGETS[target].module)  # type: ignore[no-any-return,unused-ignore]


def attach_lora(model: DecoderModel, rank: int = 8, alpha: float = 16.0,
                targets: Sequence[str] = DEFAULT_TARGETS, seed: int = 0, *,
                dropout: float = 0.0, config: AdapterConfig | None = None) -> list[LoRALinear]:
    """Freeze ``model`` and wrap every projection the config targets in every layer.

    Pass ``config`` (an ``AdapterConfig``) or the loose ``rank``/``alpha``/``targets``/
    ``dropout``; returns the adapters in (layer, target) order. The config is kept on
    the model as ``model.lora_config`` for ``adapter_from_model``.
    """
    if config is None:
        config = AdapterConfig(rank=rank, alpha=alpha, dropout=dropout, targets=tuple(targets))
    model.freeze()
    rng = np.random.default_rng(seed)
    adapters = []
    for layer in range(len(model.layers)):
        for target in config.targets:
            owner = _projection_owner(model, layer, target)
            base = getattr(owner, target, None)
            if not isinstance(base, Linear):
                raise InvalidInput(
                    f"layer {layer}: no plain linear projection {target!r} to adapt "
                    f"(found {type(base).__name__})", target=target,
                )
            adapter = LoRALinear(base, config.rank, config.alpha, rng, config.dropout, config.scale)
            setattr(owner, target, adapter)
            adapters.append(adapter)
    model.lora_config = config
    return adapters


def adapted_layers(model: DecoderModel) -> dict[Key, LoRALinear]:
    """Every ``LoRALinear`` in the model by (layer, target)."""
    found: dict[Key, LoRALinear] = {}
    for layer in range(len(model.layers)):
        for target, spec in TARGETS.items():
            module = getattr(getattr(model.layers[layer], spec.module), target, None)
            if isinstance(module, LoRALinear):
                found[(layer, target)] = module
    return found


def adapter_from_model(model: DecoderModel, config: AdapterConfig | None = None) -> LoRAAdapter:
    """A snapshot (copies) of the model's adapter weights, as a ``LoRAAdapter``."""
    config = config or getattr(model, "lora_config", None)
    if config is None:
        raise InvalidInput("the model carries no LoRA config; pass one or use attach_lora first")
    layers = adapted_layers(model)
    if not layers:
        raise InvalidInput("the model has no LoRA layers to take an adapter from")
    weights = {key: (np.array(m.lora_a.data, np.float32), np.array(m.lora_b.data, np.float32))
               for key, m in layers.items()}
    return LoRAAdapter(config, weights)


def attach_adapter(model: DecoderModel, adapter: LoRAAdapter, model_digest: str | None = None,
                   seed: int = 0) -> list[LoRALinear]:
    """Wrap the adapter's projections in trainable ``LoRALinear`` layers holding its weights."""
    adapter.check_fits(model, model_digest)
    layers = attach_lora(model, seed=seed, config=adapter.config)
    for (layer, target), module in adapted_layers(model).items():
        a, b = adapter.weights.get((layer, target), (None, None))
        if a is None or b is None:  # a projection the adapter leaves alone in this layer
            module.lora_a.data[...] = 0.0
            module.lora_b.data[...] = 0.0
            continue
        module.lora_a.data[...] = a
        module.lora_b.data[...] = b
    return layers


def decoder_logits(model: DecoderModel, ids: np.ndarray) -> Tensor:
    """Logits (T, vocab) at every position of one sequence of token ids, as a Tensor."""
    return model.sequence_logits(ids)


def next_token_loss(model: DecoderModel, ids: np.ndarray) -> Tensor:
    """Mean cross-entropy of predicting each token from the ones before it."""
    logits = decoder_logits(model, ids)
    return cross_entropy(logits[:-1], logits._lift(np.asarray(ids[1:], dtype=np.int64)))
