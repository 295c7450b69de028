"""Causal, grouped-query attention for one sequence, in float32.

``attention(q, k, v, scale, window)``: ``q`` is ``(T_new, H, D)`` for the
newest ``T_new`` positions of a sequence whose key and value caches ``k``,
``v`` are ``(T_total, H_kv, D)`` (the new positions last). Query ``i`` sits
at position ``p = T_total - T_new + i`` and sees keys ``j <= p`` (and, with a
sliding ``window``, only ``j > p - window``). Head ``h`` reads kv head
``h // (H // H_kv)``.

Numerics, per (query, head), always in this order: scores
``s_j = dot16(q, k_j) * scale`` (16-lane fma dot, fixed ``vsum`` tree);
``mx = max_j s_j``; ``e_j = exp(s_j - mx)``; ``den = sum_j e_j`` added in
increasing ``j``; ``o = sum_j e_j * v_j`` as lane-wise fma in increasing
``j``; output ``o * (1 / den)``. Every (query, head) is computed on its own,
so a query's output is the same bits whether it is computed in a prefill
chunk or alone at decode, and a sequence never depends on any other.

>>> import numpy as np
>>> q = np.ones((1, 2, 16), np.float32); kv = np.ones((3, 1, 16), np.float32)
>>> attention(q, kv, kv, scale=0.25).shape
(1, 2, 16)
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from psionic.backends.cpu import threads as _threads  # noqa: F401  (OpenMP policy first)
from psionic.backends.cpu.simd import vfma, vload, vmul, vsplat, vstore, vsum, vzero
from psionic.core.errors import TensorShapeMismatch


@njit(cache=True, parallel=True)
def _attention(q, k, v, scale, window, out):  # type: ignore[no-untyped-def]
    t_new, n_heads, d = q.shape
    t_total, n_kv = k.shape[0], k.shape[1]
    group = n_heads // n_kv
    nch = d // 16
    start = t_total - t_new
    for item in prange(t_new * n_heads):
        i = item // n_heads
        h = item % n_heads
        g = h // group
        pos = start + i
        first = 0
        if window > 0 and pos - window + 1 > 0:
            first = pos - window + 1
        qr = q[i, h]
        scores = np.empty(pos + 1 - first, np.float32)
        mx = np.float32(-np.inf)
        for j in range(first, pos + 1):
            kr = k[j, g]
            acc = vzero()
            for c in range(nch):
                acc = vfma(vload(qr, 16 * c), vload(kr, 16 * c), acc)
            s = vsum(acc) * scale
            scores[j - first] = s
            if s > mx:
                mx = s
        den = np.float32(0.0)
        orow = out[i, h]
        for c in range(nch):
            vstore(orow, 16 * c, vzero())
        for j in range(first, pos + 1):
            e = np.float32(np.exp(scores[j - first] - mx))
            den += e
            es = vsplat(e)
            vr = v[j, g]
            for c in range(nch):
                vstore(orow, 16 * c, vfma(es, vload(vr, 16 * c), vload(orow, 16 * c)))
        inv = vsplat(np.float32(1.0) / den)
        for c in range(nch):
            vstore(orow, 16 * c, vmul(vload(orow, 16 * c), inv))


def attention(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float, window: int = 0
) -> np.ndarray:
    """Causal GQA attention of ``q (T_new, H, D)`` over caches ``k, v (T_total, H_kv, D)``.

    ``window`` > 0 limits each query to its last ``window`` positions
    (itself included); 0 means no limit. Returns float32 ``(T_new, H, D)``.
    """
    q = np.ascontiguousarray(q, dtype=np.float32)
    k = np.ascontiguousarray(k, dtype=np.float32)
    v = np.ascontiguousarray(v, dtype=np.float32)
    if q.ndim != 3 or k.ndim != 3 or k.shape != v.shape:
        raise TensorShapeMismatch(
            f"attention needs q (T_new, H, D) and equal k, v (T_total, H_kv, D); got "
            f"{q.shape}, {k.shape}, {v.shape}",
        )
    t_new, n_heads, d = q.shape
    t_total, n_kv, dk = k.shape
    if dk != d or n_kv == 0 or n_heads % n_kv or t_new > t_total or d % 16:
        raise TensorShapeMismatch(
            f"attention shapes q {q.shape}, k/v {k.shape}: need matching head dim (a multiple "
            "of 16), H a multiple of H_kv, and T_new <= T_total",
            q_shape=list(q.shape), kv_shape=list(k.shape),
        )
    out = np.empty_like(q)
    if q.size:
        _attention(q, k, v, np.float32(scale), int(window), out)
    return out
