"""Scalar building blocks of ggml's float32 arithmetic, as numba intrinsics.

- ``fma32(a, b, c)``: ``a * b + c`` with one rounding (``vfmadd``);
- ``to_f16(x)``: ``x`` rounded to the nearest IEEE half (ties to even) and
  widened back to float32, as ``_cvtss_sh(x, 0)`` / ``_mm512_cvtps_ph`` do;
- ``hsum8``: ``hsum_float_8`` of an eight-lane ``__m256``
  (``((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7))``);
- ``hsum16``: GCC's ``_mm512_reduce_add_ps`` (halves, then quarters, then
  ``(t0 + t2) + (t1 + t3)``);
- ``v_expf``: ggml's AVX-512 ``ggml_v_expf`` one lane at a time (the same
  fused operations; ``scalef`` is a single rounding of ``j * 2**n``);
- ``v_silu``: ``x / (1 + v_expf(0 - x))``.

>>> import numpy as np
>>> float(to_f16(np.float32(1.0009765625 + 2 ** -12)))
1.0009765625
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from psionic.backends.cpu.simd import llvm_fma

_F32 = ir.FloatType()

fma32 = llvm_fma(types.float32, "f32", "``a * b + c`` in float32 with a single rounding.")


@intrinsic
def to_f16(typingctx, x):
    """``x`` rounded to half precision (nearest, ties to even), as float32."""

    def codegen(context, builder, sig, args):
        return builder.fpext(builder.fptrunc(args[0], ir.HalfType()), _F32)

    return types.float32(types.float32), codegen


@intrinsic
def half_at(typingctx, arr, at):
    """The IEEE half at byte offset ``at`` of a uint8 array, widened to float32 (exact)."""

    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, value=args[0]).data
        ptr = builder.bitcast(builder.gep(data, [args[1]]), ir.HalfType().as_pointer())
        return builder.fpext(builder.load(ptr, align=1), _F32)

    return types.float32(arr, at), codegen


@njit(cache=True, inline="always")
def hsum8(a):
    """``hsum_float_8`` of the eight lanes ``a[0..7]``."""
    return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]))


@njit(cache=True, inline="always")
def hsum16(a):
    """``_mm512_reduce_add_ps`` (GCC) of the sixteen lanes ``a[0..15]``."""
    t0 = (a[4] + a[12]) + (a[0] + a[8])
    t1 = (a[5] + a[13]) + (a[1] + a[9])
    t2 = (a[6] + a[14]) + (a[2] + a[10])
    t3 = (a[7] + a[15]) + (a[3] + a[11])
    return (t0 + t2) + (t1 + t3)


_R = np.float32(float.fromhex("0x1.8p23"))
_LOG2E = np.float32(float.fromhex("0x1.715476p+0"))
_LN2_HI = np.float32(float.fromhex("0x1.62e4p-1"))
_LN2_LO = np.float32(float.fromhex("0x1.7f7d1cp-20"))
_C5 = np.float32(float.fromhex("0x1.0e4020p-7"))
_C4 = np.float32(float.fromhex("0x1.573e2ep-5"))
_C3 = np.float32(float.fromhex("0x1.555e66p-3"))
_C2 = np.float32(float.fromhex("0x1.fffdb6p-2"))
_C1 = np.float32(float.fromhex("0x1.ffffecp-1"))
_ONE = np.float32(1.0)
_ZERO = np.float32(0.0)


@njit(cache=True)
def v_expf(x):
    """ggml's AVX-512 ``ggml_v_expf`` for one float32 lane."""
    z = fma32(x, _LOG2E, _R)
    n = z - _R
    b = fma32(-n, _LN2_LO, fma32(-n, _LN2_HI, x))
    u = b * b
    j = fma32(fma32(fma32(_C5, b, _C4), u, fma32(_C3, b, _C2)), u, fma32(_C1, b, _ONE))
    if abs(n) > np.float32(192.0):
        return _ZERO if n <= _ZERO else np.float32(np.inf)
    # _mm512_scalef_ps(j, n): j * 2**n rounded once (exact in float64 for |n| <= 192)
    return np.float32(np.float64(j) * np.float64(2.0) ** np.float64(n))


@njit(cache=True)
def v_silu(x):
    """ggml's AVX-512 ``ggml_v_silu``: ``x / (1 + exp(0 - x))``."""
    return x / (_ONE + v_expf(_ZERO - x))
