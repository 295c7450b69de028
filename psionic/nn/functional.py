"""Reference operations on numpy arrays, written for clarity.

These are the slow, obvious definitions that faster backend kernels are
tested against, and the fallback where no kernel is registered. Shapes are
noted as (T, H, D): tokens, heads, head dimension.
"""

from __future__ import annotations

import math

import numpy as np

GELU_C = math.sqrt(2.0 / math.pi)


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    """x / sqrt(mean(x^2) + eps) * weight over the last axis, in f32."""
    x = x.astype(np.float32, copy=False)
    scale = 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True, dtype=np.float32) + np.float32(eps))
    return (x * scale * weight).astype(np.float32, copy=False)


def silu(x: np.ndarray) -> np.ndarray:
    return x / (np.float32(1.0) + np.exp(-x))


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    """GELU with the tanh approximation (Gemma's activation)."""
    return (0.5 * x * (1.0 + np.tanh(GELU_C * (x + 0.044715 * x * x * x)))).astype(np.float32)


# Abramowitz & Stegun 7.1.26: |error| < 1.5e-7 in exact arithmetic.
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function elementwise in f32 (numpy has none; scipy is not a dependency).

    Absolute error below 5e-7: the formula's 1.5e-7 plus f32 cancellation near
    zero. In place after the first temporaries, since GELU runs it on every
    feed-forward activation.
    """
    x = np.asarray(x, dtype=np.float32)
    a = np.abs(x)
    t = a * np.float32(_ERF_P)
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    poly = t * np.float32(_ERF_A[4])
    for coef in _ERF_A[3:0:-1]:
        poly += np.float32(coef)
        poly *= t
    poly += np.float32(_ERF_A[0])
    poly *= t
    np.multiply(a, a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a
    np.subtract(np.float32(1.0), poly, out=poly)
    return np.copysign(poly, x, out=poly)


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU, 0.5 * x * (1 + erf(x / sqrt(2))) (BERT's ``gelu``), f32."""
    x = np.asarray(x, dtype=np.float32)
    y = erf(x * np.float32(1.0 / math.sqrt(2.0)))
    y += np.float32(1.0)
    y *= x
    y *= np.float32(0.5)
    return y


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """(x - mean) / sqrt(var + eps) * weight + bias over the last axis, in f32 (biased var)."""
    x = x.astype(np.float32, copy=False)
    centered = x - np.mean(x, axis=-1, keepdims=True, dtype=np.float32)
    var = np.mean(centered * centered, axis=-1, keepdims=True, dtype=np.float32)
    scale = 1.0 / np.sqrt(var + np.float32(eps))
    return (centered * scale * weight + bias).astype(np.float32, copy=False)


def rope_frequencies(dim: int, base: float) -> np.ndarray:
    """theta_i = base^(-2i/dim) for i < dim/2, as f64 for accurate angles."""
    return base ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)


def apply_rope(
    x: np.ndarray, positions: np.ndarray, freqs: np.ndarray, neox: bool
) -> np.ndarray:
    """Rotate (T, H, D) by position. ``neox`` pairs dims (i, i + D/2); otherwise (2i, 2i+1).

    Only the first ``2 * len(freqs)`` dims rotate; the rest pass through.
    """
    rot = 2 * len(freqs)
    angles = positions.astype(np.float64)[:, None] * freqs[None, :]  # (T, rot/2)
    cos = np.cos(angles).astype(np.float32)[:, None, :]
    sin = np.sin(angles).astype(np.float32)[:, None, :]
    out = x.astype(np.float32, copy=True)
    if neox:
        a, b = x[..., : rot // 2], x[..., rot // 2 : rot]
        out[..., : rot // 2] = a * cos - b * sin
        out[..., rot // 2 : rot] = a * sin + b * cos
    else:
        a, b = x[..., 0:rot:2], x[..., 1:rot:2]
        out[..., 0:rot:2] = a * cos - b * sin
        out[..., 1:rot:2] = a * sin + b * cos
    return out


def causal_attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    start: int,
    scale: float,
    window: int | None = None,
) -> np.ndarray:
    """Attention of new queries (T, H, D) over keys/values (S, Hkv, D), S = start + T.

    Query t sits at position start + t and sees keys at positions p with
    p <= start + t and, with a sliding ``window``, p > start + t - window.
    Grouped-query: head h reads kv head h // (H // Hkv).
    """
    t_new, n_heads, _ = q.shape
    s_total, n_kv, d_v = v.shape
    group = n_heads // n_kv
    kh = np.repeat(k, group, axis=1)  # (S, H, D)
    vh = np.repeat(v, group, axis=1)
    scores = np.einsum("thd,shd->hts", q, kh).astype(np.float32) * np.float32(scale)
    qpos = start + np.arange(t_new)[:, None]
    kpos = np.arange(s_total)[None, :]
    mask = kpos > qpos
    if window is not None:
        mask |= kpos <= qpos - window
    scores = np.where(mask[None], -np.inf, scores)
    scores -= scores.max(axis=-1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=-1, keepdims=True)
    return np.einsum("hts,shd->thd", probs, vh).astype(np.float32)
