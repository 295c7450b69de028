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
Q4_1 adds ``sum_b m_w * s_x`` kept in a scalar beside the lanes; Q5_0 is Q8_0's
dot on the 5-bit values less 16. llamafile's tinyBLAS Q8_0 and Q5_0 GEMMs, which
llama.cpp uses for batches of two or more rows, perform the same operations per
output, so one kernel serves both. The three formats share one parallel loop and
differ only in the kernel that unpacks a weight row.

Outputs are computed independently, so the result of a row never depends on
the batch or the thread count, as in ggml.
"""

from __future__ import annotations

import types

import numpy as np
from numba import njit, prange

from psionic.backends.cpu.ggml.scalar import fma32, half_at, hsum8

QK = 32
BLOCK_BYTES = {"q4_1": 20, "q5_0": 22, "q8_0": 34}


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
def _unpack_q4_1(row, wq, dw, mw):
    """A Q4_1 row's 4-bit values (element order), scales and mins."""
    for b in range(dw.shape[0]):
        at = 20 * b
        dw[b] = half_at(row, at)
        mw[b] = half_at(row, at + 2)
        for j in range(16):
            byte = np.int32(row[at + 4 + j])
            wq[32 * b + j] = byte & 15
            wq[32 * b + j + 16] = byte >> 4


@njit(cache=True)
def _unpack_q8_0(row, wq, dw, mw):
    """A Q8_0 row's int8 values and scales (no mins: ``mw`` is left untouched)."""
    for b in range(dw.shape[0]):
        at = 34 * b
        dw[b] = half_at(row, at)
        for j in range(32):
            v = np.int32(row[at + 2 + j])
            wq[32 * b + j] = v - 256 if v >= 128 else v


@njit(cache=True)
def _unpack_q5_0(row, wq, dw, mw):
    """A Q5_0 row's values (5 bits less 16, element order) and scales (no mins)."""
    for b in range(dw.shape[0]):
        at = 22 * b
        dw[b] = half_at(row, at)
        qh = np.int64(row[at + 2]) | (np.int64(row[at + 3]) << 8) | (np.int64(row[at + 4]) << 16) \
            | (np.int64(row[at + 5]) << 24)
        for j in range(16):
            byte = np.int32(row[at + 6 + j])
            wq[32 * b + j] = ((byte & 15) | (np.int32((qh >> j) & 1) << 4)) - 16
            wq[32 * b + j + 16] = ((byte >> 4) | (np.int32((qh >> (j + 16)) & 1) << 4)) - 16


@njit(cache=True)
def lanes_dot(wq, dw, xq, xd, prod):
    """sum_b of ``d_w[b] * d_x[b]`` times eight int32 lanes of four products each, as ggml
    accumulates them: ``acc_l = fma(d_w d_x, (float)lane_l, acc_l)``, then ``hsum_float_8``.
    ``prod`` is scratch of the row's length (the integer products, exact)."""
    for e in range(wq.shape[0]):
        prod[e] = wq[e] * np.int32(xq[e])
    acc = np.zeros(8, np.float32)
    for b in range(dw.shape[0]):
        dd = dw[b] * xd[b]
        for lane in range(8):
            e = 32 * b + 4 * lane
            isum = (prod[e] + prod[e + 1]) + (prod[e + 2] + prod[e + 3])
            acc[lane] = fma32(dd, np.float32(isum), acc[lane])
    return hsum8(acc)


# The format's names the loop below reads. The loop is compiled only through
# _block_matmul, which binds both for each format; these module values are never used.
_unpack = None
_HAS_MINS = False


def _block_matmul_loop(w, xq, xd, xs, out):
    """Every weight row unpacked once (in parallel), then dotted with every activation row;
    formats with per-block mins add ``sum_b m_w * s_x`` beside the lanes."""
    k = xq.shape[1]
    nb = k // 32
    for n in prange(w.shape[0]):
        wq = np.empty(k, np.int32)
        prod = np.empty(k, np.int32)
        dw = np.empty(nb, np.float32)
        mw = np.empty(nb, np.float32) if _HAS_MINS else dw  # an unused stand-in without mins
        _unpack(w[n], wq, dw, mw)
        for m in range(xq.shape[0]):
            dot = lanes_dot(wq, dw, xq[m], xd[m], prod)
            if _HAS_MINS:
                summs = np.float32(0.0)
                for b in range(nb):  # GCC contracts ggml's `summs += m * s`
                    summs = fma32(mw[b], xs[m, b], summs)
                dot = dot + summs
            out[m, n] = dot


def _block_matmul(unpack, has_mins: bool, name: str):
    """``_block_matmul_loop`` compiled with ``unpack`` (and the mins term if ``has_mins``).

    The unpack kernel is bound as a global of a copy of the loop, not captured in a
    closure: numba keys its on-disk cache on a pickle of a closure's cells, and a pickled
    dispatcher carries a per-process random id, so a closure over a jitted function is
    recompiled in every process. A global is resolved at compile time instead, and the
    copy's own name keeps one cache file per format.
    """
    template = _block_matmul_loop
    scope = {**template.__globals__, "_unpack": unpack, "_HAS_MINS": has_mins}
    loop = types.FunctionType(template.__code__, scope, name)
    loop.__qualname__ = name
    return njit(cache=True, parallel=True)(loop)


_matmul_q4_1 = _block_matmul(_unpack_q4_1, True, "_matmul_q4_1")
_matmul_q8_0 = _block_matmul(_unpack_q8_0, False, "_matmul_q8_0")
_matmul_q5_0 = _block_matmul(_unpack_q5_0, False, "_matmul_q5_0")


def matmul_q4_1(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``x (M, K)`` times packed Q4_1 rows ``w (N, K/32*20)``: ggml's ``vec_dot_q4_1_q8_1``."""
    xq, xd, xs = quantize_q8(x, with_sum=True)
    out = np.empty((x.shape[0], w.shape[0]), np.float32)
    _matmul_q4_1(w, xq, xd, xs, out)
    return out


def matmul_q8_0(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``x (M, K)`` times packed Q8_0 rows ``w (N, K/32*34)``: ggml's ``vec_dot_q8_0_q8_0``
    (and tinyBLAS's Q8_0 GEMM, the same operations per output)."""
    xq, xd, xs = quantize_q8(x, with_sum=False)
    out = np.empty((x.shape[0], w.shape[0]), np.float32)
    _matmul_q8_0(w, xq, xd, xs, out)
    return out


def matmul_q5_0(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``x (M, K)`` times packed Q5_0 rows ``w (N, K/32*22)``: ``ggml_vec_dot_q5_0_q8_0`` (and
    tinyBLAS's Q5_0 GEMM), the same operations as Q8_0's on the 5-bit values less 16."""
    xq, xd, xs = quantize_q8(x, with_sum=False)
    out = np.empty((x.shape[0], w.shape[0]), np.float32)
    _matmul_q5_0(w, xq, xd, xs, out)
    return out
