"""RMSNorm over the rows of a float32 matrix.

Numerics: for each row, ``ss`` is the sum of squares taken with 16 lanes
(lane ``l`` accumulates ``fma(x[k], x[k], acc_l)`` for ``k = l, l + 16, ...``)
and the fixed ``vsum`` tree, then the ``D % 16`` tail elements added one by
one; ``scale = 1 / sqrt(ss / D + eps)`` in float32; ``y = (x * scale) * w``.
Each row is computed alone, so the result never depends on the batch.

>>> import numpy as np
>>> rms_norm(np.full((2, 4), 3.0, np.float32), np.ones(4, np.float32), 0.0).tolist()
[[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]]
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from psionic.backends.cpu import kernel_cache  # noqa: F401  (before any cached kernel)
from psionic.backends.cpu.launch import frozen, launch
from psionic.backends.cpu.simd import vfma, vload, vmul, vsplat, vstore, vsum, vzero
from psionic.core.errors import TensorShapeMismatch


@njit(cache=True, parallel=True)
def _rms_norm(x, w, eps, out):
    d = x.shape[1]
    nch = d // 16
    for m in prange(x.shape[0]):
        xr = x[m]
        acc = vzero()
        for c in range(nch):
            v = vload(xr, 16 * c)
            acc = vfma(v, v, acc)
        ss = vsum(acc)
        for k in range(16 * nch, d):
            ss += xr[k] * xr[k]
        scale = np.float32(1.0) / np.sqrt(ss / np.float32(d) + eps)
        orow = out[m]
        s = vsplat(scale)
        for c in range(nch):
            vstore(orow, 16 * c, vmul(vmul(vload(xr, 16 * c), s), vload(w, 16 * c)))
        for k in range(16 * nch, d):
            orow[k] = (xr[k] * scale) * w[k]


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    """``x / sqrt(mean(x**2) + eps) * weight`` over the last axis of float32 ``(M, D)``."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    weight = np.ascontiguousarray(weight, dtype=np.float32)
    if x.ndim != 2 or weight.shape != (x.shape[1],):
        raise TensorShapeMismatch(
            f"rms_norm of x {x.shape} with weight {weight.shape}: need (M, D) and (D,)",
            x_shape=list(x.shape), weight_shape=list(weight.shape),
        )
    out = np.empty_like(x)
    if x.size:
        launch(_rms_norm, (), 4 * x.size, frozen(x), frozen(weight), np.float32(eps), out)
    return out
