"""The hull of ``hull.py`` as numba kernels over int64 arrays: hard-max lookups at C speed.

Same chains, same rules, same answers as the Python reference (a test
compares them on random and adversarial sets); only the representation
differs. A layer's heads live in flat arrays: chain ``2h`` is the upper
chain of head ``h`` (keys ``(x, y)``), chain ``2h + 1`` its lower chain
(keys ``(x, -y)``), each sorted by ``x`` in ``xs[c, :lens[c]]``.

Exactness on int64: keys are integers with ``|v| <= 2^53`` and queries are
scaled by a power of two to integers below ``2^62`` (exact for floats). Every
decision is the sign of ``a b + c d`` with ``|a|, |b|, |c|, |d| < 2^62``:
when all four are below ``2^31`` the int64 sum cannot overflow; otherwise
each product is formed exactly from 31-bit limbs as ``hi 2^62 + lo`` and the
two magnitudes are compared. A key or query outside that range makes the
kernel return ``OUT_OF_RANGE`` instead of guessing; the caller then answers
with the exact Python reference.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

I64 = Any  # a Python int or an np.int64: numba types both as int64
# Kernels on the decode loop's per-token path allocate nothing and run without numba's
# reference counting (``_nrt=False``), which otherwise costs two atomic updates per array
# argument per call.
_NO_REFCOUNT: dict[str, Any] = {"_nrt": False}  # a numba option its type stubs do not list
refcount_free = njit(cache=True, **_NO_REFCOUNT)
OUT_OF_RANGE = -2  # positions are >= 0; an empty chain answers -1
KEY_LIMIT = float(1 << 53)  # |key coordinate| bound; differences stay below 2^55
QUERY_LIMIT = float(1 << 62)
_SMALL = 1 << 31
_M31 = (1 << 31) - 1
_M62 = (1 << 62) - 1
# ext columns per head: leftmost x and its lowest position, rightmost x and its lowest
# position, lowest position overall (the q_y == 0 answers)
XMIN, XMIN_SEQ, XMAX, XMAX_SEQ, FIRST = range(5)


@refcount_free
def _mul_magnitude(a: I64, b: I64) -> tuple[int, int]:
    """``a * b`` for 0 <= a, b < 2^62 as ``(hi, lo)``: ``hi 2^62 + lo`` with 0 <= lo < 2^62."""
    a1, a0 = a >> 31, a & _M31
    b1, b0 = b >> 31, b & _M31
    mid = a1 * b0 + a0 * b1  # < 2^63
    lo = a0 * b0 + ((mid & _M31) << 31)  # < 2^63
    hi = a1 * b1 + (mid >> 31) + (lo >> 62)
    return hi, lo & _M62


@refcount_free
def _sign(v: I64) -> int:
    if v > 0:
        return 1
    return -1 if v < 0 else 0


@refcount_free
def sign_dot(a: I64, b: I64, c: I64, d: I64) -> int:
    """The sign of ``a b + c d``, exactly, for |a|, |b|, |c|, |d| < 2^62."""
    if -_SMALL < a < _SMALL and -_SMALL < b < _SMALL and -_SMALL < c < _SMALL \
            and -_SMALL < d < _SMALL:
        return _sign(a * b + c * d)
    s1 = _sign(a) * _sign(b)
    s2 = _sign(c) * _sign(d)
    if s1 == 0 or s2 == 0 or s1 == s2:
        return s1 if s1 != 0 else s2
    h1, l1 = _mul_magnitude(abs(a), abs(b))
    h2, l2 = _mul_magnitude(abs(c), abs(d))
    if h1 != h2:
        return s1 if h1 > h2 else s2
    if l1 != l2:
        return s1 if l1 > l2 else s2
    return 0


@refcount_free
def _orient(ax: I64, ay: I64, bx: I64, by: I64, cx: I64, cy: I64) -> int:
    """Sign of the turn a -> b -> c: > 0 left, < 0 right, 0 collinear."""
    return sign_dot(bx - ax, cy - ay, ay - by, cx - ax)


@refcount_free
def _redundant(ax: I64, ay: I64, aseq: I64, bx: I64, by: I64, bseq: I64,
               cx: I64, cy: I64, cseq: I64) -> bool:
    turn = _orient(ax, ay, bx, by, cx, cy)
    if turn != 0:
        return turn > 0
    return not (bseq < aseq and bseq < cseq)


@njit(cache=True)
def chain_insert(xs: np.ndarray, ys: np.ndarray, sq: np.ndarray, n: I64,
                 seq: I64, x: I64, y: I64) -> int:
    """Insert ``(x, y)`` at position ``seq`` into the upper chain ``[:n]``; the new length.

    The arrays need room for ``n + 1`` points."""
    return chain_insert_at(xs, ys, sq, 0, n, seq, x, y)


@njit(cache=True)
def chain_query(xs: np.ndarray, ys: np.ndarray, sq: np.ndarray, n: I64, qx: I64, qy: I64,
                counts: np.ndarray) -> int:
    """Lowest position among the maximizers of ``qx x + qy y`` on an upper chain (qy > 0)."""
    return chain_query_at(xs, ys, sq, 0, n, qx, qy, counts)


@refcount_free
def chain_insert_at(xs: np.ndarray, ys: np.ndarray, sq: np.ndarray, o: I64, n: I64,
                    seq: I64, x: I64, y: I64) -> int:
    """``chain_insert`` on the chain stored at ``xs[o : o + n]`` (and ``ys``, ``sq``)."""
    lo, hi = 0, n
    if n > 0 and xs[o + n - 1] < x:  # keys arriving in x order append: no search
        lo = n
    while lo < hi:
        mid = (lo + hi) >> 1
        if xs[o + mid] < x:
            lo = mid + 1
        else:
            hi = mid
    i = lo
    if i < n and xs[o + i] == x:
        if y < ys[o + i] or (y == ys[o + i] and seq > sq[o + i]):
            return n
        for m in range(o + i, o + n - 1):  # drop the point this one replaces
            xs[m], ys[m], sq[m] = xs[m + 1], ys[m + 1], sq[m + 1]
        n -= 1
    if 0 < i < n:
        turn = _orient(xs[o + i - 1], ys[o + i - 1], x, y, xs[o + i], ys[o + i])
        if turn > 0 or (turn == 0 and not (seq < sq[o + i - 1] and seq < sq[o + i])):
            return n
    # the new point sits between old indices i - 1 and i; right points j.. survive, left ..k
    j = i
    while j + 1 < n and _redundant(x, y, seq, xs[o + j], ys[o + j], sq[o + j], xs[o + j + 1],
                                   ys[o + j + 1], sq[o + j + 1]):
        j += 1
    k = i - 1
    while k >= 1 and _redundant(xs[o + k - 1], ys[o + k - 1], sq[o + k - 1], xs[o + k],
                                ys[o + k], sq[o + k], x, y, seq):
        k -= 1
    dest = k + 2  # where old index j lands
    if dest > j:
        for m in range(o + n - 1, o + j - 1, -1):
            xs[m + 1], ys[m + 1], sq[m + 1] = xs[m], ys[m], sq[m]
    elif dest < j:
        for m in range(o + j, o + n):
            xs[m - (j - dest)], ys[m - (j - dest)], sq[m - (j - dest)] = xs[m], ys[m], sq[m]
    xs[o + k + 1], ys[o + k + 1], sq[o + k + 1] = x, y, seq
    return k + 2 + n - j


@refcount_free
def _ascends(xs: np.ndarray, ys: np.ndarray, i: I64, qx: I64, qy: I64,
             counts: np.ndarray) -> bool:
    """Whether the score rises along the chain edge ``i -> i + 1``."""
    counts[0] += 1
    return sign_dot(qx, xs[i + 1] - xs[i], qy, ys[i + 1] - ys[i]) > 0


@refcount_free
def _settle(xs: np.ndarray, ys: np.ndarray, sq: np.ndarray, o: I64, n: I64, lo: I64, hi: I64,
            qx: I64, qy: I64, counts: np.ndarray) -> tuple[I64, I64]:
    """The search both queries end with, once the first edge that stops rising is known to lie
    in ``[lo, hi]``: bisection to it, then the lowest position among the points tied with it
    (collinear with the query's level line). Returns (position, chain index of the edge)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if _ascends(xs, ys, mid, qx, qy, counts):
            lo = mid + 1
        else:
            hi = mid
    best: I64 = sq[lo]
    j = lo
    while j + 1 < o + n:
        counts[0] += 1
        if sign_dot(qx, xs[j + 1] - xs[j], qy, ys[j + 1] - ys[j]) != 0:
            break
        j += 1
        best = min(best, sq[j])
    return best, lo


@njit(cache=True)
def chain_query_at(xs: np.ndarray, ys: np.ndarray, sq: np.ndarray, o: I64, n: I64, qx: I64,
                   qy: I64, counts: np.ndarray) -> int:
    """``chain_query`` on the chain stored at ``xs[o : o + n]``."""
    if n == 0:
        return -1
    return _settle(xs, ys, sq, o, n, o, o + n - 1, qx, qy, counts)[0]


@refcount_free
def key_in_range(kx: float, ky: float) -> bool:
    return abs(kx) <= KEY_LIMIT and kx == np.floor(kx) and abs(ky) <= KEY_LIMIT \
        and ky == np.floor(ky)


@njit(cache=True)
def head_insert(xs: np.ndarray, ys: np.ndarray, sq: np.ndarray, lens: np.ndarray,
                ext: np.ndarray, h: I64, position: I64, kx: float, ky: float) -> int:
    """Insert head ``h``'s key (``key_in_range``) at ``position``; its longer chain's length."""
    x, y = np.int64(kx), np.int64(ky)
    up, low = 2 * h, 2 * h + 1
    lens[up] = chain_insert(xs[up], ys[up], sq[up], lens[up], position, x, y)
    lens[low] = chain_insert(xs[low], ys[low], sq[low], lens[low], position, x, -y)
    extremes_insert(ext[h], position, x)
    return max(lens[up], lens[low])


@refcount_free
def extremes_insert(e: np.ndarray, position: I64, x: I64) -> None:
    """Update one head's ``ext`` row (the ``q_y == 0`` answers) with a key at ``x``."""
    if e[FIRST] < 0:
        e[XMIN], e[XMIN_SEQ], e[XMAX], e[XMAX_SEQ], e[FIRST] = x, position, x, position, position
    else:
        if x < e[XMIN] or (x == e[XMIN] and position < e[XMIN_SEQ]):
            e[XMIN], e[XMIN_SEQ] = x, position
        if x > e[XMAX] or (x == e[XMAX] and position < e[XMAX_SEQ]):
            e[XMAX], e[XMAX_SEQ] = x, position
        e[FIRST] = min(e[FIRST], position)


@refcount_free
def extremes_query(e: np.ndarray, ix: I64) -> int:
    """The answer to a query ``(ix, 0)`` from one head's ``ext`` row."""
    return e[XMAX_SEQ] if ix > 0 else e[XMIN_SEQ] if ix < 0 else e[FIRST]


@refcount_free
def scaled_query(qx: float, qy: float) -> tuple[bool, I64, I64]:
    """``(ok, ix, iy)``: the float query scaled by a power of two to integers below 2^62 (a
    float is a dyadic rational: doubling both, exactly, until integral keeps the argmax);
    ``ok`` is False when that is impossible."""
    if not (abs(qx) < QUERY_LIMIT and abs(qy) < QUERY_LIMIT):
        return False, 0, 0
    while qx != np.floor(qx) or qy != np.floor(qy):
        qx, qy = qx * 2.0, qy * 2.0
        if not (abs(qx) < QUERY_LIMIT and abs(qy) < QUERY_LIMIT):
            return False, 0, 0
    return True, np.int64(qx), np.int64(qy)


@njit(cache=True)
def head_query(xs: np.ndarray, ys: np.ndarray, sq: np.ndarray, lens: np.ndarray,
               ext: np.ndarray, h: I64, qx: float, qy: float, counts: np.ndarray) -> int:
    """Head ``h``'s answer to the float query ``(qx, qy)``: a position (-1 while empty), or
    ``OUT_OF_RANGE`` when the query cannot be scaled to integers below 2^62."""
    ok, ix, iy = scaled_query(qx, qy)
    if not ok:
        return OUT_OF_RANGE
    if iy > 0:
        return chain_query(xs[2 * h], ys[2 * h], sq[2 * h], lens[2 * h], ix, iy, counts)
    if iy < 0:
        return chain_query(xs[2 * h + 1], ys[2 * h + 1], sq[2 * h + 1], lens[2 * h + 1],
                           ix, -iy, counts)
    return extremes_query(ext[h], ix)


@njit(cache=True)
def heads_insert(xs: np.ndarray, ys: np.ndarray, sq: np.ndarray, lens: np.ndarray,
                 ext: np.ndarray, position: I64, keys: np.ndarray) -> int:
    """Insert each head's key (``keys`` (H, 2) floats) at ``position``; the longest chain's
    length after it, or ``OUT_OF_RANGE`` (then nothing was inserted)."""
    heads = keys.shape[0]
    for h in range(heads):
        if not key_in_range(keys[h, 0], keys[h, 1]):
            return OUT_OF_RANGE
    longest = 0
    for h in range(heads):
        longest = max(longest, head_insert(xs, ys, sq, lens, ext, h, position, keys[h, 0],
                                           keys[h, 1]))
    return longest


@njit(cache=True)
def heads_query(xs: np.ndarray, ys: np.ndarray, sq: np.ndarray, lens: np.ndarray,
                ext: np.ndarray, queries: np.ndarray, out: np.ndarray, counts: np.ndarray) -> int:
    """Answer each head's query (``queries`` (H, 2) floats) into ``out``; 0, or
    ``OUT_OF_RANGE`` when a query cannot be scaled to integers below 2^62."""
    for h in range(queries.shape[0]):
        answer = head_query(xs, ys, sq, lens, ext, h, queries[h, 0], queries[h, 1], counts)
        if answer == OUT_OF_RANGE:
            return OUT_OF_RANGE
        out[h] = answer
    return 0


# Pooled chains: chain c keeps its points in its own region start[c] .. start[c] + cap[c] of
# three shared pools (x, y, position); a full chain moves to a region twice its size, so memory
# follows the points each chain holds (a chain of every position beside chains of a handful of
# addresses), not the longest chain times the number of chains.
POOL_INITIAL = 16  # points per chain at first


def pool_new(chains: int) -> tuple[np.ndarray, ...]:
    """Empty pools for ``chains`` chains: ``(px, py, ps, start, cap, lens, used)``."""
    size = max(chains, 1) * POOL_INITIAL
    start = np.arange(max(chains, 1), dtype=np.int64) * POOL_INITIAL
    cap = np.full(max(chains, 1), POOL_INITIAL, dtype=np.int64)
    return (np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.int64),
            np.zeros(size, dtype=np.int64), start, cap, np.zeros(max(chains, 1), dtype=np.int64),
            np.array([size], dtype=np.int64))


