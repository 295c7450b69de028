"""Calling compiled kernels with as little Python in the way as possible.

A decode step launches hundreds of small kernels, so per-call costs count:

- A kernel specialised on a ``KernelFormat`` is typed through a Python
  ``typeof`` hook on every call (about 8 us). ``launch`` looks the compiled
  specialisation up once per (kernel, format, argument writability) and then
  calls its entry point directly (about 1.5 us).
- Waking a sleeping worker thread costs more than a small job takes, so jobs
  under ``SERIAL_MACS`` multiply-adds run on the calling thread alone. The
  kernels' results do not depend on the thread count.
- Numba compiles read-only and writable arrays separately; callers pass
  inputs through ``frozen`` so each kernel is compiled once, for read-only
  inputs (weights arrive read-only from memory-mapped files anyway).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from numba import types

from psionic.backends.cpu.formats import KernelFormat
from psionic.backends.cpu.threads import fast_thread_count

SERIAL_MACS = 1 << 18  # smaller jobs run on the calling thread alone

_ENTRIES: dict[tuple[Any, ...], Callable[..., Any]] = {}
_get_threads, _set_threads = fast_thread_count()


def frozen(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a`` (no copy)."""
    if not a.flags.writeable:
        return a
    view = a.view()
    view.flags.writeable = False
    return view


def _entry(kernel: Any, args: tuple[Any, ...]) -> Callable[..., Any]:
    """The compiled entry point for these argument types (compiling on first use)."""
    kernel(*args)
    want = tuple(
        types.IntegerLiteral(a.code) if isinstance(a, KernelFormat) else numba.typeof(a)
        for a in args
    )
    compiled = kernel.overloads.get(want)
    # If numba ever types the call differently, fall back to the dispatcher itself.
    return compiled.entry_point if compiled is not None else kernel


def launch(kernel: Any, key: tuple[Any, ...], macs: int, *args: Any) -> None:
    """Run ``kernel(*args)``.

    ``key`` must tell apart every set of argument *types* the call site can
    produce (format code, tuple lengths; inputs go through ``frozen``); ``macs``,
    the job's multiply-adds, decides serial or threaded.
    """
    full_key = (kernel, *key)
    entry = _ENTRIES.get(full_key)
    threads = _get_threads()
    serial = macs < SERIAL_MACS and threads > 1
    if serial:
        _set_threads(1)
    try:
        if entry is None:
            _ENTRIES[full_key] = _entry(kernel, args)
        else:
            entry(*args)
    finally:
        if serial:
            _set_threads(threads)
