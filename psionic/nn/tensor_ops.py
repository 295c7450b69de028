"""The model-family operations on Tensors: the differentiable twins of ``functional``/``ops``.

Layers call these when their input is a ``psionic.array.Tensor`` (training,
gradient checks) and the numpy versions otherwise (the inference hot path).
Each is written with Tensor operations, so its gradient comes from the tape;
quantized weights multiply in their stored format through the ``quant_matmul``
op, whose input gradient decodes the weight block by block.

>>> import numpy as np, psionic.array as pa
>>> x = pa.tensor(np.ones((2, 4), np.float32), requires_grad=True)
>>> np.round(rms_norm(x, pa.ones(4), 1e-6).numpy()[0], 4).tolist()
[1.0, 1.0, 1.0, 1.0]
"""

from __future__ import annotations

import math

import numpy as np

from psionic.array import Tensor, apply, concat, stack, where
from psionic.backends.quant_matrix import QuantMatrix


def linear(x: Tensor, weight: Tensor | QuantMatrix, bias: Tensor | None = None) -> Tensor:
    """x (..., in) @ weight^T -> (..., out), one 2-D product over all leading dims."""
    if isinstance(weight, QuantMatrix):
        y = apply("quant_matmul", x, weight=weight)
    else:
        lead = x.shape[:-1]
        y = (x.reshape(-1, x.shape[-1]) @ weight.mT).reshape(*lead, weight.shape[0])
    return y if bias is None else y + bias


def embedding(weight: Tensor | QuantMatrix, ids: Tensor) -> Tensor:
    if isinstance(weight, QuantMatrix):
        return apply("quant_rows", ids, weight=weight)
    return weight.take(ids, 0)


def rms_norm(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    return x.normalize(eps, center=False) * weight


def layer_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
    return x.normalize(eps) * weight + bias


def silu(x: Tensor) -> Tensor:
    return x * x.sigmoid()


def gelu_tanh(x: Tensor) -> Tensor:
    return x.gelu_tanh()


ACTIVATIONS = {"silu": silu, "gelu_tanh": gelu_tanh}


def apply_rope(x: Tensor, positions: np.ndarray, freqs: np.ndarray, neox: bool) -> Tensor:
    """Rotate (..., T, H, D) by position, as ``functional.apply_rope`` does for arrays."""
    rot = 2 * len(freqs)
    angles = positions.astype(np.float64)[:, None] * freqs[None, :]  # (T, rot/2)
    cos = x._lift(np.cos(angles).astype(np.float32)[:, None, :])  # (T, 1, rot/2)
    sin = x._lift(np.sin(angles).astype(np.float32)[:, None, :])
    if neox:
        a, b = x[..., : rot // 2], x[..., rot // 2 : rot]
        parts = [a * cos - b * sin, a * sin + b * cos]
        rotated = concat(parts, -1)
    else:
        a, b = x[..., 0:rot:2], x[..., 1:rot:2]
        pairs = stack([a * cos - b * sin, a * sin + b * cos], -1)  # (..., rot/2, 2)
        rotated = pairs.reshape(*pairs.shape[:-2], rot)
    if rot == x.shape[-1]:
        return rotated
    return concat([rotated, x[..., rot:]], -1)


def causal_mask(t_new: int, s_total: int, start: int, window: int | None = None) -> np.ndarray:
    """True where query t (at position start + t) must not see key s."""
    qpos = start + np.arange(t_new)[:, None]
    kpos = np.arange(s_total)[None, :]
    mask = kpos > qpos
    if window is not None:
        mask |= kpos <= qpos - window
    return mask


def attention(q: Tensor, k: Tensor, v: Tensor, start: int, scale: float,
              window: int | None = None, documents: np.ndarray | None = None) -> Tensor:
    """Causal attention of queries (..., T, H, D) over keys/values (..., S, Hkv, D), S = start + T.

    Grouped-query: head h reads kv head h // (H // Hkv). ``documents`` (S,) keeps each
    query within its own document (packed training rows; needs ``start == 0``).
    """
    t_new, n_heads = q.shape[-3], q.shape[-2]
    s_total, n_kv = k.shape[-3], k.shape[-2]
    if n_kv != n_heads:
        group = n_heads // n_kv
        lead = k.shape[:-3]

        def repeat(t: Tensor) -> Tensor:
            t = t.unsqueeze(-2).expand(*lead, s_total, n_kv, group, t.shape[-1])
            return t.reshape(*lead, s_total, n_heads, t.shape[-1])

        k, v = repeat(k), repeat(v)
    qh = q.transpose(-3, -2)  # (..., H, T, D)
    kh = k.transpose(-3, -2)
    vh = v.transpose(-3, -2)
    scores = (qh @ kh.mT) * scale  # (..., H, T, S)
    blocked = causal_mask(t_new, s_total, start, window)
    if documents is not None:
        if start != 0 or len(documents) != s_total:
            raise ValueError("documents need a whole sequence: start 0 and one entry per key")
        blocked = blocked | (documents[:, None] != documents[None, :])
    mask = q._lift(blocked)
    probs = where(mask, -math.inf, scores).softmax(-1)
    return (probs @ vh).transpose(-3, -2)  # (..., T, H, Dv)


def dropout(x: Tensor, p: float, rng: np.random.Generator) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p)."""
    if p <= 0.0:
        return x
    keep = rng.random(x.shape, dtype=np.float32) >= p
    return x * x._lift((keep / np.float32(1.0 - p)).astype(x.dtype.numpy))
