"""ggml's scalar building blocks against the slow references."""

from __future__ import annotations

import numpy as np
from numba import njit

from psionic.backends.cpu.ggml.scalar import fma32, hsum8, hsum16, to_f16, v_expf, v_silu

from .ggml_reference import fma, hsum_float_8, reduce_add_512
from .ggml_reference import v_expf as ref_expf


@njit
def _fma(a, b, c):
    return fma32(a, b, c)


@njit
def _f16(x):
    return to_f16(x)


@njit
def _sums(a):
    return hsum8(a), hsum16(a)


def test_fma_rounds_once() -> None:
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal(300).astype(np.float32) * 1e3 for _ in range(3))
    # (1 + 2**-12)**2 - 1: rounding the product first loses the 2**-24
    a[0] = b[0] = np.float32(1 + 2 ** -12)
    c[0] = np.float32(-1.0)
    for x, y, z in zip(a, b, c, strict=True):
        assert _fma(x, y, z) == fma(x, y, z)
    assert _fma(a[0], b[0], c[0]) != np.float32(a[0] * b[0]) + c[0]


def test_f16_rounding_matches_numpy_ties_to_even() -> None:
    rng = np.random.default_rng(1)
    values = np.concatenate([
        rng.standard_normal(2000).astype(np.float32) * 10.0 ** rng.integers(-9, 5, 2000),
        np.float32([1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 65520, 2 ** -25, 2 ** -24 * 1.5, 0.0]),
    ]).astype(np.float32)
    for v in values:
        assert _f16(v) == np.float32(np.float16(v)) or (np.isinf(_f16(v)) and np.isinf(np.float16(v)))


def test_lane_sums_follow_the_registers() -> None:
    rng = np.random.default_rng(2)
    for _ in range(50):
        lanes = (rng.standard_normal(16) * 10.0 ** rng.integers(-3, 4, 16)).astype(np.float32)
        s8, s16 = _sums(lanes)
        assert s8 == hsum_float_8(lanes[:8])
        assert s16 == reduce_add_512(lanes)


def test_expf_bits_and_accuracy() -> None:
    rng = np.random.default_rng(3)
    xs = np.concatenate([rng.uniform(-100, 0, 400), rng.uniform(-10, 10, 200),
                         [0.0, -0.0, -87.5, -103.0, -120.0, 88.0, -np.inf]]).astype(np.float32)
    for x in xs:
        got = v_expf(x)
        assert got == ref_expf(x), x
    mid = xs[(xs > -80) & (xs < 80)]
    rel = np.abs(np.array([v_expf(x) for x in mid], np.float64) - np.exp(mid.astype(np.float64)))
    assert (rel / np.exp(mid.astype(np.float64))).max() < 5e-7
    assert v_expf(np.float32(-np.inf)) == 0.0


def test_silu_is_x_over_one_plus_exp() -> None:
    for x in np.float32([-20.0, -1.5, 0.0, 0.3, 7.0]):
        assert v_silu(x) == np.float32(x / (np.float32(1.0) + ref_expf(np.float32(0.0) - x)))
