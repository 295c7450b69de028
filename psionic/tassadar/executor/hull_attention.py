"""Hard-max lookups answered by convex hulls: the ``hull`` and ``hull-exact`` attention modes.

Both answer every query exactly as ``LinearAttention`` does (argmax of
``q . k``, ties to the lowest position) in ``O(log n)`` comparisons per head
instead of ``n`` dot products (``psionic.tassadar.hull``):

- ``hull-exact``: one Python ``Hull`` per head over exact rationals (a float
  from the forward pass converts to ``int`` or ``Fraction`` without loss).
  The slow reference.
- ``hull``: the same chains as numba kernels over int64 arrays
  (``psionic.tassadar.hull_kernels``), exact on integer keys within
  ``2^53`` and queries that scale to integers below ``2^62``. The first key
  or query outside that range switches the layer to ``hull-exact``, which
  replays the layer's keys; answers never depend on which one served them.

``dot_products`` counts the score comparisons the queries made (a step of
the bisection compares ``q`` with one chain edge: one dot product), the
figure the scaling benchmark sets against ``LinearAttention``'s ``n`` per
head per query.

>>> import numpy as np
>>> from psionic.tassadar.executor.attention import HeadId
>>> a = HullAttention(heads=(HeadId(0, 0, "h"),), capacity=4)
>>> for t, key in enumerate([(0, 0), (2, -1), (4, -4), (2, -1)]):
...     a.insert(t, np.array([key], dtype=float))
>>> a.query(np.array([[1.0, 1.0]])).tolist()
[1]
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from psionic.tassadar import hull_kernels as K
from psionic.tassadar.executor.attention import MODES, AttentionFactory, HardMaxHeads, HeadId
from psionic.tassadar.hull import Hull, Number


def _exact(v: float) -> Number:
    return int(v) if v.is_integer() else Fraction(v)


class ExactHullAttention(HardMaxHeads):
    """One exact Python ``Hull`` per head (the reference of the fast ``HullAttention``)."""

    def __init__(self, heads: tuple[HeadId, ...], capacity: int) -> None:
        super().__init__(heads, capacity)
        self.hulls = [Hull() for _ in heads]

    @property
    def dot_products(self) -> int:
        return sum(h.upper.comparisons + h.lower.comparisons for h in self.hulls)

    def insert(self, position: int, keys: np.ndarray) -> None:
        for hull, (x, y) in zip(self.hulls, keys.tolist(), strict=True):
            hull.insert(position, (_exact(x), _exact(y)))

    def query(self, queries: np.ndarray) -> np.ndarray:
        out = np.empty(len(self.hulls), dtype=np.int64)
        for h, (hull, (qx, qy)) in enumerate(zip(self.hulls, queries.tolist(), strict=True)):
            answer = hull.query((_exact(qx), _exact(qy)))
            out[h] = -1 if answer is None else answer
        return out


class HullAttention(HardMaxHeads):
    """The hulls of a layer's heads in int64 arrays, searched by numba kernels.

    Mutable: the chains grow (capacity doubles) as positions arrive."""

    def __init__(self, heads: tuple[HeadId, ...], capacity: int) -> None:
        super().__init__(heads, capacity)
        h = len(heads)
        room = max(min(capacity, 1024), 4)
        self.xs = np.zeros((2 * h, room), dtype=np.int64)
        self.ys = np.zeros((2 * h, room), dtype=np.int64)
        self.seqs = np.zeros((2 * h, room), dtype=np.int64)
        self.lens = np.zeros(2 * h, dtype=np.int64)
        self.ext = np.full((h, 5), -1, dtype=np.int64)
        self.counts = np.zeros(1, dtype=np.int64)
        self.out = np.zeros(h, dtype=np.int64)
        self.keys = np.zeros((room, h, 2))  # every key, for a switch to the exact hulls
        self.n = 0
        self.exact: ExactHullAttention | None = None

    @property
    def dot_products(self) -> int:
        return int(self.counts[0]) + (self.exact.dot_products if self.exact else 0)

    def _grow(self, arrays: tuple[str, ...], axis: int) -> None:
        for name in arrays:
            old = getattr(self, name)
            shape = list(old.shape)
            shape[axis] *= 2
            new = np.zeros(shape, dtype=old.dtype)
            new[tuple(slice(0, s) for s in old.shape)] = old
            setattr(self, name, new)

    def _switch_to_exact(self) -> ExactHullAttention:
        exact = ExactHullAttention(self.heads, self.capacity)
        for t in range(self.n):
            exact.insert(t, self.keys[t])
        self.exact = exact
        return exact

    def insert(self, position: int, keys: np.ndarray) -> None:
        if position >= self.keys.shape[0]:
            self._grow(("keys",), 0)
        self.keys[position] = keys
        self.n = position + 1
        if self.exact is not None:
            self.exact.insert(position, keys)
            return
        keys = np.ascontiguousarray(keys, dtype=np.float64)
        longest = K.heads_insert(self.xs, self.ys, self.seqs, self.lens, self.ext, position, keys)
        if longest == K.OUT_OF_RANGE:
            self._switch_to_exact()
        elif longest >= self.xs.shape[1]:
            self._grow(("xs", "ys", "seqs"), 1)

    def query(self, queries: np.ndarray) -> np.ndarray:
        if self.exact is None:
            queries = np.ascontiguousarray(queries, dtype=np.float64)
            status = K.heads_query(self.xs, self.ys, self.seqs, self.lens, self.ext, queries,
                                   self.out, self.counts)
            if status == 0:
                return self.out.copy()
            self._switch_to_exact()
        assert self.exact is not None
        return self.exact.query(queries)


def register_mode(name: str, factory: AttentionFactory) -> None:
    if name in MODES:
        raise ValueError(f"attention mode {name!r} is already registered")
    MODES[name] = factory


register_mode("hull", HullAttention)
register_mode("hull-exact", ExactHullAttention)