@njit(cache=True)
def pool_full(cap: np.ndarray, lens: np.ndarray) -> bool:
    """Whether some chain has no room for one more point."""
    for c in range(lens.shape[0]):  # noqa: SIM110  (a plain loop: numba compiles it)
        if lens[c] + 1 > cap[c]:
            return True
    return False


@njit(cache=True)
def pool_room(px: np.ndarray, py: np.ndarray, ps: np.ndarray, start: np.ndarray,
              cap: np.ndarray, lens: np.ndarray, used: np.ndarray) -> tuple:
    """``(px, py, ps)`` with room for one more point in every chain (new pools when they had
    to grow: then the live regions are copied in, compacted, and the old pools are dropped)."""
    grow = 0
    for c in range(lens.shape[0]):
        if lens[c] + 1 > cap[c]:
            grow += 2 * cap[c]
    if grow == 0:
        return px, py, ps
    if used[0] + grow <= px.shape[0]:
        for c in range(lens.shape[0]):
            if lens[c] + 1 > cap[c]:
                at, s, n = used[0], start[c], lens[c]
                px[at : at + n] = px[s : s + n]
                py[at : at + n] = py[s : s + n]
                ps[at : at + n] = ps[s : s + n]
                start[c], cap[c] = at, 2 * cap[c]
                used[0] += cap[c]
        return px, py, ps
    total = 0
    for c in range(lens.shape[0]):
        total += 2 * cap[c] if lens[c] + 1 > cap[c] else cap[c]
    nx = np.empty(2 * total, dtype=np.int64)
    ny = np.empty(2 * total, dtype=np.int64)
    ns = np.empty(2 * total, dtype=np.int64)
    at = 0
    for c in range(lens.shape[0]):
        s, n = start[c], lens[c]
        nx[at : at + n] = px[s : s + n]
        ny[at : at + n] = py[s : s + n]
        ns[at : at + n] = ps[s : s + n]
        if n + 1 > cap[c]:
            cap[c] = 2 * cap[c]
        start[c] = at
        at += cap[c]
    used[0] = at
    return nx, ny, ns


