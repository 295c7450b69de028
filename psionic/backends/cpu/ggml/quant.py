"""Quantized matmul as ggml's CPU backend does it: 8-bit activation blocks, integer block dots.

``quantize_q8(x, with_sum)`` is ggml's x86 ``quantize_row_q8_0`` / ``quantize_row_q8_1``
for every row of ``x``: per block of 32, ``amax = max |x|``, ``d = amax / 127``
(stored as f16), ``q = rint(x * (127 / amax))`` (ties to even), and for Q8_1
``s = f16(d * sum(q))``. All of it is elementwise float32 arithmetic, so numpy
reproduces it exactly.

The dot kernels then follow ggml's AVX2 ``ggml_vec_dot_*`` (the AVX-512 VNNI
build uses them, with exact ``vpdpbusd`` integer sums): per block, eight int32
lanes each summing four products ``q_w * q_x`` (elements ``4l .. 4l + 3``),
converted to float32 and accumulated lane by lane with one fma by the block's
scale product ``d_w * d_x``; the lanes are then reduced with ``hsum_float_8``.
Q4_1 adds ``sum_b m_w * s_x`` kept in a scalar beside the lanes. llamafile's
tinyBLAS Q8_0 GEMM, which llama.cpp uses for batches of two or more rows,
performs the same operations per output, so one kernel serves both.

Outputs are computed independently, so the result of a row never depends on
the batch or the thread count, as in ggml.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from psionic.backends.cpu.ggml.scalar import fma32, half_at, hsum8

QK = 32
BLOCK_BYTES = {"q4_1": 20, "q8_0": 34}


def quantize_q8(x: np.ndarray, with_sum: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of float32 ``x (M, K)`` as Q8_0 / Q8_1 blocks: ``(q int8 (M, K), d (M, K/32),
    s (M, K/32))`` with ``d`` and ``s`` the f16 values widened to float32 (``s`` zero
    without ``with_sum``)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    m, k = x.shape
    blocks = x.reshape(m, k // QK, QK)
    amax = np.abs(blocks).max(axis=2)
    d = amax / np.float32(127.0)
    with np.errstate(divide="ignore"):
        inv = np.where(amax != 0, np.float32(127.0) / amax, np.float32(0.0)).astype(np.float32)
    q = np.rint(blocks * inv[:, :, None]).astype(np.int32)
    if with_sum:
        s = (d * q.sum(axis=2).astype(np.float32)).astype(np.float16).astype(np.float32)
    else:
        s = np.zeros_like(d)
    return (q.astype(np.int8).reshape(m, k), d.astype(np.float16).astype(np.float32), s)


@njit(cache=True)
def _dot_q4_1_row(row, xq, xd, xs, nb):
    acc = np.zeros(8, np.float32)
    summs = np.float32(0.0)
    for b in range(nb):
        at = 20 * b
        summs = fma32(half_at(row, at + 2), xs[b], summs)
        dd = half_at(row, at) * xd[b]
        base = 32 * b
        for lane in range(8):
            isum = 0
            for t in range(4):
                e = 4 * lane + t
                byte = np.int32(row[at + 4 + (e & 15)])
                q = (byte & 15) if e < 16 else (byte >> 4)
                isum += q * np.int32(xq[base + e])
            acc[lane] = fma32(dd, np.float32(isum), acc[lane])
    return hsum8(acc) + summs


@njit(cache=True)
def _dot_q8_0_row(row, xq, xd, nb):
    acc = np.zeros(8, np.float32)
    for b in range(nb):
        at = 34 * b
        dd = half_at(row, at) * xd[b]
        base = 32 * b
        for lane in range(8):
            isum = 0
            for t in range(4):
                e = 4 * lane + t
                w = np.int32(row[at + 2 + e])
                if w >= 128:
                    w -= 256
                isum += w * np.int32(xq[base + e])
            acc[lane] = fma32(dd, np.float32(isum), acc[lane])
    return hsum8(acc)


@njit(cache=True, parallel=True)
def _matmul_q4_1(w, xq, xd, xs, out):
    nb = xq.shape[1] // 32
    for n in prange(w.shape[0]):
        row = w[n]
        for m in range(xq.shape[0]):
            out[m, n] = _dot_q4_1_row(row, xq[m], xd[m], xs[m], nb)


@njit(cache=True, parallel=True)
def _matmul_q8_0(w, xq, xd, out):
    nb = xq.shape[1] // 32
    for n in prange(w.shape[0]):
        row = w[n]
        for m in range(xq.shape[0]):
            out[m, n] = _dot_q8_0_row(row, xq[m], xd[m], nb)


def matmul_q4_1(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``x (M, K)`` times packed Q4_1 rows ``w (N, K/32*20)``: ggml's ``vec_dot_q4_1_q8_1``."""
    xq, xd, xs = quantize_q8(x, with_sum=True)
    out = np.empty((x.shape[0], w.shape[0]), np.float32)
    _matmul_q4_1(w, xq, xd, xs, out)
    return out


def matmul_q8_0(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``x (M, K)`` times packed Q8_0 rows ``w (N, K/32*34)``: ggml's ``vec_dot_q8_0_q8_0``
    (and tinyBLAS's Q8_0 GEMM, the same operations per output)."""
    xq, xd, _ = quantize_q8(x, with_sum=False)
    out = np.empty((x.shape[0], w.shape[0]), np.float32)
    _matmul_q8_0(w, xq, xd, out)
    return out
