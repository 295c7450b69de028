"""Load every kernel a decoder step needs before the first real step, on tiny inputs.

Loading a compiled kernel (from numba's cache, or compiling it) runs the
LLVM linker, which pages in tens of MiB of compiler code; a model's first
step would otherwise do that while also paging in every weight. Warming up
first lets the caller release the compiler's pages (``compiler_pages``)
before the weights are read, so the two never count together.

Warm-up calls the public kernel functions themselves, with inputs of the same
types a model step passes (C-contiguous float32 activations, each weight
format's packed rows), so it binds exactly the specialisations ``launch``
will call later and no others.

>>> import numpy as np
>>> from psionic.core.dtypes import DType
>>> w = QuantMatrix.from_array(DType.get("f32"), np.eye(16, dtype=np.float32))
>>> warm_up([w], head_dims=(16,))
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from psionic.backends.cpu.attention import attention
from psionic.backends.cpu.matmul import SMALL_M, get_rows, matmul
from psionic.backends.cpu.norm import rms_norm
from psionic.backends.quant_matrix import QuantMatrix

SAMPLE_ROWS = 4  # weight rows each format is warmed up on


def sample_rows(w: QuantMatrix) -> QuantMatrix:
    """The first few rows of ``w``, a view over the same bytes (only their pages are read)."""
    rows = min(SAMPLE_ROWS, w.rows)
    return QuantMatrix(w.dtype, (rows, w.cols), w.data[:rows])


def warm_up(matrices: Iterable[QuantMatrix], head_dims: Iterable[int] = ()) -> None:
    """Bind the matmul paths (decode and prefill) and row gather of each matrix's format,
    RMSNorm, and attention for each head dimension (those the kernel vectorises)."""
    seen: set[str] = set()
    for w in matrices:
        if w.dtype.name in seen or w.rows == 0 or w.cols % 16:
            continue
        seen.add(w.dtype.name)
        small = sample_rows(w)
        for m in (1, SMALL_M):
            matmul(np.zeros((m, w.cols), np.float32), small)
        get_rows(small, [0])
    rms_norm(np.ones((1, 16), np.float32), np.ones(16, np.float32), 1e-6)
    for d in set(head_dims):
        if d % 16 == 0 and d > 0:
            q = np.zeros((1, 1, d), np.float32)
            attention(q, q, q, scale=1.0)
