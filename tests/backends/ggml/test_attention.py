"""ggml's non-flash attention (f16 K/V/Q/P, tinyBLAS or vec_dot order) against the slow reference."""

from __future__ import annotations

import numpy as np
import pytest

from psionic.backends.cpu.ggml.attention import attention

from .ggml_reference import F32, f16, fma, reduce_add_512, v_expf


def _dot(a: np.ndarray, b: np.ndarray, single: bool) -> np.float32:
    """tinyBLAS: 16 lanes over a stride of 16; vec_dot_f16: four such, added (0+2)+(1+3)."""
    if single:
        acc = np.zeros((4, 16), np.float32)
        for i0 in range(0, len(a), 64):
            for j in range(4):
                for lane in range(16):
                    i = i0 + 16 * j + lane
                    acc[j, lane] = fma(a[i], b[i], acc[j, lane])
        return reduce_add_512((acc[0] + acc[2]) + (acc[1] + acc[3]))
    lanes = np.zeros(16, np.float32)
    for i in range(len(a)):
        lanes[i % 16] = fma(a[i], b[i], lanes[i % 16])
    return reduce_add_512(lanes)


def _reference(q, k, v, start, scale, single, n_kv=256):
    t, h, d = q.shape
    out = np.empty_like(q)
    group = h // k.shape[1]
    for i in range(t):
        for hh in range(h):
            g = hh // group
            q16 = np.array([f16(c) for c in q[i, hh]], np.float32)
            w = np.full(n_kv, -np.inf, np.float32)  # llama.cpp's cache: unused cells masked
            for j in range(start + i + 1):
                w[j] = F32(_dot(k[j, g], q16, single) * F32(scale))
            mx = w.max()
            e = np.array([v_expf(F32(x - mx)) for x in w], np.float32)
            total = 0.0
            for b0 in range(0, n_kv, 16):
                total += float(reduce_add_512(e[b0 : b0 + 16]))
            p = np.array([f16(F32(x * F32(1.0 / total))) for x in e], np.float32)
            vt = np.zeros((d, n_kv), np.float32)
            vt[:, : k.shape[0]] = v[:, g, :].T
            for c in range(d):
                out[i, hh, c] = _dot(vt[c], p, single)
    return out


@pytest.mark.parametrize("single", [False, True])
def test_attention_matches_ggml_order(single: bool) -> None:
    rng = np.random.default_rng(0 if single else 1)
    t_new = 1 if single else 3
    start = 2
    q = rng.standard_normal((t_new, 2, 64)).astype(np.float32) * 3
    k = np.float16(rng.standard_normal((start + t_new, 1, 64))).astype(np.float32)
    v = np.float16(rng.standard_normal((start + t_new, 1, 64))).astype(np.float32)
    got = attention(q, k, v, start, 0.125, single=single)
    assert np.array_equal(got, _reference(q, k, v, start, 0.125, single))


def test_one_query_row_takes_another_order() -> None:
    rng = np.random.default_rng(2)
    q = rng.standard_normal((1, 4, 64)).astype(np.float32) * 4
    k = np.float16(rng.standard_normal((40, 2, 64))).astype(np.float32)
    v = np.float16(rng.standard_normal((40, 2, 64))).astype(np.float32)
    alone, gemm = attention(q, k, v, 39, 0.125), attention(q, k, v, 39, 0.125, single=False)
    assert np.abs(alone - gemm).max() < 1e-5
    assert not np.array_equal(alone, gemm)
