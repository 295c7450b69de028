"""Quantized matmul and row gather on the CPU: ``x @ W.T`` without dequantizing W up front.

Numerics (the contract every path keeps, and the tests check bit for bit):

- Weights are decoded to float32 sixteen at a time by ``formats.deq16``: the
  reference dequantization (``reference.dequantize``, equal to
  ``gguf.quants.dequantize``) exactly for scale-only formats, and with one
  fused rounding of ``d * q + m`` for formats with an offset (see
  ``formats.py``). ``get_rows`` returns these same values. Activations stay
  float32 and are never re-quantized, so the result is as accurate as an f32
  matmul over the decoded weights.
- ``out[m, n]`` is one dot product over ``K`` with 16 lanes: lane ``l`` keeps
  ``acc_l = fma(w[k], x[m, k], acc_l)`` for ``k = l, l + 16, l + 32, ...`` in
  increasing order, starting from +0.0; the lanes are then summed in the fixed
  pairwise tree of ``simd.vsum``. No other order is ever used.
- Every path (four weight rows at a time decoded in registers for decode, register
  tiles of 4 x 4 over pre-decoded rows for prefill, leftovers one by one, any
  thread count) performs that same sequence of IEEE operations
  for every output, so row ``m`` of the result is bit-identical whether it is
  computed alone or in any batch, in any position. Batch invariance holds by
  construction, not by luck.

Threads: ``prange`` over output rows (decode) or blocks of 16 output rows
(prefill); ``launch.py`` keeps small jobs on the calling thread and calls
compiled specialisations directly.

>>> import numpy as np
>>> from psionic.backends.quant_matrix import QuantMatrix
>>> from psionic.core.dtypes import DType
>>> w = QuantMatrix.from_array(DType.get("f32"), np.eye(16, dtype=np.float32))
>>> x = np.arange(16, dtype=np.float32)[None, :]
>>> bool((matmul(x, w) == x).all())
True
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from psionic.backends.cpu import kernel_cache  # noqa: F401  (before any cached kernel)
from psionic.backends.cpu.formats import BF16, deq16, kernel_format
from psionic.backends.cpu.launch import frozen, launch
from psionic.backends.cpu.simd import prefetch, vfma, vload, vstore, vsum, vsum4, vzero
from psionic.backends.quant_matrix import QuantMatrix
from psionic.core.errors import TensorShapeMismatch, UnsupportedOperation

TILE_M = 4  # activation rows per register tile
TILE_N = 4  # weight rows per register tile
BLOCK_N = 16  # weight rows decoded together and swept over all of x
SMALL_M = 4  # below this many rows, decode weights straight from the packed bytes
PREFETCH_ROWS = 8  # decode prefetches the group of four rows this far ahead


@njit(cache=True)
def _dot_packed4(fmt, r0, r1, r2, r3, xr, nch):
    """Dot products of ``xr`` with four packed weight rows, decoded in registers.

    Four rows at once keep four independent fma chains in flight; each row's
    chain is the same as it would be alone (chunks 0, 1, 2, ... in order).
    """
    a0 = vzero(); a1 = vzero(); a2 = vzero(); a3 = vzero()  # noqa: E702
    for c in range(0, nch - 1, 2):
        u = vload(xr, 16 * c)
        a0 = vfma(deq16(fmt, r0, c), u, a0); a1 = vfma(deq16(fmt, r1, c), u, a1)  # noqa: E702
        a2 = vfma(deq16(fmt, r2, c), u, a2); a3 = vfma(deq16(fmt, r3, c), u, a3)  # noqa: E702
        v = vload(xr, 16 * c + 16)
        a0 = vfma(deq16(fmt, r0, c + 1), v, a0); a1 = vfma(deq16(fmt, r1, c + 1), v, a1)  # noqa: E702
        a2 = vfma(deq16(fmt, r2, c + 1), v, a2); a3 = vfma(deq16(fmt, r3, c + 1), v, a3)  # noqa: E702
    if fmt <= BF16 and nch & 1:  # only float rows can end in half a block (folds away otherwise)
        u = vload(xr, 16 * (nch - 1))
        a0 = vfma(deq16(fmt, r0, nch - 1), u, a0); a1 = vfma(deq16(fmt, r1, nch - 1), u, a1)  # noqa: E702
        a2 = vfma(deq16(fmt, r2, nch - 1), u, a2); a3 = vfma(deq16(fmt, r3, nch - 1), u, a3)  # noqa: E702
    return vsum4(a0, a1, a2, a3)


@njit(cache=True)
def _dot_f32(wr, xr, nch):
    acc = vzero()
    for c in range(nch):
        acc = vfma(vload(wr, 16 * c), vload(xr, 16 * c), acc)
    return vsum(acc)


@njit(cache=True)
def _rows_quad(fmt, w, n, x, out, nch):
    """Output columns ``n .. n + 3`` (fewer at the end of ``w``) for every row of x."""
    last = w.shape[0] - 1
    # rows past the end repeat row n; their results are not kept
    r0 = w[n]
    r1 = w[n + 1] if n + 1 <= last else r0
    r2 = w[n + 2] if n + 2 <= last else r0
    r3 = w[n + 3] if n + 3 <= last else r0
    for m in range(x.shape[0]):
        y0, y1, y2, y3 = _dot_packed4(fmt, r0, r1, r2, r3, x[m], nch)
        out[m, n] = y0
        if n + 1 <= last:
            out[m, n + 1] = y1
        if n + 2 <= last:
            out[m, n + 2] = y2
        if n + 3 <= last:
            out[m, n + 3] = y3


@njit(cache=True, parallel=True)
def _matmul_rows(x, w, out, fmt):
    """Few activation rows: each weight row is decoded in registers as it is used.

    ``fmt`` arrives as a ``KernelFormat``, typed as a literal: one specialisation per format.
    """
    nch = x.shape[1] // 16
    span = 4 * w.shape[1]  # bytes of four consecutive rows
    for p in prange((w.shape[0] + 3) // 4):
        n = 4 * p
        ahead = n + PREFETCH_ROWS
        if ahead + 3 < w.shape[0]:
            # weights stream from memory once per token: ask for a later group early
            nxt = w[ahead]
            for at in range(0, span, 64):
                prefetch(nxt, at)
        _rows_quad(fmt, w, n, x, out, nch)


@njit(cache=True)
def _tile_4x4(x, m0, buf, out, n0, nch):
    x0, x1, x2, x3 = x[m0], x[m0 + 1], x[m0 + 2], x[m0 + 3]
    w0, w1, w2, w3 = buf[0], buf[1], buf[2], buf[3]
    a00 = vzero(); a01 = vzero(); a02 = vzero(); a03 = vzero()  # noqa: E702
    a10 = vzero(); a11 = vzero(); a12 = vzero(); a13 = vzero()  # noqa: E702
    a20 = vzero(); a21 = vzero(); a22 = vzero(); a23 = vzero()  # noqa: E702
    a30 = vzero(); a31 = vzero(); a32 = vzero(); a33 = vzero()  # noqa: E702
    for c in range(nch):
        k = 16 * c
        v0 = vload(w0, k); v1 = vload(w1, k); v2 = vload(w2, k); v3 = vload(w3, k)  # noqa: E702
        u = vload(x0, k)
        a00 = vfma(v0, u, a00); a01 = vfma(v1, u, a01); a02 = vfma(v2, u, a02); a03 = vfma(v3, u, a03)  # noqa: E501, E702
        u = vload(x1, k)
        a10 = vfma(v0, u, a10); a11 = vfma(v1, u, a11); a12 = vfma(v2, u, a12); a13 = vfma(v3, u, a13)  # noqa: E501, E702
        u = vload(x2, k)
        a20 = vfma(v0, u, a20); a21 = vfma(v1, u, a21); a22 = vfma(v2, u, a22); a23 = vfma(v3, u, a23)  # noqa: E501, E702
        u = vload(x3, k)
        a30 = vfma(v0, u, a30); a31 = vfma(v1, u, a31); a32 = vfma(v2, u, a32); a33 = vfma(v3, u, a33)  # noqa: E501, E702
    for i, (b0, b1, b2, b3) in enumerate((
        (a00, a01, a02, a03), (a10, a11, a12, a13), (a20, a21, a22, a23), (a30, a31, a32, a33),
    )):
        o = out[m0 + i]
        o[n0], o[n0 + 1], o[n0 + 2], o[n0 + 3] = vsum4(b0, b1, b2, b3)


@njit(cache=True, parallel=True)
def _matmul_tiled(x, w, out, fmt):
    """Many activation rows: decode BLOCK_N weight rows once, reuse them for every row of x.

    ``fmt`` is a plain integer code here: decoding is a small, amortised share of the work,
    so one compiled kernel serves every format.
    """
    m_rows, k = x.shape
    n_rows = w.shape[0]
    nch = k // 16
    n_blocks = (n_rows + BLOCK_N - 1) // BLOCK_N
    for blk in prange(n_blocks):
        n0 = blk * BLOCK_N
        nn = min(BLOCK_N, n_rows - n0)
        buf = np.zeros((BLOCK_N, k), np.float32)
        for r in range(nn):
            row = w[n0 + r]
            dst = buf[r]
            for c in range(nch):
                vstore(dst, 16 * c, deq16(fmt, row, c))
        full = nn - nn % TILE_N  # weight rows covered by whole 4 x 4 tiles
        m0 = 0
        while m0 + TILE_M <= m_rows:
            # the same four rows of x meet every tile of the block while they are in L1
            for r0 in range(0, full, TILE_N):
                _tile_4x4(x, m0, buf[r0 : r0 + TILE_N], out, n0 + r0, nch)
            m0 += TILE_M
        for m in range(m_rows):
            first = full if m < m0 else 0
            for r in range(first, nn):
                out[m, n0 + r] = _dot_f32(buf[r], x[m], nch)


@njit(cache=True, parallel=True)
def _get_rows(w, ids, out, fmt):
    """Decode rows ``ids``; ``fmt`` is a plain integer code (one kernel for every format)."""
    nch = out.shape[1] // 16
    for i in prange(ids.shape[0]):
        row = w[ids[i]]
        dst = out[i]
        for c in range(nch):
            vstore(dst, 16 * c, deq16(fmt, row, c))


def _check_k(w: QuantMatrix) -> None:
    if w.cols % 16:
        raise UnsupportedOperation(
            f"cpu kernels need K % 16 == 0; {w.dtype.name} matrix has K = {w.cols}",
            dtype=w.dtype.name, shape=list(w.shape),
        )


def _as_input(x: np.ndarray, w: QuantMatrix) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != w.cols:
        raise TensorShapeMismatch(
            f"matmul of x {x.shape} with a weight of shape {w.shape}: x must be (M, {w.cols})",
            x_shape=list(x.shape), w_shape=list(w.shape),
        )
    return x


def matmul(x: np.ndarray, w: QuantMatrix, out: np.ndarray | None = None) -> np.ndarray:
    """``x @ dequantize(w).T``: float32 ``(M, K)`` times an ``(N, K)`` weight -> ``(M, N)``.

    ``x`` is converted to C-contiguous float32 if it is not already; ``out``, if
    given, must be a C-contiguous float32 ``(M, N)`` array and is returned.
    """
    fmt = kernel_format(w.dtype)
    _check_k(w)
    x = _as_input(x, w)
    shape = (x.shape[0], w.rows)
    if out is None:
        out = np.empty(shape, np.float32)
    elif out.shape != shape or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise TensorShapeMismatch(
            f"out must be a C-contiguous float32 array of shape {shape}",
            out_shape=list(out.shape),
        )
    if x.shape[0] == 0 or w.rows == 0:
        return out
    macs = x.shape[0] * w.rows * w.cols
    if x.shape[0] < SMALL_M:
        launch(_matmul_rows, (fmt.code,), macs, frozen(x), w.data, out, fmt)
    else:
        launch(_matmul_tiled, (), macs, frozen(x), w.data, out, fmt.code)
    return out


def get_rows(w: QuantMatrix, ids: np.ndarray | list[int]) -> np.ndarray:
    """Rows ``ids`` of ``w`` dequantized to float32 ``(len(ids), K)``: an embedding lookup.

    Only the selected rows are decoded, to the values the matmul kernels use
    (``formats.py`` says how they relate to the reference dequantization).
    """
    fmt = kernel_format(w.dtype)
    _check_k(w)
    idx = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= w.rows):
        raise TensorShapeMismatch(
            f"row ids must lie in [0, {w.rows}), got [{idx.min()}, {idx.max()}]",
            rows=w.rows,
        )
    out = np.empty((idx.size, w.cols), np.float32)
    if idx.size:
        launch(_get_rows, (), idx.size * w.cols * 8, w.data, frozen(idx), out, fmt.code)
    return out
