"""Per-step training receipts, chained by digest, and the parameter digest they carry.

Each receipt names its step, the digest of the rows it trained on, the loss,
the gradient norm, the learning rate, the token count and the precision the
step computed in (with f16, the loss scale and whether the step was skipped
for an overflow); every N steps it also carries the digest of the trainable
parameters. A run resumed under another budget adds a ``BudgetChange`` link.
Each receipt's digest covers the previous one's, so the log cannot be edited
in the middle.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from psionic.core.digest import digest_chunks, digest_json


def parameter_digest(named: Iterable[tuple[str, np.ndarray]]) -> str:
    """``sha256`` over every (name, dtype, shape, bytes) in name order."""

    def chunks() -> Iterable[bytes]:
        for name, array in sorted(named, key=lambda item: item[0]):
            a = np.ascontiguousarray(array)
            yield f"{name}\0{a.dtype.str}\0{a.shape}\0".encode()
            yield a.tobytes()

    return digest_chunks(chunks())


@dataclass(frozen=True, slots=True)
class StepReceipt:
    step: int
    data: str  # digest of the row digests this step trained on
    loss: float | None  # None when a skipped step's loss was not finite
    grad_norm: float | None
    lr: float
    tokens: int  # tokens seen so far, this step included
    run: str  # the run's identity digest
    prev: str | None  # the previous receipt's digest
    params: str | None = None  # trainable-parameter digest, every N steps
    precision: str = "f32"
    loss_scale: float | None = None  # f16: the scale this step's backward ran under
    skipped: bool = False  # f16: gradients overflowed, the update was skipped and the scale cut

    def body(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def digest(self) -> str:
        return digest_json("train_step", self.body())

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "digest": self.digest}


@dataclass(frozen=True, slots=True)
class BudgetChange:
    """A resumed run continuing under another budget than its checkpoint ran under."""

    step: int  # the checkpoint's step, where the new budget takes over
    budget_from: dict[str, Any]
    budget_to: dict[str, Any]
    run: str
    prev: str | None
    kind: str = "budget_change"

    def body(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def digest(self) -> str:
        return digest_json("train_budget_change", self.body())

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "digest": self.digest}


def rows_digest(row_digests: Iterable[str]) -> str:
    return digest_json("train_rows", list(row_digests))
