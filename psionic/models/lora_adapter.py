"""A LoRA adapter as data: its config and one (A, B) pair per adapted projection, and its digest.

Weights are kept in the row order of the GGUF file the adapter applies to (for
the llama family the Q and K projections' output rows are in GGUF's RoPE
pair order; ``lora_peft`` converts to and from the Hugging Face order). The
digest covers the config and every matrix's shape and bytes, so it does not
depend on how a file lays them out: an adapter exported to PEFT and read back
has the same digest.

>>> import numpy as np
>>> from psionic.models.lora_config import AdapterConfig
>>> cfg = AdapterConfig(rank=2, alpha=4.0, targets=("q_proj",))
>>> w = {(0, "q_proj"): (np.zeros((2, 16), np.float32), np.zeros((16, 2), np.float32))}
>>> LoRAAdapter(cfg, w).digest.startswith("sha256:")
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from psionic.core.digest import digest_bytes, digest_json
from psionic.core.errors import InvalidInput, TensorShapeMismatch
from psionic.models.lora_config import TARGETS, AdapterConfig

DIGEST_KIND = "lora_adapter"

Key = tuple[int, str]  # (layer, target)


@dataclass(frozen=True, eq=False)
class LoRAAdapter:
    """``weights[(layer, target)] = (A (rank, in), B (out, rank))``, float32."""

    config: AdapterConfig
    weights: dict[Key, tuple[np.ndarray, np.ndarray]]
    _digest: list[str] = field(default_factory=list, repr=False)  # computed once

    def __post_init__(self) -> None:
        rank = self.config.rank
        for (layer, target), (a, b) in self.weights.items():
            if target not in self.config.targets:
                raise InvalidInput(
                    f"adapter has weights for {target!r} in layer {layer}, which its config does not target",
                    target=target,
                )
            if a.ndim != 2 or b.ndim != 2 or a.shape[0] != rank or b.shape[1] != rank:
                raise TensorShapeMismatch(
                    f"layer {layer} {target}: A {a.shape} and B {b.shape} do not have rank {rank}",
                    layer=layer, target=target,
                )
        if not self.weights:
            raise InvalidInput("an adapter needs at least one adapted projection")

    @property
    def digest(self) -> str:
        if not self._digest:
            self._digest.append(digest_json(DIGEST_KIND, self.record()))
        return self._digest[0]

    def record(self) -> dict[str, Any]:
        """What the digest covers: the config and each matrix's shape and bytes digest."""
        tensors = []
        for (layer, target), (a, b) in sorted(self.weights.items()):
            tensors.append({
                "layer": layer, "target": target,
                "a": [list(a.shape), digest_bytes(np.ascontiguousarray(a, np.float32).tobytes())],
                "b": [list(b.shape), digest_bytes(np.ascontiguousarray(b, np.float32).tobytes())],
            })
        return {"config": self.config.to_record(), "tensors": tensors}

    @property
    def layers(self) -> list[int]:
        return sorted({layer for layer, _ in self.weights})

    def check_fits(self, model: Any, model_digest: str | None = None) -> None:
        """Refuse an adapter made for another model: base digest, layer count and every shape."""
        base = self.config.base_digest
        if base and model_digest and base != model_digest:
            raise InvalidInput(
                f"adapter was made for the model with digest {base}, not {model_digest}",
                param="adapter",
            )
        n_layers = len(model.layers)
        for (layer, target), (a, b) in self.weights.items():
            if not 0 <= layer < n_layers:
                raise InvalidInput(f"adapter targets layer {layer}; the model has {n_layers}", param="adapter")
            projection = getattr(getattr(model.layers[layer], TARGETS[target].module), target)
            weight = getattr(projection, "base", projection).weight
            out_features, in_features = weight.shape
            if a.shape[1] != in_features or b.shape[0] != out_features:
                raise TensorShapeMismatch(
                    f"adapter layer {layer} {target}: A {a.shape}, B {b.shape} do not fit a "
                    f"({out_features}, {in_features}) projection",
                    layer=layer, target=target,
                )
