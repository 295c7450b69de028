"""Where Psionic keeps its state: ``$PSIONIC_HOME``, default ``~/.psionic``."""

from __future__ import annotations

import os
from pathlib import Path


def psionic_home() -> Path:
    """The state directory (keys, stored responses, caches); created 0700 on demand."""
    home = Path(os.environ.get("PSIONIC_HOME") or Path.home() / ".psionic").expanduser()
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    return home


def psionic_cache() -> Path:
    """Rebuildable files (assembled model files, numba caches): ``$PSIONIC_CACHE``,
    default ``~/.cache/psionic``. Kept apart from the home so tests can isolate
    state without rebuilding caches."""
    cache = Path(os.environ.get("PSIONIC_CACHE") or Path.home() / ".cache" / "psionic").expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    return cache
