"""Give back the resident pages of the kernel compiler once every kernel is loaded.

Importing numba initialises LLVM, whose shared library (libllvmlite, about
170 MiB) then has around 90 MiB of code resident in this process: its
static initialisers and, later, the linker that loads cached kernels touch
pages all over it. Compiled kernels do not call into that library, so once
they are loaded (``warmup.warm_up``) those pages only inflate resident memory.

``release_compiler_pages`` unmaps them with ``madvise(MADV_DONTNEED)``. Only
mappings that can be refetched unchanged are touched: read-only (never
writable) mappings of the library with no private or dirty pages, i.e. code
and constants exactly as they lie in the file. If LLVM runs again (a kernel
not warmed up, a new format), the kernel reads the pages back from the file
on demand. Where ``/proc/self/smaps`` or ``madvise`` is missing (not Linux),
nothing is released.

>>> release_compiler_pages() >= 0.0
True
"""

from __future__ import annotations

import ctypes
import re
from dataclasses import dataclass
from pathlib import Path

MADV_DONTNEED = 4  # Linux
SMAPS = Path("/proc/self/smaps")
_HEADER = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$")
# Fields that must be zero: any such page differs from the file and would be lost.
_CHANGED = ("Anonymous", "Private_Dirty", "Shared_Dirty", "Swap")


@dataclass(frozen=True, slots=True)
class Mapping:
    """One region of /proc/self/smaps: addresses, permissions, path and its kB fields."""

    start: int
    end: int
    perms: str
    path: str
    fields: dict[str, int]

    @property
    def refetchable(self) -> bool:
        """Read-only file pages identical to the file: dropping them loses nothing."""
        return "w" not in self.perms and all(self.fields.get(k, 0) == 0 for k in _CHANGED)


def read_smaps(text: str) -> list[Mapping]:
    """Parse smaps text into mappings (kB fields as integers)."""
    maps: list[Mapping] = []
    for line in text.splitlines():
        head = _HEADER.match(line)
        if head:
            lo, hi, perms, path = head.groups()
            maps.append(Mapping(int(lo, 16), int(hi, 16), perms, path.strip(), {}))
        elif maps and line.endswith(" kB"):
            key, _, value = line.partition(":")
            maps[-1].fields[key] = int(value.split()[0])
    return maps


def compiler_library() -> str | None:
    """Path of the LLVM library numba loaded, or None if it is not loaded."""
    import sys

    ffi = sys.modules.get("llvmlite.binding.ffi")
    name = getattr(getattr(ffi, "lib", None), "_name", None) if ffi is not None else None
    return str(name) if name else None


def resident_mib(path: str) -> float:
    """MiB of the file at ``path`` resident in this process (0 where smaps is missing)."""
    try:
        maps = read_smaps(SMAPS.read_text())
    except OSError:
        return 0.0
    return sum(m.fields.get("Rss", 0) for m in maps if m.path == path) / 1024


def release_library_pages(path: str) -> float:
    """Unmap the refetchable resident pages of the library at ``path``; MiB released."""
    try:
        maps = read_smaps(SMAPS.read_text())
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return 0.0
    madvise = libc.madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    released_kb = 0
    for m in maps:
        if m.path != path or not m.refetchable or not m.fields.get("Rss", 0):
            continue
        if madvise(m.start, m.end - m.start, MADV_DONTNEED) == 0:
            released_kb += m.fields["Rss"]
    return released_kb / 1024


def release_compiler_pages() -> float:
    """Release the compiler library's refetchable resident pages; MiB released (0 if none)."""
    path = compiler_library()
    return release_library_pages(path) if path else 0.0
