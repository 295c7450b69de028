"""What a trainer minimises: next-token cross-entropy on the masked positions of a packed row.

An objective owns the trainable parameters (by name) and turns one row into a
loss Tensor: the sum of cross-entropy over the row's target tokens times
``scale``, so a step over several rows can weigh every target token alike.
Only the positions that predict a target reach the output projection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from psionic.array import Tensor
from psionic.data.packing import PackedRow
from psionic.nn.losses import cross_entropy
from psionic.nn.module import Module, Parameter

# (token ids (T,), positions (R,), the example of each token (T,)) -> logits (R, vocab) at those positions
LogitsAt = Callable[[np.ndarray, np.ndarray, np.ndarray], Tensor]


class Objective(Protocol):
    def named_parameters(self) -> list[tuple[str, Parameter]]: ...

    def loss(self, row: PackedRow, scale: float) -> Tensor: ...

    def set_training(self, mode: bool) -> None:
        """Training mode (dropout on) or evaluation mode."""

    def generators(self) -> dict[str, np.random.Generator]:
        """The random generators the loss draws from (dropout), by a stable name, for checkpoints."""

    def to_backend(self, name: str) -> None:
        """Compute on backend ``name`` (parameters' tensors and the inputs made there)."""


def target_positions(row: PackedRow) -> tuple[np.ndarray, np.ndarray]:
    """(positions whose logits predict a target, those targets): position p predicts token p+1."""
    positions = np.flatnonzero(row.mask[1:])
    return positions, row.ids[positions + 1].astype(np.int64)


class CausalLMObjective:
    """Masked next-token loss of ``model`` through ``logits_at``."""

    def __init__(self, model: Module, logits_at: LogitsAt) -> None:
        self.model = model
        self.logits_at = logits_at

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        return [(n, p) for n, p in self.model.named_parameters() if p.requires_grad and p.is_float_array]

    def set_training(self, mode: bool) -> None:
        self.model.train(mode)

    def to_backend(self, name: str) -> None:
        self.model.to_backend(name)

    def generators(self) -> dict[str, np.random.Generator]:
        """Every distinct generator held by a module as ``rng``, named by its first holder."""
        found: dict[str, np.random.Generator] = {}
        seen: set[int] = set()
        for name, module in self.model.named_modules():
            rng = module.__dict__.get("rng")
            if isinstance(rng, np.random.Generator) and id(rng) not in seen:
                seen.add(id(rng))
                found[name or "model"] = rng
        return found

    def loss(self, row: PackedRow, scale: float) -> Tensor:
        positions, targets = target_positions(row)
        if len(positions) == 0:
            raise ValueError("a row without target tokens has no loss")
        logits = self.logits_at(row.ids.astype(np.int64), positions, row.documents)
        mean = cross_entropy(logits, logits._lift(targets))
        return mean * float(len(positions) * scale)


def decoder_logits_at(model: Any) -> LogitsAt:
    """``logits_at`` for a ``DecoderModel``: one packed row, each example attending only to itself,
    logits only where a loss needs them."""
    return lambda ids, positions, documents: model.sequence_logits(ids, positions, documents)
