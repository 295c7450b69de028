"""ggml's float32 row ops: RMS norm, RoPE, SwiGLU, tanh-GELU (its f16 table).

- ``rms_norm``: ``sum`` of ``(double)(x * x)`` in order, ``mean = (float)(sum / D)``,
  ``scale = 1.0f / sqrtf(mean + eps)``, ``y = (x * scale) * w``.
- ``rope``: per position ``p``, ``theta = (float)p`` and for each pair ``theta *=
  powf(base, -2/n_dims)`` after taking ``cosf``/``sinf`` (the host's libm, as ggml
  calls it); pairs adjacent (``neox`` False) or in halves. ggml's ``x0*c - x1*s`` and
  ``x0*s + x1*c`` are compiled with fused multiply-adds (GCC contracts them): the
  second product is rounded, the first fused.
- ``swiglu``: ``v_silu(gate) * up``.
- ``geglu``: ``table[f16(gate)] * up`` from ggml's f16 GELU table (``gate`` at or
  beyond +-10 clamped as ggml does).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from psionic.backends.cpu.ggml.scalar import fma32, v_silu


@njit(cache=True, parallel=True)
def _rms_norm(x, w, eps, out):
    d = x.shape[1]
    for m in prange(x.shape[0]):
        total = 0.0
        for i in range(d):
            total += np.float64(x[m, i] * x[m, i])
        mean = np.float32(total / d)
        scale = np.float32(1.0) / np.sqrt(mean + eps)
        for i in range(d):
            out[m, i] = (x[m, i] * scale) * w[i]


def rms_norm(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    """ggml's ``rms_norm`` followed by ``mul`` with the weight, over rows of ``x (M, D)``."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    out = np.empty_like(x)
    _rms_norm(x, np.ascontiguousarray(w, dtype=np.float32), np.float32(eps), out)
    return out


@njit(cache=True)
def _rope_cache(pos, n_dims, base):
    half = n_dims // 2
    cos = np.empty(half, np.float32)
    sin = np.empty(half, np.float32)
    theta_scale = np.float32(math.pow(base, np.float32(-2.0) / np.float32(n_dims)))
    theta = np.float32(pos)
    for i in range(half):
        cos[i] = np.float32(math.cos(theta))
        sin[i] = np.float32(math.sin(theta))
        theta = theta * theta_scale
    return cos, sin


@njit(cache=True, parallel=True)
def _rope(x, positions, n_dims, base, neox, out):
    t, h, d = x.shape
    half = n_dims // 2
    for i in prange(t):
        cos, sin = _rope_cache(positions[i], n_dims, base)
        for j in range(h):
            for c in range(d):
                out[i, j, c] = x[i, j, c]
            for p in range(half):
                if neox:
                    a, b = p, p + half
                else:
                    a, b = 2 * p, 2 * p + 1
                x0 = x[i, j, a]
                x1 = x[i, j, b]
                c_, s_ = cos[p], sin[p]
                out[i, j, a] = fma32(x0, c_, -(x1 * s_))
                out[i, j, b] = fma32(x0, s_, x1 * c_)


def rope(x: np.ndarray, positions: np.ndarray, n_dims: int, base: float, neox: bool) -> np.ndarray:
    """ggml's ``rope`` (no scaling) of ``x (T, H, D)`` at ``positions (T,)``."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    out = np.empty_like(x)
    _rope(x, np.ascontiguousarray(positions, dtype=np.int64), n_dims, np.float32(base), neox, out)
    return out


@njit(cache=True, parallel=True)
def _swiglu(gate, up, out):
    for m in prange(gate.shape[0]):
        for i in range(gate.shape[1]):
            out[m, i] = v_silu(gate[m, i]) * up[m, i]


def swiglu(gate: np.ndarray, up: np.ndarray) -> np.ndarray:
    """ggml's ``swiglu``: ``silu(gate) * up`` with its vectorised exp."""
    out = np.empty_like(gate)
    _swiglu(np.ascontiguousarray(gate), np.ascontiguousarray(up), out)
    return out


_GELU_A = np.float32(0.044715)
_SQRT_2_OVER_PI = np.float32(0.79788456080286535587989211986876)
_HALF = np.float32(0.5)
_ONE = np.float32(1.0)


@njit(cache=True)
def _gelu_f32(x):
    """ggml_gelu_f32 as ggml-cpu.c compiles it: GCC contracts ``1 + a*x*x`` to ``fma(a*x, x, 1)``."""
    inner = fma32(_GELU_A * x, x, _ONE)
    return _HALF * x * (_ONE + np.float32(math.tanh(_SQRT_2_OVER_PI * x * inner)))


@njit(cache=True)
def _gelu_table(halves, out):
    for i in range(halves.shape[0]):
        out[i] = _gelu_f32(halves[i])


_TABLE: list[np.ndarray] = []


def gelu_table() -> np.ndarray:
    """ggml's ``ggml_table_gelu_f16``: GELU of every f16 value, rounded to f16, as float32."""
    if not _TABLE:
        halves = np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32)
        values = np.empty_like(halves)
        with np.errstate(all="ignore"):
            _gelu_table(halves, values)
        _TABLE.append(values.astype(np.float16).astype(np.float32))
    return _TABLE[0]


def geglu(gate: np.ndarray, up: np.ndarray) -> np.ndarray:
    """ggml's ``geglu`` with its f16 GELU table: ``table[f16(gate)] * up``; ``gate <= -10``
    gives 0, ``gate >= 10`` gives ``gate * up``."""
    gate = np.asarray(gate, np.float32)
    index = gate.astype(np.float16).view(np.uint16)
    out = gelu_table()[index] * up
    out = np.where(gate <= np.float32(-10.0), np.float32(0.0), out)
    return np.where(gate >= np.float32(10.0), gate * up, out).astype(np.float32)