@refcount_free
def pool_insert(px: np.ndarray, py: np.ndarray, ps: np.ndarray, start: np.ndarray,
                lens: np.ndarray, ext: np.ndarray, h: I64, position: I64, kx: float,
                ky: float) -> None:
    """``head_insert`` on pooled chains (``2h``: upper, ``2h + 1``: lower); each chain has room
    for one more point (``pool_room``) and the key is ``key_in_range``."""
    x, y = np.int64(kx), np.int64(ky)
    up, low = 2 * h, 2 * h + 1
    lens[up] = chain_insert_at(px, py, ps, start[up], lens[up], position, x, y)
    lens[low] = chain_insert_at(px, py, ps, start[low], lens[low], position, x, -y)
    extremes_insert(ext[h], position, x)


@njit(cache=True)
def pool_query(px: np.ndarray, py: np.ndarray, ps: np.ndarray, start: np.ndarray,
               lens: np.ndarray, ext: np.ndarray, h: I64, qx: float, qy: float,
               counts: np.ndarray) -> int:
    """``head_query`` on pooled chains."""
    ok, ix, iy = scaled_query(qx, qy)
    if not ok:
        return OUT_OF_RANGE
    if iy > 0:
        return chain_query_at(px, py, ps, start[2 * h], lens[2 * h], ix, iy, counts)
    if iy < 0:
        return chain_query_at(px, py, ps, start[2 * h + 1], lens[2 * h + 1], ix, -iy, counts)
    return extremes_query(ext[h], ix)


