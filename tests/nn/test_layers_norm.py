from __future__ import annotations

import math

import numpy as np

from psionic.nn import functional as F
from psionic.nn.layers import LayerNorm


def test_erf_matches_math_erf() -> None:
    xs = np.concatenate([np.linspace(-6.0, 6.0, 4001), [0.0, -0.0, 1e-8, -1e-8, 30.0, -30.0]])
    ours = F.erf(xs.astype(np.float32))
    assert ours.dtype == np.float32
    reference = np.array([math.erf(float(np.float32(x))) for x in xs])
    assert np.max(np.abs(ours - reference)) < 5e-7
    assert np.all(ours[xs > 0] >= 0) and np.all(ours[xs < 0] <= 0)  # odd, sign kept


def test_gelu_is_exact_erf_form() -> None:
    xs = np.linspace(-8.0, 8.0, 2001, dtype=np.float32)
    reference = np.array([0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0))) for x in xs.astype(np.float64)])
    ours = F.gelu(xs)
    assert ours.dtype == np.float32 and ours.shape == xs.shape
    assert np.max(np.abs(ours - reference)) < 1e-6
    # It differs from the tanh approximation by more than rounding.
    assert np.max(np.abs(ours - F.gelu_tanh(xs))) > 1e-4


def test_layer_norm_against_float64_formula() -> None:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((2, 5, 16)) * 3 + 7).astype(np.float32)
    w = rng.standard_normal(16).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)
    eps = 1e-5
    x64 = x.astype(np.float64)
    mean = x64.mean(-1, keepdims=True)
    var = x64.var(-1, keepdims=True)
    reference = (x64 - mean) / np.sqrt(var + eps) * w + b
    norm = LayerNorm(w, b, eps)
    out = norm(x)
    assert out.dtype == np.float32 and out.shape == x.shape
    assert np.allclose(out, reference, atol=1e-5)
    assert [name for name, _ in norm.named_parameters()] == ["weight", "bias"]


def test_layer_norm_eps_matters_on_constant_rows() -> None:
    x = np.full((1, 8), 3.0, np.float32)
    ones, zeros = np.ones(8, np.float32), np.zeros(8, np.float32)
    assert np.all(LayerNorm(ones, zeros, 1e-12)(x) == 0.0)
    y = np.array([[0.0, 2e-3]], np.float32)  # var = 1e-6, comparable to eps
    small = LayerNorm(np.ones(2, np.float32), np.zeros(2, np.float32), 1e-12)(y)
    large = LayerNorm(np.ones(2, np.float32), np.zeros(2, np.float32), 1e-6)(y)
    assert np.allclose(small, [[-1.0, 1.0]], atol=1e-4)
    assert np.allclose(large, [[-1.0, 1.0]] / np.sqrt(2.0), atol=1e-4)
