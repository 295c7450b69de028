"""Serving several LoRA adapters from one model in one batched forward.

An ``AdapterBank`` installs adapters into a loaded model under a key (the
adapter's digest): each adapted projection becomes a ``MultiLoRALinear``, the
frozen base plus every installed adapter's (A, B) for that projection. A
forward over a flat batch runs the base matmul once over all rows; then, for
each adapter, its rows (the segments whose ``Segment.adapter`` names it) get
that adapter's low-rank delta. Rows of other adapters, and rows without one,
are not touched. The delta kernel is batch-invariant, so each sequence's
output is bit-identical to running it alone with its adapter.

``AdapterRef`` is how receipts name an adapter: a display name, the path it
was loaded from, and its digest (the key it is installed under).

>>> ref = install_adapter(loaded, "out/adapter", name="json")  # doctest: +SKIP
>>> Generation(loaded, prompt, params, adapter=ref)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psionic.array import Tensor
from psionic.core.errors import InvalidInput
from psionic.models.decoder import BATCH_ADAPTERS, DecoderModel
from psionic.models.lora_adapter import LoRAAdapter
from psionic.models.lora_config import TARGETS
from psionic.models.lora_delta import LoRAWeights
from psionic.models.lora_peft import load_peft
from psionic.nn.layers import Linear
from psionic.nn.module import Module


class MultiLoRALinear(Module):
    """A frozen ``Linear`` with any number of adapters, each applied to its own rows of the batch."""

    def __init__(self, base: Linear) -> None:
        super().__init__()
        self.base = base
        self.adapters: dict[str, LoRAWeights] = {}  # by adapter key

    def forward(self, x: Any) -> Any:
        y = self.base(x)
        if isinstance(x, Tensor):
            return y  # the training path selects no serving adapter
        for key, first, end in BATCH_ADAPTERS.get():
            weights = self.adapters.get(key)
            if weights is not None:  # an adapter that does not target this projection adds nothing
                y[first:end] += weights.delta(x[first:end])
        return y


@dataclass(frozen=True, slots=True)
class AdapterRef:
    """An installed adapter as receipts name it; ``digest`` is also its key in the bank."""

    name: str
    path: str
    digest: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "path": self.path, "digest": self.digest}


class AdapterBank:
    """The adapters installed in one model, by digest (mutable: adapters are added while serving)."""

    def __init__(self, model: DecoderModel) -> None:
        self.model = model
        self.adapters: dict[str, LoRAAdapter] = {}

    @classmethod
    def of(cls, model: DecoderModel) -> AdapterBank:
        """The model's bank, created on first use."""
        bank = getattr(model, "adapter_bank", None)
        if bank is None:
            bank = cls(model)
            model.adapter_bank = bank
        return bank  # type: ignore[no-any-return,unused-ignore]

    def __contains__(self, key: object) -> bool:
        return key in self.adapters

    def add(self, adapter: LoRAAdapter, model_digest: str | None = None) -> str:
        """Install ``adapter`` (checked against the model); returns its key, the digest."""
        key = adapter.digest
        if key in self.adapters:
            return key
        adapter.check_fits(self.model, model_digest)
        for (layer, target), (a, b) in adapter.weights.items():
            owner = getattr(self.model.layers[layer], TARGETS[target].module)
            projection = getattr(owner, target)
            if isinstance(projection, Linear):
                projection = MultiLoRALinear(projection)
                setattr(owner, target, projection)
            if not isinstance(projection, MultiLoRALinear):
                raise InvalidInput(
                    f"layer {layer} {target} is a {type(projection).__name__} (a model being trained); "
                    "serve adapters from a freshly loaded model", target=target,
                )
            projection.adapters[key] = LoRAWeights.create(a, b, adapter.config.scale)
        self.adapters[key] = adapter
        return key

    def require(self, key: str) -> LoRAAdapter:
        try:
            return self.adapters[key]
        except KeyError:
            raise InvalidInput(f"no adapter {key} is installed in this model", param="adapter") from None


def install_adapter(loaded: Any, path: str | os.PathLike[str], name: str | None = None) -> AdapterRef:
    """Read a PEFT-layout adapter for ``loaded`` (a ``LoadedModel``) and install it in its bank."""
    adapter = load_peft(path, loaded.config)
    key = AdapterBank.of(loaded.model).add(adapter, loaded.model_digest)
    resolved = Path(path).resolve()
    return AdapterRef(name or resolved.name, str(resolved), key)

