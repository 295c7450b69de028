"""Slow references for the ggml kernels: plain Python that spells out each instruction's order.

Nothing here shares code with ``psionic.backends.cpu.ggml``: fused multiply-adds
are rounded exactly from rationals, f16 conversions go through numpy's own
float16, and the lane sums simulate the SIMD registers as numpy float32 arrays.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

F32 = np.float32


def round_f32(x: Fraction) -> np.float32:
    """The float32 nearest ``x`` (ties to even), exactly."""
    if x == 0:
        return F32(0.0)
    sign = -1 if x < 0 else 1
    a = abs(x)
    e = math.floor(math.log2(a.numerator) - math.log2(a.denominator))
    # settle e so that 2**23 <= a / 2**(e - 23) < 2**24
    while a >= Fraction(2) ** (e + 1):
        e += 1
    while a < Fraction(2) ** e:
        e -= 1
    e = max(e, -126)  # subnormals share the smallest exponent
    scale = Fraction(2) ** (e - 23)
    m = round(a / scale)  # Fraction rounds half to even
    return F32(sign * float(m * scale))


def fma(a: float, b: float, c: float) -> np.float32:
    """``a * b + c`` for float32 values, rounded once."""
    return round_f32(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c)))


def f16(x: float) -> np.float32:
    return F32(np.float16(F32(x)))


def hsum_float_8(lanes: np.ndarray) -> np.float32:
    """ggml's ``hsum_float_8``: extract the high 128 bits and add, movehl add, movehdup add_ss."""
    res = lanes[4:8].astype(F32) + lanes[0:4].astype(F32)
    res = res + np.array([res[2], res[3], res[2], res[3]], F32)
    return F32(res[0] + res[1])


def reduce_add_512(lanes: np.ndarray) -> np.float32:
    """GCC's ``_mm512_reduce_add_ps``: 256-bit halves, 128-bit halves, shuffle {2,3,0,1}, then 0 + 1."""
    t3 = lanes[8:16].astype(F32) + lanes[0:8].astype(F32)
    t6 = t3[4:8] + t3[0:4]
    t8 = t6 + t6[[2, 3, 0, 1]]
    return F32(t8[0] + t8[1])


CONST = {k: F32(float.fromhex(v)) for k, v in {
    "r": "0x1.8p23", "log2e": "0x1.715476p+0", "ln2_hi": "0x1.62e4p-1", "ln2_lo": "0x1.7f7d1cp-20",
    "c5": "0x1.0e4020p-7", "c4": "0x1.573e2ep-5", "c3": "0x1.555e66p-3", "c2": "0x1.fffdb6p-2",
    "c1": "0x1.ffffecp-1",
}.items()}


def v_expf(x: float) -> np.float32:
    """ggml_v_expf (AVX-512) for one lane: fmadd/fnmadd chains, then ``scalef``."""
    c = CONST
    if np.isinf(x):  # n is +-inf, beyond 192: the blend picks 0 or inf
        return F32(0.0) if x < 0 else F32(np.inf)
    z = fma(x, c["log2e"], c["r"])
    n = F32(z - c["r"])
    b = fma(-n, c["ln2_lo"], fma(-n, c["ln2_hi"], x))
    u = F32(b * b)
    j = fma(fma(fma(c["c5"], b, c["c4"]), u, fma(c["c3"], b, c["c2"])), u, fma(c["c1"], b, F32(1.0)))
    if abs(n) > 192:
        return F32(0.0) if n <= 0 else F32(np.inf)
    return round_f32(Fraction(float(j)) * Fraction(2) ** int(n))


def quantize_q8_block(x: np.ndarray) -> tuple[list[int], np.float32, np.float32, np.float32]:
    """quantize_row_q8_1 (AVX2) of one 32-block: (q, f16 d, f16 s, the f32 d)."""
    amax = F32(max(abs(F32(v)) for v in x))
    d = F32(amax / F32(127.0))
    inv = F32(F32(127.0) / amax) if amax != 0 else F32(0.0)
    q = [int(np.rint(F32(F32(v) * inv))) for v in x]
    return q, f16(d), f16(F32(d * F32(sum(q)))), d
