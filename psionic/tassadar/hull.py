"""Hard-max attention over 2-D keys as a dynamic convex hull, in exact arithmetic.

A hard-max head returns the position ``t`` whose key ``k_t`` maximizes
``q . k_t``; among equal scores the lowest position wins (what ``np.argmax``
over the history does). With 2-D keys the maximum lies on the convex hull of
the keys: on its upper chain when ``q_y > 0``, on its lower chain when
``q_y < 0``, and at the leftmost or rightmost ``x`` when ``q_y == 0``.
``Hull`` keeps both chains under insertion and answers a query by binary
search, so a decode step costs ``O(log n)`` comparisons instead of ``n``
dot products.

Exactness: coordinates are Python ints or ``Fraction`` values (floats from
the forward pass convert exactly with ``Fraction(x)``), so every orientation
test and every score comparison is exact and no tie is decided by rounding.

What a chain keeps, and why nothing it drops can ever be the answer (the
set of keys only grows; a dropped point stays dropped):

- a point strictly below the upper chain: for ``q_y > 0`` it scores strictly
  less than one of the two chain points around it;
- of two points with the same ``x``, the lower one (replace-on-same-x): it
  scores strictly less for every ``q_y > 0``; of two equal points, the later;
- a point ``P`` strictly inside a chain segment ``[A, B]``: its score is a
  convex combination of theirs, so whenever ``P`` is a maximizer ``A`` and
  ``B`` are maximizers too, and ``P`` is the answer only if its position is
  below both. So a collinear run keeps its two ends and at most the one
  interior point with the lowest position.

Hence the chain invariant, for consecutive chain points ``a, b, c``: either
``b`` is a strict turn, or the three are collinear and ``b``'s position is
below both neighbours'. Scores along a chain are unimodal with plateaus of
at most three points, so the answer is found by bisection plus a look at
the plateau.

>>> h = Hull()
>>> for t, a in enumerate([3, 5, 3, 7]):  # latest write to address a: key (2Ma, -Ma^2 + t)
...     h.insert(t, (2 * 16 * a, -16 * a * a + t))
>>> h.query((3, 1)), h.query((5, 1)), h.query((0, 0))
(2, 1, 0)
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from fractions import Fraction

Number = int | Fraction
Key = tuple[Number, Number]


def _orient(ax: Number, ay: Number, bx: Number, by: Number, cx: Number, cy: Number) -> Number:
    """Twice the signed area of (a, b, c): > 0 for a left turn, < 0 right, 0 collinear."""
    return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)


class UpperChain:
    """The upper convex chain of a growing point set, sorted by ``x``, for queries with q_y > 0.

    Mutable: it changes with every insertion (lists, not a frozen record).
    """

    __slots__ = ("xs", "ys", "seqs", "comparisons")

    def __init__(self) -> None:
        self.xs: list[Number] = []
        self.ys: list[Number] = []
        self.seqs: list[int] = []
        self.comparisons = 0  # score comparisons made by queries (one dot product each)

    def __len__(self) -> int:
        return len(self.xs)

    def _drop(self, i: int) -> None:
        del self.xs[i], self.ys[i], self.seqs[i]

    def _redundant(self, a: int, b: int, c: int) -> bool:
        """Whether chain point ``b`` (between ``a`` and ``c``) can never be an answer."""
        xs, ys, seqs = self.xs, self.ys, self.seqs
        turn = _orient(xs[a], ys[a], xs[b], ys[b], xs[c], ys[c])
        if turn != 0:
            return turn > 0  # a left turn: b lies strictly below the segment a-c
        return not (seqs[b] < seqs[a] and seqs[b] < seqs[c])

    def insert(self, seq: int, x: Number, y: Number) -> None:
        xs, ys, seqs = self.xs, self.ys, self.seqs
        i = bisect_left(xs, x)
        if i < len(xs) and xs[i] == x:
            if y < ys[i] or (y == ys[i] and seq > seqs[i]):
                return  # dominated by the point already at this x
            self._drop(i)
        if 0 < i < len(xs):
            turn = _orient(xs[i - 1], ys[i - 1], x, y, xs[i], ys[i])
            if turn > 0 or (turn == 0 and not (seq < seqs[i - 1] and seq < seqs[i])):
                return  # under the chain, or a collinear point a neighbour outranks
        xs.insert(i, x)
        ys.insert(i, y)
        seqs.insert(i, seq)
        while i + 2 < len(xs) and self._redundant(i, i + 1, i + 2):
            self._drop(i + 1)
        while i >= 2 and self._redundant(i - 2, i - 1, i):
            self._drop(i - 1)
            i -= 1

    def query(self, qx: Number, qy: Number) -> int | None:
        """The lowest position among the maximizers of ``qx x + qy y`` (needs ``qy > 0``)."""
        xs, ys, seqs = self.xs, self.ys, self.seqs
        n = len(xs)
        if n == 0:
            return None
        # first i whose step to i + 1 does not increase the score (monotone along the chain)
        lo, hi = 0, n - 1
        while lo < hi:
            mid = (lo + hi) // 2
            self.comparisons += 1
            if qx * (xs[mid + 1] - xs[mid]) + qy * (ys[mid + 1] - ys[mid]) > 0:
                lo = mid + 1
            else:
                hi = mid
        best = seqs[lo]
        j = lo
        while j + 1 < n:
            self.comparisons += 1
            if qx * (xs[j + 1] - xs[j]) + qy * (ys[j + 1] - ys[j]) != 0:
                break
            j += 1
            best = min(best, seqs[j])
        return best


class Hull:
    """Hard-max lookup over 2-D keys: both chains plus the extremes of ``x`` for ``q_y == 0``.

    Mutable: keys arrive one position at a time during decoding.
    """

    __slots__ = ("upper", "lower", "_xmin", "_xmax", "_first", "count")

    def __init__(self) -> None:
        self.upper = UpperChain()  # keys (x, y)
        self.lower = UpperChain()  # keys (x, -y): its upper chain is the lower chain
        self._xmin: tuple[Number, int] | None = None  # (x, lowest position with that x)
        self._xmax: tuple[Number, int] | None = None
        self._first: int | None = None  # lowest position overall (q == 0: every score ties)
        self.count = 0

    def insert(self, position: int, key: Key) -> None:
        x, y = key
        self.upper.insert(position, x, y)
        self.lower.insert(position, x, -y)
        if self._xmin is None or (x, position) < self._xmin:
            self._xmin = (x, position)
        if self._xmax is None or x > self._xmax[0] or (x == self._xmax[0]
                                                       and position < self._xmax[1]):
            self._xmax = (x, position)
        if self._first is None or position < self._first:
            self._first = position
        self.count += 1

    def query(self, q: Key) -> int | None:
        """The position of the first maximizer of ``q . key``; None while empty."""
        qx, qy = q
        if qy > 0:
            return self.upper.query(qx, qy)
        if qy < 0:
            return self.lower.query(qx, -qy)
        extreme = self._xmax if qx > 0 else self._xmin if qx < 0 else None
        return extreme[1] if extreme is not None else self._first


def brute_force(keys: Sequence[Key], q: Key) -> int | None:
    """The slow reference: scan every key; ties go to the lowest index (as ``np.argmax``)."""
    best, arg = None, None
    for t, (x, y) in enumerate(keys):
        s = q[0] * x + q[1] * y
        if best is None or s > best:
            best, arg = s, t
    return arg


def hull_of(keys: Iterable[Key]) -> Hull:
    h = Hull()
    for t, k in enumerate(keys):
        h.insert(t, k)
    return h
