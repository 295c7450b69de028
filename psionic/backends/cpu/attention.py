"""Causal, grouped-query attention for one sequence, in float32.

``attention(q, k, v, scale, window)``: ``q`` is ``(T_new, H, D)`` for the
newest ``T_new`` positions of a sequence whose key and value caches ``k``,
``v`` are ``(T_total, H_kv, D)`` (the new positions last). Query ``i`` sits
at position ``p = T_total - T_new + i`` and sees keys ``j <= p`` (and, with a
sliding ``window``, only ``j > p - window``). Head ``h`` reads kv head
``h // (H // H_kv)``.

Numerics, per (query, head), always in this order: scores
``s_j = dot16(q, k_j) * scale`` (16-lane fma dot, fixed ``vsum`` tree);
``mx = max_j s_j``; ``e_j = vexp(s_j - mx)`` (``simd.vexp``, a fixed
polynomial, not the host libm); ``den`` = the ``vsum`` of 16 lane sums, lane
``l`` adding ``e_j`` for ``j = l, l + 16, ...`` in order; ``o = sum_j e_j *
v_j`` as lane-wise fma in increasing ``j``; output ``o * (1 / den)``.

Every (query, head) is computed on its own, so a query's output is the same
bits whether it is computed in a prefill chunk or alone at decode, and a
sequence never depends on any other. The head dimension must be a multiple
of 16; the caches are contiguous arrays (no paged block table).

>>> import numpy as np
>>> q = np.ones((1, 2, 16), np.float32); kv = np.ones((3, 1, 16), np.float32)
>>> attention(q, kv, kv, scale=0.25).shape
(1, 2, 16)
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from psionic.backends.cpu import kernel_cache  # noqa: F401  (before any cached kernel)
from psionic.backends.cpu.launch import frozen, launch
from psionic.backends.cpu.simd import (
    vadd,
    vexp,
    vfma,
    vload,
    vmul,
    vsplat,
    vstore,
    vsub,
    vsum,
    vsum4,
    vzero,
)
from psionic.core.errors import TensorShapeMismatch


@njit(cache=True, parallel=True)
def _attention(q, k, v, scale, window, out):
    t_new, n_heads, d = q.shape
    t_total, n_kv = k.shape[0], k.shape[1]
    group = n_heads // n_kv
    nch = d // 16
    start = t_total - t_new
    kf = k.reshape(-1)
    vf = v.reshape(-1)
    for item in prange(t_new * n_heads):
        # Zig-zag over queries (0, T-1, 1, T-2, ...) so that every thread's contiguous
        # share of items holds short and long causal rows alike.
        slot = item // n_heads
        h = item % n_heads
        i = slot // 2 if slot % 2 == 0 else t_new - 1 - slot // 2
        g = h // group
        pos = start + i
        first = 0
        if window > 0 and pos - window + 1 > 0:
            first = pos - window + 1
        n_keys = pos + 1 - first
        padded = (n_keys + 15) // 16 * 16
        qr = q[i, h]
        scores = np.empty(padded, np.float32)
        # Four keys at a time: four independent fma chains over the chunks of q.
        stride = n_kv * d
        for j0 in range(0, n_keys - 3, 4):
            at = ((first + j0) * n_kv + g) * d
            a0 = vzero(); a1 = vzero(); a2 = vzero(); a3 = vzero()  # noqa: E702
            for c in range(nch):
                qv = vload(qr, 16 * c)
                a0 = vfma(qv, vload(kf, at + 16 * c), a0)
                a1 = vfma(qv, vload(kf, at + stride + 16 * c), a1)
                a2 = vfma(qv, vload(kf, at + 2 * stride + 16 * c), a2)
                a3 = vfma(qv, vload(kf, at + 3 * stride + 16 * c), a3)
            s0, s1, s2, s3 = vsum4(a0, a1, a2, a3)
            scores[j0] = s0 * scale
            scores[j0 + 1] = s1 * scale
            scores[j0 + 2] = s2 * scale
            scores[j0 + 3] = s3 * scale
        for j in range(n_keys - n_keys % 4, n_keys):
            at = ((first + j) * n_kv + g) * d
            acc = vzero()
            for c in range(nch):
                acc = vfma(vload(qr, 16 * c), vload(kf, at + 16 * c), acc)
            scores[j] = vsum(acc) * scale
        mx = np.float32(-np.inf)
        for j in range(n_keys):
            if scores[j] > mx:
                mx = scores[j]
        for j in range(n_keys, padded):
            scores[j] = -np.inf
        top = vsplat(mx)
        den = vzero()
        for j0 in range(0, padded, 16):
            e = vexp(vsub(vload(scores, j0), top))
            vstore(scores, j0, e)
            den = vadd(den, e)
        inv = vsplat(np.float32(1.0) / vsum(den))
        orow = out[i, h]
        # Four output chunks at a time: four independent fma chains over j.
        for c0 in range(0, nch - 3, 4):
            a0 = vzero(); a1 = vzero(); a2 = vzero(); a3 = vzero()  # noqa: E702
            for j in range(n_keys):
                e = vsplat(scores[j])
                at = ((first + j) * n_kv + g) * d + 16 * c0
                a0 = vfma(e, vload(vf, at), a0)
                a1 = vfma(e, vload(vf, at + 16), a1)
                a2 = vfma(e, vload(vf, at + 32), a2)
                a3 = vfma(e, vload(vf, at + 48), a3)
            vstore(orow, 16 * c0, vmul(a0, inv))
            vstore(orow, 16 * c0 + 16, vmul(a1, inv))
            vstore(orow, 16 * c0 + 32, vmul(a2, inv))
            vstore(orow, 16 * c0 + 48, vmul(a3, inv))
        for c in range(nch - nch % 4, nch):
            acc = vzero()
            for j in range(n_keys):
                acc = vfma(vsplat(scores[j]), vload(vf, ((first + j) * n_kv + g) * d + 16 * c), acc)
            vstore(orow, 16 * c, vmul(acc, inv))


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
        keys = t_total if window <= 0 else min(window, t_total)
        launch(_attention, (), 2 * t_new * n_heads * keys * d,
               frozen(q), frozen(k), frozen(v), np.float32(scale), int(window), out)
    return out
