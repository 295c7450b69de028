"""The CPU backend: numpy plus numba kernels, the reference every other backend answers to.

Its kernels live in ``psionic.backends.cpu.ops`` (``matmul``, ``get_rows``,
``rms_norm``, ``attention``, thread control); importing this package loads
neither numba nor any kernel.
"""

from __future__ import annotations

from psionic.backends import Backend

# Weight formats the matmul and row-gather kernels decode (see formats.py).
MATMUL_DTYPES = (
    "f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q5_k", "q6_k",
)

CPU_BACKEND = Backend(
    name="cpu",
    device="cpu",
    matmul_dtypes=frozenset(MATMUL_DTYPES),
    ops_module="psionic.backends.cpu.ops",
)
