from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from psionic.backends.cpu import simd
from psionic.backends.cpu.simd import (
    vexp,
    vload,
    vnib_affine,
    vstore,
    vsum,
    vsum4,
)


@njit
def _sums(a):
    return vsum(vload(a, 0)), vsum4(vload(a, 16), vload(a, 32), vload(a, 48), vload(a, 64))


@njit
def _exp(a, out):
    for i in range(0, a.shape[0], 16):
        vstore(out, i, vexp(vload(a, i)))


@njit
def _nibbles(raw, scale, offset, out):
    vstore(out, 0, vnib_affine(raw, 0, 0, scale, offset))
    vstore(out, 16, vnib_affine(raw, 0, 4, scale, offset))


def tree_sum(lanes: np.ndarray) -> np.float32:
    """The documented order: halves (l, l + 8), then (l, l + 4), (l, l + 2), (0, 1)."""
    v = lanes.astype(np.float32)
    while v.size > 1:
        v = v[: v.size // 2] + v[v.size // 2 :]
    return v[0]


def test_vsum_and_vsum4_follow_the_fixed_tree(rng: np.random.Generator) -> None:
    for _ in range(20):
        a = (rng.standard_normal(80) * 10.0 ** rng.integers(-3, 4, 80)).astype(np.float32)
        one, four = _sums(a)
        assert one == tree_sum(a[:16])
        assert four == tuple(tree_sum(a[16 * k : 16 * k + 16]) for k in range(1, 5))


def test_vnib_affine_fallback_matches_the_lane_permute(
    monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator
) -> None:
    """Hosts without AVX-512 compute the same values arithmetically."""
    raw = rng.integers(0, 256, 16, dtype=np.uint8)
    outs = []
    for permute in (simd.HAS_LANE_PERMUTE, False):
        monkeypatch.setattr(simd, "HAS_LANE_PERMUTE", permute)
        fresh = njit(_nibbles.py_func)  # compiled now, with the flag as set
        out = np.empty(32, np.float32)
        fresh(raw, np.float32(0.37), np.float32(-1.5), out)
        outs.append(out)
    np.testing.assert_array_equal(outs[0], outs[1])


def test_vexp_is_within_two_ulp(rng: np.random.Generator) -> None:
    a = np.concatenate([rng.uniform(-87, 88, 4000), [0.0, -0.0, 1.0, -1.0]]).astype(np.float32)
    a = np.concatenate([a, np.zeros(-a.size % 16, np.float32)])
    out = np.empty_like(a)
    _exp(a, out)
    want = np.exp(a.astype(np.float64))
    assert np.all(np.abs(out - want) <= 2 * np.spacing(want.astype(np.float32)))
    low = np.array([-87.5, -100.0, -np.inf] + [0.0] * 13, np.float32)
    _exp(low, out[:16])
    assert list(out[:3]) == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(("scale", "offset"), [(0.37, -1.5), (-0.02, 0.0), (1e-3, 2.5e-2)])
def test_vnib_affine_is_one_fused_rounding(scale: float, offset: float, rng: np.random.Generator) -> None:
    raw = rng.integers(0, 256, 16, dtype=np.uint8)
    out = np.empty(32, np.float32)
    _nibbles(raw, np.float32(scale), np.float32(offset), out)
    q = np.concatenate([raw & 15, raw >> 4]).astype(np.float64)
    exact = q * np.float64(np.float32(scale)) + np.float64(np.float32(offset))  # exact in f64
    np.testing.assert_array_equal(out, exact.astype(np.float32))
