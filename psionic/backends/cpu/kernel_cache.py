"""On-disk caching of compiled kernels that notices edits to *any* kernel source.

Numba's cache checks only the file that defines a function, but a kernel here
inlines code from its neighbours (``formats.py``, ``simd.py``, ...): after an
edit to one of them, a stale compiled kernel would load and silently compute
the old thing. This locator stamps every cached kernel of this package with a
digest of all its ``.py`` files, so any edit invalidates them all. Files go
where numba would put them (``NUMBA_CACHE_DIR`` if set, else ``__pycache__``
beside the sources).

>>> len(sources_digest())
32
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from numba.core import caching, config

KERNEL_DIR = Path(__file__).resolve().parent


def sources_digest(directory: Path = KERNEL_DIR) -> bytes:
    """sha256 over the names and bytes of the ``.py`` files in ``directory``, in name order."""
    h = hashlib.sha256()
    for path in sorted(directory.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.digest()


_digest_memo: dict[tuple[Any, ...], bytes] = {}


def _current_digest() -> bytes:
    stats = tuple(
        (p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(KERNEL_DIR.glob("*.py"))
    )
    if stats not in _digest_memo:
        _digest_memo[stats] = sources_digest()
    return _digest_memo[stats]


class KernelCacheLocator(caching.InTreeCacheLocator):
    """Cache locator for this package's kernels: stamped with all kernel sources."""

    def __init__(self, py_func: Any, py_file: str) -> None:
        super().__init__(py_func, py_file)
        cache_dir = getattr(config, "CACHE_DIR", "")
        if cache_dir:
            sub = self.get_suitable_cache_subpath(py_file)
            self._cache_path = os.path.join(cache_dir, sub)

    def get_source_stamp(self) -> Any:
        return _current_digest()

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> KernelCacheLocator | None:
        if Path(py_file).resolve().parent != KERNEL_DIR:
            return None
        return super().from_function(py_func, py_file)


if KernelCacheLocator not in caching.CacheImpl._locator_classes:
    caching.CacheImpl._locator_classes.insert(0, KernelCacheLocator)
