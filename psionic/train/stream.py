"""The order in which training rows are read: a fresh seeded permutation per epoch.

The position (epoch, index) is all a checkpoint needs to continue the same
sequence of rows after a restart.

>>> s = RowStream(list("abc"), seed=0)
>>> [s.next() for _ in range(4)] == [s2 for s2 in RowStream(list("abc"), seed=0).take(4)]
True
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Generic, TypeVar

import numpy as np

from psionic.core.errors import InvalidInput

T = TypeVar("T")


class RowStream(Generic[T]):
    """Rows in seeded epoch order (mutable: the position advances)."""

    def __init__(self, rows: Sequence[T], seed: int, shuffle: bool = True) -> None:
        if not rows:
            raise InvalidInput("no training rows: the train split is empty")
        self.rows = rows
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0
        self.index = 0
        self._order = self._order_of(0)

    def _order_of(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(len(self.rows))
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.rows))

    def next(self) -> T:
        if self.index >= len(self.rows):
            self.epoch, self.index = self.epoch + 1, 0
            self._order = self._order_of(self.epoch)
        row = self.rows[int(self._order[self.index])]
        self.index += 1
        return row

    def take(self, n: int) -> Iterator[T]:
        for _ in range(n):
            yield self.next()

    def state(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "index": self.index, "seed": self.seed, "rows": len(self.rows),
                "shuffle": self.shuffle}

    def restore(self, state: dict[str, Any]) -> None:
        if int(state["rows"]) != len(self.rows) or int(state["seed"]) != self.seed:
            raise InvalidInput(
                f"data position is for {state['rows']} rows with seed {state['seed']}, "
                f"this run has {len(self.rows)} rows with seed {self.seed}"
            )
        self.epoch, self.index = int(state["epoch"]), int(state["index"])
        self._order = self._order_of(self.epoch)
