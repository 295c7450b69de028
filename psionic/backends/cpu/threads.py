"""How many threads the CPU kernels use, settable and reported.

The kernels parallelise with numba ``prange``; the count applies to the
calling thread (numba keeps it thread-local) and is capped by the pool size
fixed at start-up (``NUMBA_NUM_THREADS``, by default the number of cores).

Importing this module (every kernel module does) makes OpenMP workers sleep
as soon as a parallel region ends (``OMP_WAIT_POLICY=PASSIVE``) unless the
environment says otherwise: on a small shared machine, workers that spin
between kernels take the core the launching thread needs, and launches then
wait milliseconds instead of microseconds. It must be set before the first
parallel kernel loads the OpenMP runtime.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # noqa: E402
from numba.np.ufunc import parallel as numba_parallel  # noqa: E402

from psionic.core.errors import InvalidInput  # noqa: E402


def max_threads() -> int:
    return int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]


def get_num_threads() -> int:
    return int(numba.get_num_threads())


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for kernels launched from this thread (1 <= n <= max_threads())."""
    if not 1 <= n <= max_threads():
        raise InvalidInput(
            f"thread count must be in [1, {max_threads()}], got {n}", threads=n
        )
    numba.set_num_threads(n)


def fast_thread_count() -> tuple[Callable[[], int], Callable[[int], None]]:
    """Getter and setter of this thread's kernel thread count, without argument checks.

    Numba's own setter validates and initialises on every call (about 2 us);
    its raw accessors take a fraction of that. Falls back to the public pair.
    """
    raw_get = getattr(numba_parallel, "_get_num_threads", None)
    raw_set = getattr(numba_parallel, "_set_num_threads", None)
    if raw_get is None or raw_set is None:
        return get_num_threads, set_num_threads
    numba_parallel._launch_threads()  # the raw pair needs the pool started
    return raw_get, raw_set


def thread_facts() -> dict[str, Any]:
    """Thread facts for a RuntimeManifest: count, pool size, threading layer."""
    layer: str
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        layer = str(numba.config.THREADING_LAYER)  # type: ignore[attr-defined]
    return {
        "threads": get_num_threads(),
        "max_threads": max_threads(),
        "threading_layer": layer,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
    }
