"""Slow, obvious dequantization of every supported weight format, in plain numpy.

This is the oracle the kernels are tested against (and is itself tested
against ``gguf.quants.dequantize``). Each format registers one function that
turns ``(n_blocks, type_size)`` bytes into ``(n_blocks, block_size)`` float32
values; the layouts are written out element by element rather than with
clever reshapes, so each can be checked against the format's definition.

Formats, with ``x = value`` of element ``i`` in a block (f16 fields are
little-endian IEEE half floats):

- ``q8_0``  (34 B / 32):  ``d:f16, q:i8[32]``;            ``x = d * q[i]``
- ``q4_0``  (18 B / 32):  ``d:f16, qs:u8[16]``;           ``x = d * (nib(i) - 8)``
- ``q4_1``  (20 B / 32):  ``d:f16, m:f16, qs:u8[16]``;    ``x = d * nib(i) + m``
- ``q5_0``  (22 B / 32):  ``d:f16, qh:u32, qs:u8[16]``;   ``x = d * (nib(i) | hbit(i) << 4 - 16)``
- ``q5_1``  (24 B / 32):  ``d:f16, m:f16, qh:u32, qs``;   ``x = d * (nib(i) | hbit(i) << 4) + m``
  where ``nib(i)`` is the low nibble of ``qs[i]`` for ``i < 16`` and the high
  nibble of ``qs[i - 16]`` otherwise, and ``hbit(i)`` is bit ``i`` of ``qh``.
- ``q4_k`` (144 B / 256): ``d, dmin:f16, scales:u8[12], qs:u8[128]``; eight
  sub-blocks of 32 with 6-bit scale ``sc[j]`` and min ``mn[j]``;
  ``x = (d * sc[j]) * q - (dmin * mn[j])``; sub-blocks ``2c`` and ``2c + 1``
  are the low and high nibbles of ``qs[32c : 32c + 32]``.
- ``q5_k`` (176 B / 256): ``d, dmin, scales[12], qh:u8[32], qs:u8[128]``; as
  q4_k with a fifth bit: bit ``j`` of ``qh[l]`` for element ``l`` of sub-block ``j``.
- ``q6_k`` (210 B / 256): ``ql:u8[128], qh:u8[64], scales:i8[16], d:f16``;
  sixteen sub-blocks of 16, ``x = (d * scales[i // 16]) * (q - 32)``.
- ``f32``, ``f16``, ``bf16``: one element per "block".

>>> import numpy as np
>>> from psionic.core.dtypes import DType
>>> block = np.zeros((1, 34), np.uint8); block[0, :2] = np.frombuffer(np.float16(0.5).tobytes(), np.uint8)
>>> block[0, 2] = 3
>>> float(dequantize_blocks(DType.get("q8_0"), block)[0, 0])
1.5
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from psionic.backends.quant_matrix import QuantMatrix
from psionic.core.dtypes import DType
from psionic.core.errors import TensorShapeMismatch, UnsupportedQuantType

Dequantizer = Callable[[np.ndarray], np.ndarray]
_DEQUANTIZERS: dict[str, Dequantizer] = {}


def register_dequantizer(name: str) -> Callable[[Dequantizer], Dequantizer]:
    def add(fn: Dequantizer) -> Dequantizer:
        if name in _DEQUANTIZERS:
            raise ValueError(f"a reference dequantizer for {name!r} is already registered")
        _DEQUANTIZERS[name] = fn
        return fn

    return add


def reference_formats() -> list[str]:
    """Names of the formats that have a reference dequantizer."""
    return sorted(_DEQUANTIZERS)


def dequantize_blocks(dtype: DType, blocks: np.ndarray) -> np.ndarray:
    """``(n_blocks, type_size)`` uint8 -> ``(n_blocks, block_size)`` float32."""
    fn = _DEQUANTIZERS.get(dtype.name)
    if fn is None:
        raise UnsupportedQuantType(
            f"no reference dequantizer for {dtype.name}", dtype=dtype.name
        )
    blocks = np.ascontiguousarray(blocks, dtype=np.uint8)
    if blocks.ndim != 2 or blocks.shape[1] != dtype.type_size:
        raise TensorShapeMismatch(
            f"{dtype.name} blocks must be (n, {dtype.type_size}) bytes, got {blocks.shape}",
            dtype=dtype.name,
        )
    return fn(blocks)


def dequantize(w: QuantMatrix) -> np.ndarray:
    """The whole matrix as float32 ``(N, K)``."""
    blocks = w.data.reshape(-1, w.dtype.type_size)
    return dequantize_blocks(w.dtype, blocks).reshape(w.shape)


def reference_matmul(x: np.ndarray, w: QuantMatrix) -> np.ndarray:
    """``x @ dequantize(w).T`` in float64: the accuracy oracle for matmul kernels."""
    return np.asarray(x, np.float64) @ dequantize(w).astype(np.float64).T


# --- field helpers --------------------------------------------------------------


def _f16(blocks: np.ndarray, at: int) -> np.ndarray:
    """The little-endian f16 at byte ``at`` of each block, as a float32 column."""
    return blocks[:, at : at + 2].copy().view("<f2").astype(np.float32)


def _nibbles(qs: np.ndarray) -> np.ndarray:
    """``(n, 16)`` bytes -> ``(n, 32)``: element i < 16 is qs[i] & 15, else qs[i - 16] >> 4."""
    return np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int32)


def _high_bits(qh: np.ndarray) -> np.ndarray:
    """``(n, 4)`` bytes holding a little-endian u32 -> ``(n, 32)`` bits, bit i for element i."""
    word = qh.copy().view("<u4").astype(np.int64)  # (n, 1)
    return ((word >> np.arange(32)) & 1).astype(np.int32)


def _k_scales(scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 12 packed bytes of q4_k / q5_k -> eight 6-bit scales and eight 6-bit mins."""
    sc = np.zeros((scales.shape[0], 8), np.int32)
    mn = np.zeros((scales.shape[0], 8), np.int32)
    s = scales.astype(np.int32)
    for j in range(4):
        sc[:, j] = s[:, j] & 63
        mn[:, j] = s[:, j + 4] & 63
        sc[:, j + 4] = (s[:, j + 8] & 0x0F) | ((s[:, j] >> 6) << 4)
        mn[:, j + 4] = (s[:, j + 8] >> 4) | ((s[:, j + 4] >> 6) << 4)
    return sc, mn


