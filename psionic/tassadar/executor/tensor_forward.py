"""The executor's forward pass on ``psionic.array`` Tensors: every position of a sequence at once.

The same weights (``Model``) as the token-by-token numpy ``Session``, run as a
whole-sequence pass through the framework's tensor layer (and so through any
of its backends): embedding with the positional features, per layer hard-max
heads (causal ``argmax`` of ``q . k``, ties to the lowest position, then a
gather of the chosen values), uniform heads (causal prefix means, a matmul
with a lower-triangular averaging matrix), the ReGLU block, and the
unembedding. Teacher-forced on a decoded trace, its argmax at every trace
position is the next token the decode emitted (a test checks it); it is the
reference for a batched or accelerated executor, not the decode loop.

>>> from psionic.tassadar.executor.model import Model
>>> m = Model.load()
>>> sequence_logits(m, [0, 1, 2]).shape
(3, 7035)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import psionic.array as pa
from psionic.array import Tensor
from psionic.tassadar.executor.model import Model


def _t(arr: np.ndarray, backend: str) -> Tensor:
    return pa.tensor(np.ascontiguousarray(arr, dtype=np.float64), dtype=pa.float64, backend=backend)


def sequence_logits(model: Model, tokens: Sequence[int], backend: str = "cpu") -> Tensor:
    """Logits ``(N, OUT_VOCAB)`` of every position of ``tokens`` (causal, float64)."""
    ids = np.asarray(tokens, dtype=np.int64)
    n = len(ids)
    x0 = model.embedding[ids].copy()
    positions = np.arange(n, dtype=np.float64)
    x0[:, 1], x0[:, 2] = positions, positions * positions  # positional encoding: pos, pos^2
    x = _t(x0, backend)
    future = _t(np.triu(np.ones((n, n)), 1), backend) > 0.5  # key position after the query's
    averaging = _t(np.tril(np.ones((n, n))) / (positions[:, None] + 1.0), backend)
    for lw in model.layers:
        h, nv, d = lw.wv.shape
        if h:
            q = (x @ _t(lw.wq.reshape(2 * h, d).T, backend)).reshape(n, h, 2).permute(1, 0, 2)
            k = (x @ _t(lw.wk.reshape(2 * h, d).T, backend)).reshape(n, h, 2).permute(1, 0, 2)
            v = (x @ _t(lw.wv.reshape(h * nv, d).T, backend)).reshape(n, h, nv).permute(1, 0, 2)
            scores = (q @ k.mT).masked_fill(future, -np.inf)  # (H, N, N)
            chosen_at = scores.argmax(-1).unsqueeze(-1).expand(h, n, nv)  # (H, N, V)
            hard = v.gather(chosen_at, axis=1)
            uniform = averaging @ v  # (H, N, V): the prefix means
            is_uniform = _t(lw.uniform.reshape(h, 1, 1), backend) > 0.5
            chosen = pa.where(is_uniform, uniform, hard)
            w_o = lw.wo.transpose(1, 0, 2).reshape(d, h * nv)
            x = x + chosen.permute(1, 0, 2).reshape(n, h * nv) @ _t(w_o.T, backend)
        gate = x @ _t(lw.w_gate.T, backend)
        value = x @ _t(lw.w_value.T, backend)
        x = x + (gate.relu() * value) @ _t(lw.w_out.T, backend)
    return x @ _t(model.unembedding.T, backend) + _t(model.unembedding_bias, backend)
