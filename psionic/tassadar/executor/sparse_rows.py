"""A matrix kept as its nonzero entries row by row, and its product with a vector.

The executor's matrices are almost all zeros (a few percent of their entries
are set), so the reference forward multiplies only the entries that exist.
A row's sum runs over its entries in column order, one float64 at a time;
the construction keeps every product and partial sum it relies on exact, so
the order of a row's terms does not change the forward's decisions.

>>> import numpy as np
>>> m = SparseRows.of(np.array([[0.0, 2.0, 0.0], [1.0, 0.0, 3.0]]))
>>> m.times(np.array([1.0, 10.0, 100.0])).tolist(), m.entries
([20.0, 301.0], 3)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit


@njit(cache=True)
def _times(starts: np.ndarray, columns: np.ndarray, values: np.ndarray, x: np.ndarray,
           out: np.ndarray) -> None:
    for r in range(out.shape[0]):
        s = 0.0
        for k in range(starts[r], starts[r + 1]):
            s += values[k] * x[columns[k]]
        out[r] = s


def times_reference(dense: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The same product, written out term by term over every column (the slow reference)."""
    out = np.zeros(dense.shape[0])
    for r in range(dense.shape[0]):
        for c in range(dense.shape[1]):
            out[r] += dense[r, c] * x[c]
    return out


@dataclass(frozen=True, slots=True)
class SparseRows:
    """Compressed rows: row ``r``'s entries are ``values[starts[r]:starts[r+1]]`` at
    ``columns[starts[r]:starts[r+1]]``."""

    shape: tuple[int, int]
    starts: np.ndarray  # int64, rows + 1
    columns: np.ndarray  # int64
    values: np.ndarray  # float64

    @classmethod
    def of(cls, dense: np.ndarray) -> SparseRows:
        rows, cols = np.nonzero(dense)
        starts = np.zeros(dense.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=dense.shape[0]), out=starts[1:])
        return cls((int(dense.shape[0]), int(dense.shape[1])), starts,
                   cols.astype(np.int64), np.ascontiguousarray(dense[rows, cols], dtype=np.float64))

    @property
    def entries(self) -> int:
        return int(self.values.shape[0])

    def times(self, x: np.ndarray) -> np.ndarray:
        """``dense @ x`` for a float64 vector ``x`` of ``shape[1]`` entries."""
        out = np.empty(self.shape[0])
        _times(self.starts, self.columns, self.values, np.ascontiguousarray(x, dtype=np.float64),
               out)
        return out
