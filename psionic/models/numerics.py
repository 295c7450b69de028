"""How a model's forward pass rounds: the numerics a load selects and receipts record.

- ``f32`` (the default): psionic's own kernels, float32 products over the
  decoded weights in one fixed order; batch-invariant.
- ``llamacpp``: llama.cpp's CPU numerics reproduced bit for bit (8-bit
  activation blocks, f16 attention, ggml's reduction orders and exp), for
  agreement with llama.cpp's outputs; like llama.cpp, a token's result depends
  on whether it was evaluated alone or in a batch.

>>> numerics_for("llamacpp").batch_invariant
False
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psionic.core.errors import InvalidInput

DEFAULT = "f32"


@dataclass(frozen=True, slots=True)
class Numerics:
    name: str
    description: str
    batch_invariant: bool

    def determinism(self) -> dict[str, Any]:
        """The runtime manifest's determinism posture under these numerics."""
        if self.batch_invariant:
            return {
                "posture": "deterministic",
                "batch_invariant": True,
                "note": "fixed reduction order; results do not depend on batch composition",
            }
        return {
            "posture": "deterministic",
            "batch_invariant": False,
            "numerics": self.name,
            "note": "llama.cpp's CPU kernels reproduced bit for bit; a token evaluated alone "
                    "takes its one-row kernels, in a batch its GEMM ones",
        }


NUMERICS: dict[str, Numerics] = {
    n.name: n
    for n in (
        Numerics("f32", "psionic's float32 kernels, batch-invariant", True),
        Numerics("llamacpp", "llama.cpp's CPU numerics, bit for bit", False),
    )
}


def numerics_for(name: str) -> Numerics:
    found = NUMERICS.get(name)
    if found is None:
        raise InvalidInput(
            f"unknown numerics {name!r}; choose one of {', '.join(sorted(NUMERICS))}", numerics=name
        )
    return found
