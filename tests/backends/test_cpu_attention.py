from __future__ import annotations

import numpy as np
import pytest

from psionic.backends.cpu.attention import attention
from psionic.core.errors import TensorShapeMismatch


def slow_attention(q, k, v, scale, window=0):
    """Masked softmax attention in float64, one (query, head) at a time."""
    t_new, n_heads, _ = q.shape
    t_total, n_kv, _ = k.shape
    out = np.zeros(q.shape, np.float64)
    for i in range(t_new):
        pos = t_total - t_new + i
        for h in range(n_heads):
            g = h // (n_heads // n_kv)
            keys = [j for j in range(pos + 1) if window <= 0 or pos - j < window]
            s = np.array([q[i, h].astype(np.float64) @ k[j, g] * scale for j in keys])
            p = np.exp(s - s.max())
            p /= p.sum()
            out[i, h] = sum(pj * v[j, g].astype(np.float64) for pj, j in zip(p, keys, strict=True))
    return out


@pytest.mark.parametrize(("t_new", "t_total", "window"), [(1, 9, 0), (6, 6, 0), (5, 12, 4)])
def test_matches_the_slow_reference(t_new: int, t_total: int, window: int, rng) -> None:
    q = rng.standard_normal((t_new, 6, 32)).astype(np.float32)
    k = rng.standard_normal((t_total, 2, 32)).astype(np.float32)
    v = rng.standard_normal((t_total, 2, 32)).astype(np.float32)
    got = attention(q, k, v, scale=0.125, window=window)
    np.testing.assert_allclose(got, slow_attention(q, k, v, 0.125, window), rtol=1e-5, atol=2e-6)


def test_a_query_is_the_same_bits_in_a_chunk_or_alone(rng) -> None:
    q = rng.standard_normal((10, 9, 64)).astype(np.float32)
    k = rng.standard_normal((10, 3, 64)).astype(np.float32)
    v = rng.standard_normal((10, 3, 64)).astype(np.float32)
    chunk = attention(q, k, v, scale=0.125, window=5)
    for i in range(10):
        alone = attention(q[i : i + 1], k[: i + 1], v[: i + 1], scale=0.125, window=5)
        np.testing.assert_array_equal(alone[0], chunk[i])


def test_shapes_are_checked() -> None:
    q = np.ones((1, 4, 16), np.float32)
    with pytest.raises(TensorShapeMismatch):
        attention(q, np.ones((2, 3, 16), np.float32), np.ones((2, 3, 16), np.float32), 1.0)
    with pytest.raises(TensorShapeMismatch):
        attention(np.ones((3, 4, 16), np.float32), np.ones((2, 2, 16), np.float32),
                  np.ones((2, 2, 16), np.float32), 1.0)
    with pytest.raises(TensorShapeMismatch):
        attention(np.ones((1, 4, 8), np.float32), np.ones((2, 2, 8), np.float32),
                  np.ones((2, 2, 8), np.float32), 1.0)
