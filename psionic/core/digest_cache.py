"""File digests remembered by (path, size, mtime), so a 100 MB model is hashed once."""

from __future__ import annotations

import json
import os
from pathlib import Path

from psionic.core.atomic import atomic_write_bytes
from psionic.core.digest import digest_file
from psionic.core.home import psionic_cache


def cached_file_digest(path: str | os.PathLike[str]) -> str:
    """``digest_file(path)``, reused while the file's size and mtime are unchanged."""
    real = Path(path).resolve()
    stat = real.stat()
    key = f"{real}|{stat.st_size}|{stat.st_mtime_ns}"
    store = psionic_cache() / "file_digests.json"
    try:
        table = json.loads(store.read_text())
    except (OSError, ValueError):
        table = {}
    if key in table:
        return str(table[key])
    digest = digest_file(real)
    table[key] = digest
    atomic_write_bytes(store, json.dumps(table).encode())
    return digest
