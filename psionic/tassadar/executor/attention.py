"""Hard-max attention lookups of the executor, one implementation per decode mode.

Every hard-max head of the executor has 2-D keys and 2-D queries (``wq`` and
``wk`` are ``(H, 2, D)``), so a head's lookup is: given the keys ``k_j``
inserted at positions ``0 .. t`` and a query ``q``, return the position
``argmax_j q . k_j``; on an exact tie the *lowest* position wins (what
``np.argmax`` returns). Uniform heads are not looked up here: the model keeps
their running sums.

The interface a decode mode implements is ``HardMaxHeads``, the hard-max
heads of one layer together:

- ``insert(position, keys)``: ``keys`` is ``(H, 2)``, row ``h`` the key of head
  ``h`` at ``position``. Positions arrive in order ``0, 1, 2, ...``, each once,
  and stay below ``capacity`` (an upper bound, not an allocation: a run's
  length is unknown until it halts, so an implementation grows as it goes).
- ``query(queries) -> (H,)`` int positions: ``queries`` is ``(H, 2)``; row
  ``h`` is answered over every key of head ``h`` inserted so far (the
  current position's own key included: the model inserts, then queries).

Scores are exact: keys and queries hold integer values whose products stay
below 2**53 (``layout.py`` states the bounds), so float64 arithmetic decides
every comparison exactly, and an implementation may rely on that (or use
integer arithmetic on the same values).

A mode that cannot serve some head (for example a hull over keys it does not
support) declines in its constructor by raising ``UnsupportedOperation``
naming the layer and head; nothing is decoded then. The ``heads`` argument
gives each head's ``(layer, index, name)`` for such messages.

``LinearAttention`` is the brute-force O(n) reference: every query scores all
keys. Modes are registered in ``MODES`` by decode-mode name.

>>> import numpy as np
>>> a = LinearAttention(heads=(HeadId(0, 0, "h"),), capacity=4)
>>> for t, key in enumerate([(0, 0), (2, -1), (4, -4), (2, -1)]):
...     a.insert(t, np.array([key], dtype=float))
>>> a.query(np.array([[1.0, 1.0]])).tolist()  # (1, 1) . (2, -1) = 1, first at position 1
[1]
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class HeadId:
    """Which head: layer index, head index within the layer, and its name in the model card."""

    layer: int
    index: int
    name: str


class HardMaxHeads(ABC):
    """The hard-max heads of one layer: keys in position order, argmax lookups (ties: lowest)."""

    def __init__(self, heads: tuple[HeadId, ...], capacity: int) -> None:
        self.heads = heads
        self.capacity = capacity

    @abstractmethod
    def insert(self, position: int, keys: np.ndarray) -> None:
        """Add ``keys`` (H, 2) of every head at ``position`` (the next position in order)."""

    @abstractmethod
    def query(self, queries: np.ndarray) -> np.ndarray:
        """For ``queries`` (H, 2), the position (H,) of each head's maximal ``q . k``."""


class LinearAttention(HardMaxHeads):
    """Brute force: every query scores every inserted key (O(n) per head per token)."""

    def __init__(self, heads: tuple[HeadId, ...], capacity: int) -> None:
        super().__init__(heads, capacity)
        self.keys = np.zeros((2, len(heads), min(capacity, 1 << 12)))
        self.n = 0

    def insert(self, position: int, keys: np.ndarray) -> None:
        if position >= self.keys.shape[2]:  # double the history arrays
            grown = np.zeros((2, len(self.heads), max(position + 1, 2 * self.keys.shape[2])))
            grown[:, :, : self.n] = self.keys[:, :, : self.n]
            self.keys = grown
        self.keys[:, :, position] = keys.T
        self.n = position + 1

    def query(self, queries: np.ndarray) -> np.ndarray:
        n = self.n
        scores = self.keys[0, :, :n] * queries[:, :1] + self.keys[1, :, :n] * queries[:, 1:]
        return np.argmax(scores, axis=1)


AttentionFactory = Callable[[tuple[HeadId, ...], int], HardMaxHeads]
MODES: dict[str, AttentionFactory] = {"linear": LinearAttention}
