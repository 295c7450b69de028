"""How each weight format turns into float32, sixteen elements at a time.

``deq16(fmt, row, c)`` decodes elements ``16c .. 16c + 15`` of one packed
weight row (a uint8 array) into a ``f32x16`` vector. ``fmt`` is a compile-time
literal, so each kernel is compiled once per format with only that format's
branch; the chain of ``if fmt == ...`` below is how numba specialises, and the
Python-side registry ``FORMATS`` is the one place that names the formats.

Values, against the reference dequantizer (``psionic.backends.reference``,
itself bit-equal to ``gguf.quants.dequantize``), with ``q`` the small integer
read from the bits:

- scale-only formats (f32, f16, bf16, q8_0, q4_0, q5_0, q6_k) decode to
  exactly the reference's float32 (``d * q``, ``(d * sc) * q``; for q4_0 the
  fused ``fma(q, d, -8d)`` is the same single rounding of ``d * (q - 8)``,
  except that a zero comes out as +0.0 where the reference may have -0.0);
- formats with an offset (q4_1, q5_1, q4_k, q5_k) decode to
  ``fma(q, d, m)`` / ``fma(q, d * sc, -(dmin * mn))``: one rounding where the
  reference rounds the product and the sum separately, so a value may differ
  from the reference by one unit in the last place.

Four-bit formats go through ``simd.vnib_affine`` (a 16-entry table lookup on
AVX-512 hosts, arithmetic elsewhere; identical values).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, types
from numba.extending import typeof_impl

from psionic.backends.cpu import (
    MATMUL_DTYPES,
    kernel_cache,  # noqa: F401  (before any cached kernel)
)
from psionic.backends.cpu.simd import (
    f16_at,
    vadd,
    vfma,
    vload_bf16b,
    vload_bits,
    vload_f16b,
    vload_f32b,
    vload_i8b,
    vload_u32_bits,
    vmul,
    vnib_affine,
    vsplat,
    vsub,
)
from psionic.core.dtypes import DType
from psionic.core.errors import UnsupportedQuantType


@dataclass(frozen=True, slots=True)
class KernelFormat:
    """One weight format the CPU kernels decode: its dtype and kernel code.

    Passed to a kernel, it is typed as the integer literal ``code``: numba
    compiles (and caches) one specialisation per format and the dispatcher
    finds it from the argument's type alone, with no per-call recompile check.
    """

    dtype: DType
    code: int  # the literal ``fmt`` the kernels specialise on

    def __index__(self) -> int:  # numba unboxes the argument as this integer
        return self.code


@typeof_impl.register(KernelFormat)
def _typeof_kernel_format(val: KernelFormat, c: object) -> types.IntegerLiteral:
    return types.IntegerLiteral(val.code)


FORMATS: dict[str, KernelFormat] = {}


def _register(name: str, code: int) -> None:
    if name in FORMATS or any(f.code == code for f in FORMATS.values()):
        raise ValueError(f"kernel format {name!r} / code {code} is already registered")
    FORMATS[name] = KernelFormat(DType.get(name), code)


# Codes are the kernels' compile-time literals, in the order the backend declares its formats.
F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K = range(11)
for _code, _name in enumerate(MATMUL_DTYPES):
    _register(_name, _code)
_NAMED = {"f32": F32, "f16": F16, "bf16": BF16, "q8_0": Q8_0, "q4_0": Q4_0, "q4_1": Q4_1,
          "q5_0": Q5_0, "q5_1": Q5_1, "q4_k": Q4_K, "q5_k": Q5_K, "q6_k": Q6_K}
if {n: f.code for n, f in FORMATS.items()} != _NAMED:  # the declaration and the decoders must agree
    raise ImportError("MATMUL_DTYPES and the decoder constants in formats.py disagree")


def kernel_format(dtype: DType) -> KernelFormat:
    """The kernel format for ``dtype``; anything else is refused with a typed error."""
    fmt = FORMATS.get(dtype.name)
    if fmt is None:
        raise UnsupportedQuantType(
            f"the cpu backend has no kernels for {dtype.name}; it supports "
            + ", ".join(sorted(FORMATS)),
            dtype=dtype.name,
        )
    return fmt


@njit(cache=True, inline="always")
def k_scale_min(row, at, j):
    """The 6-bit scale and min of sub-block ``j`` (0..7) from the 12 bytes at ``at``."""
    if j < 4:
        sc = np.int32(row[at + j]) & 63
        mn = np.int32(row[at + j + 4]) & 63
    else:
        sc = (np.int32(row[at + j + 4]) & 15) | ((np.int32(row[at + j - 4]) >> 6) << 4)
        mn = (np.int32(row[at + j + 4]) >> 4) | ((np.int32(row[at + j]) >> 6) << 4)
    return np.float32(sc), np.float32(mn)


@njit(cache=True)
def deq16(fmt, row, c):
    """Elements ``16c .. 16c + 15`` of the packed row ``row`` as a ``f32x16``."""
    if fmt == F32:
        return vload_f32b(row, 64 * c)
    if fmt == F16:
        return vload_f16b(row, 32 * c)
    if fmt == BF16:
        return vload_bf16b(row, 32 * c)
    if fmt == Q8_0:
        at = 34 * (c >> 1)
        return vmul(vload_i8b(row, at + 2 + 16 * (c & 1)), vsplat(f16_at(row, at)))
    if fmt == Q4_0:
        at = 18 * (c >> 1)
        d = f16_at(row, at)
        return vnib_affine(row, at + 2, 4 * (c & 1), d, d * np.float32(-8.0))
    if fmt == Q4_1:
        at = 20 * (c >> 1)
        return vnib_affine(row, at + 4, 4 * (c & 1), f16_at(row, at), f16_at(row, at + 2))
    if fmt == Q5_0:
        at = 22 * (c >> 1)
        q = vadd(
            vload_bits(row, at + 6, 4 * (c & 1), 15),
            vmul(vload_u32_bits(row, at + 2, 16 * (c & 1)), vsplat(np.float32(16.0))),
        )
        return vmul(vsub(q, vsplat(np.float32(16.0))), vsplat(f16_at(row, at)))
    if fmt == Q5_1:
        at = 24 * (c >> 1)
        q = vadd(
            vload_bits(row, at + 8, 4 * (c & 1), 15),
            vmul(vload_u32_bits(row, at + 4, 16 * (c & 1)), vsplat(np.float32(16.0))),
        )
        return vfma(q, vsplat(f16_at(row, at)), vsplat(f16_at(row, at + 2)))
    if fmt == Q4_K:
        at = 144 * (c >> 4)
        s = c & 15  # 16-element chunk within the super-block
        j = s >> 1  # 32-element sub-block
        sc, mn = k_scale_min(row, at + 4, j)
        scale = f16_at(row, at) * sc
        offset = f16_at(row, at + 2) * mn
        return vnib_affine(row, at + 16 + 32 * (j >> 1) + 16 * (s & 1), 4 * (j & 1), scale, -offset)
    if fmt == Q5_K:
        at = 176 * (c >> 4)
        s = c & 15
        j = s >> 1
        sc, mn = k_scale_min(row, at + 4, j)
        low = vload_bits(row, at + 48 + 32 * (j >> 1) + 16 * (s & 1), 4 * (j & 1), 15)
        high = vload_bits(row, at + 16 + 16 * (s & 1), j, 1)
        q = vadd(low, vmul(high, vsplat(np.float32(16.0))))
        scale = f16_at(row, at) * sc
        offset = f16_at(row, at + 2) * mn
        return vfma(q, vsplat(scale), vsplat(-offset))
    # Q6_K: chunk s of the super-block lies in half s >> 3, group g, lanes l0 .. l0 + 15.
    at = 210 * (c >> 4)
    s = c & 15
    half = s >> 3
    g = (s & 7) >> 1
    l0 = 16 * (s & 1)
    nib = vload_bits(row, at + 64 * half + 32 * (g & 1) + l0, 4 * (g >> 1), 15)
    high = vload_bits(row, at + 128 + 32 * half + l0, 2 * g, 3)
    q = vsub(vadd(nib, vmul(high, vsplat(np.float32(16.0)))), vsplat(np.float32(32.0)))
    scale = f16_at(row, at + 208) * np.float32(np.int8(row[at + 192 + s]))
    return vmul(q, vsplat(scale))
