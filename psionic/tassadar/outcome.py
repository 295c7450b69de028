"""What a run produced, whichever decode mode produced it.

The reference interpreter and the constructed executor both report an
``Outcome``; keeping it apart from both lets the executor report one without
importing any interpreter code.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a run produced. Values are signed integers, as Wasm's i32/i64 read."""

    result: tuple[int, ...]
    outputs: tuple[int, ...]
    trap: str | None
    steps: int
    tokens: array  # array('H') of trace token ids
    memory: bytes
    globals: tuple[int, ...]
