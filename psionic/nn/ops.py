"""The hot operations of the model families, dispatched to backend kernels.

Float weights (numpy arrays) take the reference path in
``psionic.nn.functional``; quantized matrices take the cpu backend's kernels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from psionic.nn import functional as F


def linear(x: np.ndarray, weight: Any) -> np.ndarray:
    """x (T, in) @ weight^T -> (T, out), f32."""
    if isinstance(weight, np.ndarray):
        return np.ascontiguousarray(x, dtype=np.float32) @ weight.astype(np.float32, copy=False).T
    raise TypeError(f"no kernel for weight of type {type(weight).__name__}")


def embed(weight: Any, ids: np.ndarray) -> np.ndarray:
    if isinstance(weight, np.ndarray):
        return weight[ids].astype(np.float32)
    raise TypeError(f"no kernel for weight of type {type(weight).__name__}")


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    return F.rms_norm(x, weight, eps)


def attention(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, start: int, scale: float, window: int | None
) -> np.ndarray:
    return F.causal_attention(q, k, v, start, scale, window)
