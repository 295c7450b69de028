"""Work splitting for the cpu backend: matmuls over a fixed pool of threads.

BLAS's own threads wake and join on every call and spin while they wait; on
small or batched products, and on a busy machine, that costs more than the
product. Instead BLAS runs one thread per product and the output's leading
axis is cut into one block per pool thread, each block computed in place.
numpy releases the GIL inside ufuncs and BLAS, so the blocks run at once.
Each output element is always computed by the same single-thread code for a
given thread count, so results are reproducible. (Elementwise ops stay on one
thread: splitting them measured no faster on the 2-core reference machine.)

>>> import numpy as np
>>> a = np.ones((256, 256), np.float32)
>>> bool((parallel_matmul(a, a) == 256).all())
True
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

import numpy as np

SPLIT_FLOPS = 1 << 22  # smaller products run on the calling thread


class _Threads:
    """The pool size (mutable: ``set_num_threads`` changes it; the pool is rebuilt to match)."""

    def __init__(self) -> None:
        self.count = max(1, int(os.environ.get("PSIONIC_NUM_THREADS", os.cpu_count() or 1)))
        self._pool: ThreadPoolExecutor | None = None
        self._pool_size = 0

    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None or self._pool_size != self.count:
            self._pool = ThreadPoolExecutor(self.count, thread_name_prefix="psionic-cpu")
            self._pool_size = self.count
        return self._pool


THREADS = _Threads()


def set_num_threads(n: int) -> None:
    THREADS.count = max(1, int(n))


@cache
def _blas() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _bounds(n_rows: int) -> list[tuple[int, int]]:
    edges = np.linspace(0, n_rows, THREADS.count + 1).astype(int)
    return [(int(lo), int(hi)) for lo, hi in zip(edges[:-1], edges[1:], strict=True) if hi > lo]


def _run(jobs: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]) -> None:
    pool = THREADS.pool()
    futures = [pool.submit(fn, *args, **kwargs) for fn, args, kwargs in jobs[1:]]
    fn, args, kwargs = jobs[0]
    fn(*args, **kwargs)  # the calling thread takes the first block
    for f in futures:
        f.result()


def blas_ready(x: np.ndarray) -> np.ndarray:
    """``x`` if its matrices are row- or column-contiguous (BLAS takes them as they are), else a
    C-contiguous copy: numpy's matmul falls back to a slow loop for other strides."""
    if x.ndim < 2 or x.flags.c_contiguous or x.swapaxes(-1, -2).flags.c_contiguous:
        return x
    return np.ascontiguousarray(x)


def _splits_on_axis0(a: np.ndarray, b: np.ndarray, out_shape: tuple[int, ...]) -> bool:
    """Whether rows (2-D) or batch entries (leading axis) of ``a`` map to the output's axis 0."""
    if a.ndim == 2:
        return b.ndim == 2
    return a.ndim == len(out_shape) and (b.ndim < a.ndim or b.shape[0] == a.shape[0])


def parallel_matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` (numpy's rules), single-thread BLAS per block, blocks over the pool."""
    a, b = blas_ready(a), blas_ready(b)
    with _blas().limit(limits=1, user_api="blas"):
        if THREADS.count == 1 or a.ndim < 2 or b.ndim < 2:
            return np.matmul(a, b, out=out)
        out_shape = (*np.broadcast_shapes(a.shape[:-2], b.shape[:-2]), a.shape[-2], b.shape[-1])
        flops = 2 * a.shape[-2] * a.shape[-1] * b.shape[-1] * int(np.prod(out_shape[:-2]))
        if flops < SPLIT_FLOPS or out_shape[0] < THREADS.count or not _splits_on_axis0(a, b, out_shape):
            return np.matmul(a, b, out=out)
        if out is None:
            out = np.empty(out_shape, np.result_type(a, b))
        batched_b = b.ndim == a.ndim and a.ndim > 2
        _run([(np.matmul, (a[lo:hi], b[lo:hi] if batched_b else b), {"out": out[lo:hi]})
              for lo, hi in _bounds(out_shape[0])])
        return out
