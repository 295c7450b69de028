"""The hot operations of the model families, dispatched to backend kernels.

Weight matrices are ``QuantMatrix`` records (float or block-quantized) and run
on the cpu backend's batch-invariant kernels; plain numpy arrays take the
reference path in ``psionic.nn.functional`` (tests and small tools).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from psionic.backends.cpu import attention as cpu_attention
from psionic.backends.cpu import matmul as cpu
from psionic.backends.cpu import norm as cpu_norm
from psionic.backends.quant_matrix import QuantMatrix
from psionic.nn import functional as F


def linear(x: np.ndarray, weight: Any) -> np.ndarray:
    """x (T, in) @ weight^T -> (T, out), f32."""
    if isinstance(weight, QuantMatrix):
        return cpu.matmul(np.ascontiguousarray(x, dtype=np.float32), weight)
    return np.ascontiguousarray(x, dtype=np.float32) @ np.asarray(weight, dtype=np.float32).T


def embed(weight: Any, ids: np.ndarray) -> np.ndarray:
    if isinstance(weight, QuantMatrix):
        return cpu.get_rows(weight, np.asarray(ids, dtype=np.int64))
    return np.asarray(weight, dtype=np.float32)[ids]


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    """RMSNorm over the last axis of any (..., D) array."""
    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, x.shape[-1])
    return cpu_norm.rms_norm(flat, weight, eps).reshape(x.shape)


def attention(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, start: int, scale: float, window: int | None
) -> np.ndarray:
    """Causal attention of q (T, H, D) at positions start.. over k, v (start + T, Hkv, D).

    The kernel computes every (query, head) on its own in a fixed order, so a token's
    output does not depend on its chunk or batch; head dims it cannot vectorise
    take the reference path.
    """
    if q.shape[-1] % 16 == 0:
        return cpu_attention.attention(q, k, v, scale, window or 0)
    return F.causal_attention(q, k, v, start, scale, window)