# --- the formats ------------------------------------------------------------------


@register_dequantizer("f32")
def _f32(blocks: np.ndarray) -> np.ndarray:
    return blocks.copy().view("<f4").astype(np.float32)


@register_dequantizer("f16")
def _f16_format(blocks: np.ndarray) -> np.ndarray:
    return blocks.copy().view("<f2").astype(np.float32)


@register_dequantizer("bf16")
def _bf16(blocks: np.ndarray) -> np.ndarray:
    # bf16 is the top half of an f32: shift its 16 bits up.
    half = blocks.copy().view("<u2").astype(np.uint32)
    return (half << 16).view(np.float32)


@register_dequantizer("q8_0")
def _q8_0(blocks: np.ndarray) -> np.ndarray:
    d = _f16(blocks, 0)
    q = blocks[:, 2:34].view(np.int8).astype(np.float32)
    return d * q


@register_dequantizer("q4_0")
def _q4_0(blocks: np.ndarray) -> np.ndarray:
    d = _f16(blocks, 0)
    q = _nibbles(blocks[:, 2:18]) - 8
    return d * q.astype(np.float32)


@register_dequantizer("q4_1")
def _q4_1(blocks: np.ndarray) -> np.ndarray:
    d, m = _f16(blocks, 0), _f16(blocks, 2)
    q = _nibbles(blocks[:, 4:20])
    return d * q.astype(np.float32) + m


@register_dequantizer("q5_0")
def _q5_0(blocks: np.ndarray) -> np.ndarray:
    d = _f16(blocks, 0)
    q = (_nibbles(blocks[:, 6:22]) | (_high_bits(blocks[:, 2:6]) << 4)) - 16
    return d * q.astype(np.float32)


@register_dequantizer("q5_1")
def _q5_1(blocks: np.ndarray) -> np.ndarray:
    d, m = _f16(blocks, 0), _f16(blocks, 2)
    q = _nibbles(blocks[:, 8:24]) | (_high_bits(blocks[:, 4:8]) << 4)
    return d * q.astype(np.float32) + m


@register_dequantizer("q4_k")
def _q4_k(blocks: np.ndarray) -> np.ndarray:
    n = blocks.shape[0]
    d, dmin = _f16(blocks, 0), _f16(blocks, 2)
    sc, mn = _k_scales(blocks[:, 4:16])
    qs = blocks[:, 16:144]
    out = np.empty((n, 256), np.float32)
    for j in range(8):
        chunk = qs[:, 32 * (j // 2) : 32 * (j // 2) + 32]
        q = (chunk >> 4) if j % 2 else (chunk & 0x0F)
        scale = d * sc[:, j : j + 1].astype(np.float32)
        offset = dmin * mn[:, j : j + 1].astype(np.float32)
        out[:, 32 * j : 32 * j + 32] = scale * q.astype(np.float32) - offset
    return out


@register_dequantizer("q5_k")
def _q5_k(blocks: np.ndarray) -> np.ndarray:
    n = blocks.shape[0]
    d, dmin = _f16(blocks, 0), _f16(blocks, 2)
    sc, mn = _k_scales(blocks[:, 4:16])
    qh = blocks[:, 16:48]
    qs = blocks[:, 48:176]
    out = np.empty((n, 256), np.float32)
    for j in range(8):
        chunk = qs[:, 32 * (j // 2) : 32 * (j // 2) + 32]
        low = (chunk >> 4) if j % 2 else (chunk & 0x0F)
        high = (qh >> j) & 1
        q = low.astype(np.int32) | (high.astype(np.int32) << 4)
        scale = d * sc[:, j : j + 1].astype(np.float32)
        offset = dmin * mn[:, j : j + 1].astype(np.float32)
        out[:, 32 * j : 32 * j + 32] = scale * q.astype(np.float32) - offset
    return out


@register_dequantizer("q6_k")
def _q6_k(blocks: np.ndarray) -> np.ndarray:
    n = blocks.shape[0]
    ql, qh = blocks[:, 0:128].astype(np.int32), blocks[:, 128:192].astype(np.int32)
    scales = blocks[:, 192:208].view(np.int8).astype(np.float32)
    d = _f16(blocks, 208)
    q = np.empty((n, 256), np.int32)
    # Each half of 128 elements uses 64 bytes of ql and 32 of qh: element
    # 32g + l of the half takes a nibble of ql[l + 32 (g & 1)] (high if g >= 2)
    # and bits 2g..2g+1 of qh[l].
    for half in range(2):
        lo, hi = ql[:, 64 * half : 64 * half + 64], qh[:, 32 * half : 32 * half + 32]
        for g in range(4):
            src = lo[:, 32 * (g & 1) : 32 * (g & 1) + 32]
            nib = (src >> 4) if g >= 2 else (src & 0x0F)
            q[:, 128 * half + 32 * g : 128 * half + 32 * g + 32] = nib | (((hi >> (2 * g)) & 3) << 4)
    scale = (d * scales).repeat(16, axis=1)
    return scale * (q - 32).astype(np.float32)