@refcount_free
def chain_query_near(xs: np.ndarray, ys: np.ndarray, sq: np.ndarray, o: I64, n: I64, qx: I64,
                     qy: I64, hint: I64, counts: np.ndarray) -> tuple[I64, I64]:
    """``chain_query_at``, searched outward from chain index ``hint`` (galloping, then
    bisection): O(log d) comparisons for an answer d points from the hint, the same answer
    from any hint (the first edge that stops rising is unique). Returns (position, index)."""
    if n == 0:
        return -1, 0
    last = o + n - 1  # the first i in [o, last] where the score stops rising (last always)
    h = o + min(max(hint, 0), n - 1)
    if h < last and _ascends(xs, ys, h, qx, qy, counts):
        lo, hi, step = h + 1, last, 1
        while lo < last:
            p = min(lo + step - 1, last)
            if p == last:
                break
            if _ascends(xs, ys, p, qx, qy, counts):
                lo = p + 1
                step *= 2
            else:
                hi = p
                break
    else:
        lo, hi, step = o, h, 1
        while hi > o:
            p = max(hi - step, o)
            if _ascends(xs, ys, p, qx, qy, counts):
                lo = p + 1
                break
            hi = p
            step *= 2
    best, at = _settle(xs, ys, sq, o, n, lo, hi, qx, qy, counts)
    return best, at - o


@refcount_free
def pool_query_near(px: np.ndarray, py: np.ndarray, ps: np.ndarray, start: np.ndarray,
                    lens: np.ndarray, ext: np.ndarray, h: I64, qx: float, qy: float,
                    hints: np.ndarray, counts: np.ndarray) -> int:
    """``pool_query`` searched from ``hints`` (this querier's last answers on the upper and
    the lower chain, updated here): a querier whose answers move little pays little."""
    ok, ix, iy = scaled_query(qx, qy)
    if not ok:
        return OUT_OF_RANGE
    if iy == 0:
        return extremes_query(ext[h], ix)
    side = 0 if iy > 0 else 1
    c = 2 * h + side
    best, index = chain_query_near(px, py, ps, start[c], lens[c], ix, abs(iy), hints[side],
                                   counts)
    hints[side] = index
    return best
