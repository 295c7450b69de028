"""The CPU backend's kernels, in one namespace.

>>> import numpy as np
>>> rms_norm(np.ones((1, 16), np.float32), np.full(16, 2.0, np.float32), 0.0).tolist()[0][:2]
[2.0, 2.0]
"""

from __future__ import annotations

from psionic.backends.cpu.attention import attention
from psionic.backends.cpu.matmul import get_rows, matmul
from psionic.backends.cpu.norm import rms_norm
from psionic.backends.cpu.threads import get_num_threads, set_num_threads, thread_facts

__all__ = [
    "attention", "get_num_threads", "get_rows", "matmul", "rms_norm", "set_num_threads",
    "thread_facts",
]
