"""Where Psionic keeps its state: ``$PSIONIC_HOME``, default ``~/.psionic``."""

from __future__ import annotations

import os
from pathlib import Path


def psionic_home() -> Path:
    """The state directory (keys, stored responses, caches); created 0700 on demand."""
    home = Path(os.environ.get("PSIONIC_HOME") or Path.home() / ".psionic").expanduser()
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    return home
