"""Attention as ggml's CPU backend computes it without flash attention.

For one sequence: ``q (T_new, H, D)`` at positions ``start ..``; the caches
``k, v (T_total, H_kv, D)`` hold f16 values (llama.cpp's default cache type).

- ``kq = mul_mat(K, Q)``: Q is rounded to f16; with two or more query rows
  llamafile's tinyBLAS f16 GEMM computes each score as 16 lanes, lane ``l``
  a fused chain over ``l, l + 16, ..`` of the head dimension, reduced by
  ``_mm512_reduce_add_ps``; with one query row ggml's ``ggml_vec_dot_f16``
  keeps four such 16-lane accumulators over steps of 64, adds them as
  ``(s0 + s2) + (s1 + s3)`` and reduces the same way.
- ``soft_max_ext``: ``w = kq * scale`` (masked keys ``-inf``), ``max``, ``e =
  v_expf(w - max)``, the sum of each 16-key block's ``reduce_add`` accumulated
  in double, ``p = e * (float)(1.0 / sum)``.
- ``kqv = mul_mat(V^T, P)``: P rounded to f16, the same GEMM (or dot) orders
  over the keys (the cache length padded to 256 by llama.cpp only adds zeros).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from psionic.backends.cpu.ggml.scalar import fma32, hsum16, to_f16, v_expf


@njit(cache=True)
def _dot_lanes(a, a0, a_step, b, b0, b_step, n, valid, single):
    """Dot of ``a[a0 + i*a_step]`` and ``b[b0 + i*b_step]``, ``i < n`` (n % 64 == 0 when
    ``single``, n % 16 == 0 otherwise), in tinyBLAS's order or ``ggml_vec_dot_f16``'s.

    Terms from ``valid`` on are zero in ``b`` (padding: ``fma(a, 0, acc) == acc``) and
    are skipped, so ``a`` is never read there."""
    if single:
        acc = np.zeros(64, np.float32)
        for i0 in range(0, n, 64):
            for j in range(64):
                i = i0 + j
                if i < valid:
                    acc[j] = fma32(a[a0 + i * a_step], b[b0 + i * b_step], acc[j])
        lanes = np.empty(16, np.float32)
        for lane in range(16):
            lanes[lane] = (acc[lane] + acc[32 + lane]) + (acc[16 + lane] + acc[48 + lane])
        return hsum16(lanes)
    lanes = np.zeros(16, np.float32)
    for i0 in range(0, n, 16):
        for lane in range(16):
            i = i0 + lane
            if i < valid:
                lanes[lane] = fma32(a[a0 + i * a_step], b[b0 + i * b_step], lanes[lane])
    return hsum16(lanes)


@njit(cache=True, parallel=True)
def _attention(q, k, v, start, scale, window, single, out):
    t_new, n_heads, d = q.shape
    n_kv = k.shape[1]
    group = n_heads // n_kv
    kf = k.reshape(-1)
    vf = v.reshape(-1)
    for item in prange(t_new * n_heads):
        i = item // n_heads
        h = item % n_heads
        g = h // group
        pos = start + i
        first = 0
        if window > 0 and pos - window + 1 > 0:
            first = pos - window + 1
        n_keys = pos + 1
        padded = (n_keys + 63) // 64 * 64
        q16 = np.empty(d, np.float32)
        for c in range(d):
            q16[c] = to_f16(q[i, h, c])
        w = np.full(padded, -np.inf, np.float32)
        for j in range(first, n_keys):
            s = _dot_lanes(kf, (j * n_kv + g) * d, 1, q16, 0, 1, d, d, single)
            w[j] = s * scale
        mx = np.float32(-np.inf)
        for j in range(first, n_keys):
            if w[j] > mx:
                mx = w[j]
        e = np.zeros(padded, np.float32)
        for j in range(first, n_keys):
            e[j] = v_expf(w[j] - mx)
        total = 0.0
        for b0 in range(0, padded, 16):
            total += np.float64(hsum16(e[b0 : b0 + 16]))
        inv = np.float32(1.0 / total)
        p = np.zeros(padded, np.float32)
        for j in range(first, n_keys):
            p[j] = to_f16(e[j] * inv)
        for c in range(d):
            out[i, h, c] = _dot_lanes(vf, g * d + c, n_kv * d, p, 0, 1, padded, n_keys, single)


def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, start: int, scale: float,
              window: int = 0, single: bool | None = None) -> np.ndarray:
    """ggml's attention of ``q (T_new, H, D)`` over f16-valued caches ``k, v (T_total, H_kv, D)``.

    ``single`` selects ggml's one-query-row path (default: ``T_new == 1``).
    """
    q = np.ascontiguousarray(q, dtype=np.float32)
    out = np.empty_like(q)
    if single is None:
        single = q.shape[0] == 1
    _attention(q, np.ascontiguousarray(k, dtype=np.float32), np.ascontiguousarray(v, dtype=np.float32),
               int(start), np.float32(scale), int(window), bool(single), out)
    return out
