"""K-quant matmuls as ggml's CPU backend runs them.

Activations for K-quant weights are quantized to Q8_K (``quantize_row_q8_K_ref``):
per block of 256, ``max`` is the signed value of largest magnitude (the first
one), ``iscale = -127 / max``, ``q = min(127, rint(iscale * x))``, ``d = 1 / iscale``
(float32), and ``bsums`` the integer sums of each 16.

Every integer sum below is exact; only the float operations are ordered:

- Q6_K, fewer than 8 rows: ``ggml_vec_dot_q6_K_q8_K`` (AVX2): eight int32 lanes
  per super-block (lane ``l`` the scaled products of bytes ``4l .. 4l + 3`` of
  each 32-byte vector, less ``32 * (sc[2l] bsum[2l] + sc[2l+1] bsum[2l+1])``),
  ``acc_l = fma(d_x * d_w, (float)lane_l, acc_l)``, then ``hsum_float_8``.
- Q6_K, 8 rows or more: ggml's tiled GEMM: one exact integer ``s1`` per super-block,
  ``acc = acc + ((float)s1 * d_w) * d_x`` (GCC fuses the last multiply-add).
- Q4_K in llama.cpp's CPU_REPACK layout (its default on x86): rows in groups of
  four take ``ggml_gemm_q4_K_8x8_q8_K``, one fma per pair of sub-blocks
  (``acc = fma((float)S, d_w * d_x, acc)``, ``mins = fma((float)M, dmin_w * d_x, mins)``),
  the remaining rows ``ggml_gemv_q4_K_8x8_q8_K``, the same per whole super-block;
  the output is ``acc - mins``.

Q5_0, a 32-element block format, is in ``quant.py`` with Q4_1 and Q8_0.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from psionic.backends.cpu.formats import k_scale_min
from psionic.backends.cpu.ggml.scalar import fma32, half_at, hsum8

QK_K = 256
TILED_MIN_ROWS = 8


def quantize_q8_k(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of ``x (M, K)`` as Q8_K: ``(q int32 (M, K), d float32 (M, K/256), bsums int32 (M, K/16))``."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    m, k = x.shape
    blocks = x.reshape(m, k // QK_K, QK_K)
    at = np.abs(blocks).argmax(axis=2)
    mx = np.take_along_axis(blocks, at[:, :, None], axis=2)[:, :, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        iscale = np.where(mx != 0, np.float32(-127.0) / mx, np.float32(0.0)).astype(np.float32)
        d = np.where(mx != 0, np.float32(1.0) / iscale, np.float32(0.0)).astype(np.float32)
    q = np.minimum(np.rint(blocks * iscale[:, :, None]), 127).astype(np.int32).reshape(m, k)
    bsums = q.reshape(m, k // 16, 16).sum(axis=2).astype(np.int32)
    return q, d, bsums


@njit(cache=True)
def _q6_k_values(row, b, qv, sc):
    """Unsigned 6-bit values (0..63) and int8 scales of super-block ``b`` of a Q6_K row."""
    at = 210 * b
    for half in range(2):
        ql = at + 64 * half
        qh = at + 128 + 32 * half
        for i in range(32):
            h = np.int32(row[qh + i])
            lo0 = np.int32(row[ql + i])
            lo1 = np.int32(row[ql + i + 32])
            e = 128 * half + i
            qv[e] = (lo0 & 15) | ((h & 3) << 4)
            qv[e + 32] = (lo1 & 15) | (((h >> 2) & 3) << 4)
            qv[e + 64] = (lo0 >> 4) | (((h >> 4) & 3) << 4)
            qv[e + 96] = (lo1 >> 4) | (((h >> 6) & 3) << 4)
    for s in range(16):
        v = np.int32(row[at + 192 + s])
        sc[s] = v - 256 if v >= 128 else v
    return half_at(row, at + 208)


@njit(cache=True, parallel=True)
def _matmul_q6_k(w, xq, xd, bsums, tiled, out):
    k = xq.shape[1]
    nb = k // QK_K
    for n in prange(w.shape[0]):
        row = w[n]
        qv = np.empty(k, np.int32)  # unsigned 6-bit values of the whole row
        sc = np.empty(16 * nb, np.int32)  # weight of each value: its 16-group's scale
        dw = np.empty(nb, np.float32)
        for b in range(nb):
            dw[b] = _q6_k_values(row, b, qv[QK_K * b : QK_K * (b + 1)], sc[16 * b : 16 * (b + 1)])
        prod = np.empty(k, np.int32)
        for m in range(xq.shape[0]):
            for e in range(k):
                prod[e] = sc[e // 16] * qv[e] * xq[m, e]
            acc = np.zeros(8, np.float32)
            total = np.float32(0.0)
            for b in range(nb):
                base = QK_K * b
                if tiled:  # one exact integer per super-block
                    s1 = 0
                    for e in range(base, base + QK_K):
                        s1 += prod[e]
                    for s in range(16):
                        s1 -= 32 * sc[16 * b + s] * bsums[m, 16 * b + s]
                    total = fma32(np.float32(s1) * dw[b], xd[m, b], total)
                else:  # lane l: bytes 4l .. 4l + 3 of each 32-byte vector
                    for lane in range(8):
                        isum = 0
                        for e0 in range(base, base + QK_K, 32):
                            e = e0 + 4 * lane
                            isum += (prod[e] + prod[e + 1]) + (prod[e + 2] + prod[e + 3])
                        g = 16 * b + 2 * lane
                        isum -= 32 * (sc[g] * bsums[m, g] + sc[g + 1] * bsums[m, g + 1])
                        acc[lane] = fma32(xd[m, b] * dw[b], np.float32(isum), acc[lane])
            out[m, n] = total if tiled else hsum8(acc)


def matmul_q6_k(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    xq, xd, bsums = quantize_q8_k(x)
    out = np.empty((x.shape[0], w.shape[0]), np.float32)
    _matmul_q6_k(w, xq, xd, bsums, x.shape[0] >= TILED_MIN_ROWS, out)
    return out


@njit(cache=True)
def _unpack_q4_k(row, wq, sc, mn, dw, dmin):
    for b in range(dw.shape[0]):
        at = 144 * b
        dw[b] = half_at(row, at)
        dmin[b] = half_at(row, at + 2)
        for j in range(8):
            scale, low = k_scale_min(row, at + 4, j)
            sc[8 * b + j], mn[8 * b + j] = np.int32(scale), np.int32(low)
        for p in range(4):
            for t in range(32):
                byte = np.int32(row[at + 16 + 32 * p + t])
                wq[QK_K * b + 64 * p + t] = byte & 15
                wq[QK_K * b + 64 * p + 32 + t] = byte >> 4


@njit(cache=True, parallel=True)
def _matmul_q4_k(w, xq, xd, bsums, gemm_rows, out):
    k = xq.shape[1]
    nb = k // QK_K
    for n in prange(w.shape[0]):
        wq = np.empty(k, np.int32)
        sc = np.empty(8 * nb, np.int32)
        mn = np.empty(8 * nb, np.int32)
        dw = np.empty(nb, np.float32)
        dmin = np.empty(nb, np.float32)
        _unpack_q4_k(w[n], wq, sc, mn, dw, dmin)
        for m in range(xq.shape[0]):
            pairwise = m < gemm_rows  # gemm: one fma per pair of sub-blocks; gemv: per super-block
            acc = np.float32(0.0)
            mins = np.float32(0.0)
            for b in range(nb):
                scale = dw[b] * xd[m, b]
                dscale = dmin[b] * xd[m, b]
                s_total = 0
                m_total = 0
                for p in range(4):
                    s_pair = 0
                    m_pair = 0
                    for j in (2 * p, 2 * p + 1):
                        isum = 0
                        for e in range(QK_K * b + 32 * j, QK_K * b + 32 * j + 32):
                            isum += wq[e] * xq[m, e]
                        s_pair += sc[8 * b + j] * isum
                        m_pair += mn[8 * b + j] * (bsums[m, 16 * b + 2 * j] + bsums[m, 16 * b + 2 * j + 1])
                    if pairwise:
                        acc = fma32(np.float32(s_pair), scale, acc)
                        mins = fma32(np.float32(m_pair), dscale, mins)
                    else:
                        s_total += s_pair
                        m_total += m_pair
                if not pairwise:
                    acc = fma32(np.float32(s_total), scale, acc)
                    mins = fma32(np.float32(m_total), dscale, mins)
            out[m, n] = acc - mins


def matmul_q4_k_repacked(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Q4_K rows as llama.cpp's CPU_REPACK kernels compute them (gemm on groups of four rows
    when there are more than three, gemv on the rest)."""
    xq, xd, bsums = quantize_q8_k(x)
    m = x.shape[0]
    out = np.empty((m, w.shape[0]), np.float32)
    _matmul_q4_k(w, xq, xd, bsums, m - m % 4 if m > 3 else 0, out)
    return out
